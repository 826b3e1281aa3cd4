// tests/js/trace_promise2.js - the JavaScript twin of tests/trace_promise2.c.
// Promise chains spread over timers: promises settled from timer callbacks, adoption of a
// resolved and of a pending promise, a finally that waits for a pending promise (and one
// whose promise rejects), errors thrown in reactions and recovered in catch, foreign
// thenables (settling at once, later from a timer, twice, throwing, nesting), and
// queueMicrotask calls from the script, reactions and timer callbacks. One line per
// reaction run.
//
// The order never depends on clock readings: the phases are timers that each start the
// next, and the few sleeps run while the next phase is at least 100 ms away.
'use strict';
const log = (s) => console.log(s);
function E(code) {
    const e = new Error(code);
    e.code = code;
    return e;
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let resolveA, rejectB, resolveLate, resolveGate, fireLater;
const a = new Promise((resolve) => { resolveA = resolve; });
const b = new Promise((_, reject) => { rejectB = reject; });
const late = new Promise((resolve) => { resolveLate = resolve; });

// Chain x: waits for a (phase 1), adopts `late` (phase 3), throws, recovers with a
// resolved promise, finally on the value path.
a.then((v) => { log('x1 ' + v); queueMicrotask(() => log('x1 micro')); return late; })
    .then((v) => { log('x2 ' + v); throw E('EBUSY'); })
    .catch((e) => { log('x3 catch ' + e.code); return Promise.resolve(7); })
    .finally(() => { log('x4 finally'); })
    .then((v) => log('x5 ' + v));

// Chain y: rejected in phase 2; a finally on the error path that waits for a pending
// promise (resolved in phase 4); catch; a finally whose promise rejects after a sleep.
b.finally(() => {
    log('y1 finally');
    return new Promise((resolve) => { resolveGate = resolve; });
})
    .catch((e) => { log('y2 catch ' + e.code); return 2; })
    .finally(() => { log('y3 finally'); return sleep(5).then(() => { log('y3 slept'); throw E('ERANGE'); }); })
    .then((v) => log('y skipped ' + v), (e) => { log('y4 onRejected ' + e.code); return 4; })
    .then((v) => log('y5 ' + v));

// Chain z: foreign thenables.
const now = (v) => ({ then(res) { log('thenable now ' + v); res(v); } });
const twice = (v) => ({ then(res, rej) { log('thenable twice ' + v); res(v); rej(E('EPERM')); res(v + 100); } });
const later = (v) => ({ then(res) { log('thenable later ' + v); fireLater = () => { res(v); res(v + 100); }; } });
const throws = () => ({ then() { log('thenable throws'); throw E('ENOENT'); } });
const throwsAfter = (v) => ({ then(res) { log('thenable resolves then throws ' + v); res(v); throw E('ENOENT'); } });
const nested = (v) => ({ then(res) { log('thenable nested ' + v); res(now(v + 1)); } });
Promise.resolve(1)
    .then((v) => { log('z1 ' + v); return now(v + 1); })
    .then((v) => { log('z2 ' + v); return twice(v + 1); })
    .then((v) => { log('z3 ' + v); return later(v + 1); })
    .then((v) => { log('z4 ' + v); return throws(); })
    .catch((e) => { log('z5 catch ' + e.code); return throwsAfter(5); })
    .then((v) => { log('z6 ' + v); return nested(v + 1); })
    .then((v) => log('z7 ' + v));

// The phases.
function phase1() {
    log('t1');
    queueMicrotask(() => log('t1 micro before'));
    resolveA(1);
    queueMicrotask(() => log('t1 micro after'));
    setTimeout(phase2, 1);
}
function phase2() {
    log('t2');
    rejectB(E('EINVAL'));
    fireLater();
    setTimeout(phase3, 1);
}
function phase3() {
    log('t3');
    resolveLate(3);
    sleep(1).then(() => { log('s1 slept'); queueMicrotask(() => log('s1 micro')); return sleep(1); })
        .then(() => log('s2 slept'));
    setTimeout(phase4, 100);
}
function phase4() {
    log('t4');
    resolveGate(0);
    queueMicrotask(() => log('t4 micro'));
}
setTimeout(phase1, 1);
queueMicrotask(() => log('script micro'));
