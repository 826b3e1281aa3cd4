// tests/js/trace_promise3.js - the JavaScript twin of tests/trace_promise3.c.
// Fan-out and adoption: several thens on one promise (each its own outcome), pass-through
// (then and finally without handlers), several chains adopting the same pending promise,
// resolve functions called with a resolved, a pending and a rejected promise, nested
// adoption, throws recovered by catch, finally on both paths, microtasks in between (one
// of which settles the shared promise). One line per reaction run.
'use strict';
const log = (s) => console.log(s);
function E(code) {
    const e = new Error(code);
    e.code = code;
    return e;
}

let resolveShared;
const shared = new Promise((resolve) => { resolveShared = resolve; });
const root = Promise.resolve(0);

// Fan-out from root, in registration order.
root.then((v) => { log('f1 ' + v); return shared; }).then((v) => log('f1b ' + v));
root.then((v) => { log('f2 ' + v); throw E('EBUSY'); })
    .then(undefined, undefined)
    .catch((e) => { log('f2 catch ' + e.code); return shared; })
    .then((v) => log('f2b ' + v));
root.then(undefined)
    .finally()
    .then((v) => { log('f3 ' + v); return root.then((w) => { log('f3 inner ' + w); return shared; }); })
    .then((v) => log('f3b ' + v));
root.finally(() => { log('f4 finally'); return shared; }).then((v) => log('f4b ' + v));

// Resolve functions called with promises.
let r1, r2, r3;
const d1 = new Promise((resolve) => { r1 = resolve; });
const d2 = new Promise((resolve) => { r2 = resolve; });
const d3 = new Promise((resolve) => { r3 = resolve; });
d1.then((v) => log('d1 ' + v));
d2.then((v) => log('d2 ' + v));
d3.catch((e) => { log('d3 catch ' + e.code); throw E('ERANGE'); })
    .finally(() => log('d3 finally'))
    .catch((e) => { log('d3 catch again ' + e.code); return 33; })
    .then((v) => log('d3b ' + v));
r1(Promise.resolve(11));
r2(shared);
r3(Promise.reject(E('EINVAL')));

// Nested adoption: n1 follows n2, which follows n3.
const n3 = Promise.resolve(30);
const n2 = n3.then((v) => { log('n2 ' + v); return n3; });
const n1 = Promise.resolve().then(() => { log('n1'); return n2; });
n1.then((v) => log('n1b ' + v));

// Microtasks, one of which settles `shared`.
queueMicrotask(() => log('m1'));
root.then(() => {
    queueMicrotask(() => { log('m2'); resolveShared(9); });
    log('g1');
});
queueMicrotask(() => log('m3'));
