// tests/js/trace_promise1.js - the JavaScript twin of tests/trace_promise1.c.
// Three (and more) promise chains interleaved in one microtask drain: adoption of a
// resolved and of a pending promise returned from a reaction, finally on both paths
// (one returning a promise), errors thrown in reactions, recoveries in catch, and
// queueMicrotask calls in between. One line per reaction run; tests/compare.sh diffs
// this program's output against the C program's.
'use strict';
const log = (s) => console.log(s);
function E(code) {
    const e = new Error(code);
    e.code = code;
    return e;
}

// The canonical example: node prints 1 2 3 4 A 5.
const p = Promise.resolve();
p.then(() => { log('1'); return Promise.resolve(); }).then(() => log('A'));
p.then(() => log('2')).then(() => log('3')).then(() => log('4')).then(() => log('5'));

// Chain b: adopts a pending promise (settled by a microtask), throws, recovers, and a
// finally that returns a resolved promise.
let resolveQ;
const q = new Promise((resolve) => { resolveQ = resolve; });
Promise.resolve(10)
    .then((v) => { log('b1 ' + v); return q; })
    .then((v) => { log('b2 ' + v); throw E('EBUSY'); })
    .catch((e) => { log('b3 catch ' + e.code); return 5; })
    .finally(() => { log('b4 finally'); return Promise.resolve(99); })
    .then((v) => log('b5 ' + v));

// Chain c: the rejection path through then (skipped), finally, catch that throws again,
// a then with both handlers that recovers with a resolved promise.
Promise.reject(E('EINVAL'))
    .then((v) => log('c skipped ' + v))
    .finally(() => { log('c1 finally'); })
    .catch((e) => { log('c2 catch ' + e.code); throw E('ERANGE'); })
    .then((v) => log('c skipped ' + v), (e) => { log('c3 onRejected ' + e.code); return Promise.resolve(3); })
    .then((v) => log('c4 ' + v));

// Chain d: a finally whose returned promise rejects replaces the value; a finally that
// throws replaces an error; recovery at the end.
Promise.resolve(1)
    .then((v) => { log('d1 ' + v); return v + 1; })
    .finally(() => { log('d2 finally'); return Promise.reject(E('EAGAIN')); })
    .then((v) => log('d skipped ' + v))
    .catch((e) => { log('d3 catch ' + e.code); throw E('ETIMEDOUT'); })
    .finally(() => { log('d4 finally'); throw E('EPERM'); })
    .catch((e) => { log('d5 catch ' + e.code); return 4; })
    .then((v) => log('d6 ' + v));

// Microtasks queued before, between and inside.
queueMicrotask(() => {
    log('m1');
    queueMicrotask(() => { log('m2'); resolveQ(20); });
});
p.then(() => {
    log('e1');
    queueMicrotask(() => log('m3'));
    return q;
}).then((v) => log('e2 ' + v));
queueMicrotask(() => log('m4'));
