// tests/js/trace_unhandled.js - the JavaScript twin of tests/trace_unhandled.c.
// The order of the 'unhandledRejection' and 'rejectionHandled' events within one drain
// (Node's processPromiseRejections): the rejections handled late are reported before the
// new unhandled ones, each kind in the order it happened; a listener's own work (a
// microtask, a new rejection, a handler it attaches) shows up in the next round, after the
// microtasks it queued. Every rejection reason is a one-letter name; the listeners print
// it, and the handlers print what they caught.
//
// Phases (each a drain of its own):
//   script  A B C E J K become unhandled; D is rejected and handled in the same drain (no
//           event). The listener for A queues a microtask, rejects A2, catches C (later in
//           the same batch: Node reports C anyway and never reports it handled) and catches
//           A itself (handled late in the next round, before A2 is reported).
//   t1      B handled late in the timer callback, E and J handled late from a microtask
//           chain, K handled late from the listener for J (same round); F H new in the
//           callback, G new in the chain, L new from the listener for E, M rejected and
//           handled in the chain (no event).
//   t2, t3  two timer callbacks due at the same time: each handles one earlier rejection
//           late and makes a new one; t3 also handles G late from a microtask.
'use strict';
const log = (s) => console.log(s);
const names = new Map();
const p = {};
function rej(name) {
    const q = Promise.reject(name);
    names.set(q, name);
    p[name] = q;
    return q;
}
function handle(name) {
    p[name].catch((r) => log('caught ' + r));
}

process.on('unhandledRejection', (r) => {
    log('unhandled ' + r);
    if (r === 'A') {
        queueMicrotask(() => log('hook A micro'));
        rej('A2');
        handle('C');
        handle('A');
    }
});
process.on('rejectionHandled', (q) => {
    const name = names.get(q);
    log('handled-late ' + name);
    if (name === 'E') rej('L');
    if (name === 'J') handle('K');
});

function t3() {
    log('t3');
    handle('H');
    rej('O');
    queueMicrotask(() => handle('G'));
}
function t2() {
    log('t2');
    handle('F');
    rej('N');
}
function t1() {
    log('t1');
    handle('B');
    rej('F');
    Promise.resolve()
        .then(() => { log('m1'); handle('E'); rej('G'); rej('M'); })
        .then(() => { log('m2'); handle('J'); handle('M'); });
    rej('H');
    setTimeout(t2, 10);
    setTimeout(t3, 10);
}

rej('A');
rej('B');
rej('C');
rej('D');
queueMicrotask(() => handle('D'));
rej('E');
rej('J');
rej('K');
setTimeout(t1, 10);
