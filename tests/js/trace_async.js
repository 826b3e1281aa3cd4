// tests/js/trace_async.js - the JavaScript twin of tests/trace_async.c.
// async functions and await against then-chains in one microtask drain: await of a
// settled and of a pending native promise, the body running synchronously up to its first
// await, `return v` and `return promise` from an async function, an async function
// awaiting another, try/catch around rejected awaits, several async functions awaiting one
// promise. One line per step; tests/compare.sh diffs this program's output against the C
// program's, so the expected order is node's, never typed by hand. Scenarios are separated
// by timers, so each one's microtasks drain on their own.
'use strict';
const log = (s) => console.log(s);
function E(code) {
    const e = new Error(code);
    e.code = code;
    return e;
}
function chain(tag) {
    Promise.resolve()
        .then(() => log(tag + ' x1'))
        .then(() => log(tag + ' x2'))
        .then(() => log(tag + ' x3'))
        .then(() => log(tag + ' x4'))
        .then(() => log(tag + ' x5'));
}

function A() {
    const p = Promise.resolve(0);
    p.then(() => log('A t1')).then(() => log('A t2')).then(() => log('A t3')).then(() => log('A t4'));
    (async () => {
        log('A f start');
        await p;
        log('A f after 1');
        await p;
        log('A f after 2');
        const v = await Promise.resolve(5);
        log('A f after 3 ' + v);
    })();
    log('A sync end');
}

function B() {
    let res;
    const q = new Promise((r) => { res = r; });
    (async () => {
        log('B f start');
        const v = await q;
        log('B f got ' + v);
    })();
    Promise.resolve()
        .then(() => { log('B t1'); res(7); })
        .then(() => log('B t2'))
        .then(() => log('B t3'));
    log('B sync end');
}

async function cVal() { log('C val body'); return 1; }
async function cProm() { log('C prom body'); return Promise.resolve(2); }
async function cAwaitThenProm() { await null; log('C late body'); return Promise.resolve(3); }
function C() {
    cVal().then((v) => log('C val ' + v));
    cProm().then((v) => log('C prom ' + v));
    cAwaitThenProm().then((v) => log('C late ' + v));
    chain('C');
    log('C sync end');
}

async function dInner() { log('D inner start'); await Promise.resolve(); log('D inner end'); return 3; }
async function dOuter() { log('D outer start'); const v = await dInner(); log('D outer got ' + v); return v + 1; }
function D() {
    dOuter().then((v) => log('D outer result ' + v));
    chain('D');
    log('D sync end');
}

async function eFn() {
    try { await Promise.reject(E('ERANGE')); } catch (e) { log('E caught ' + e.code); }
    try {
        await Promise.resolve().then(() => { throw E('EBUSY'); });
    } catch (e) { log('E caught2 ' + e.code); }
    throw E('EINVAL');
}
function E_() {
    eFn().catch((e) => log('E outer ' + e.code));
    chain('E');
    log('E sync end');
}

function F() {
    let res;
    const q = new Promise((r) => { res = r; });
    for (const n of [1, 2, 3]) (async () => { const v = await q; log('F co' + n + ' ' + v); })();
    q.then((v) => log('F then ' + v));
    (async () => { const v = await q; log('F co4 ' + v); })();
    res(9);
    log('F sync end');
}

async function gInner(n) { log('G inner ' + n); await null; log('G inner ' + n + ' resumed'); return n; }
function G() {
    // an async function that starts others without awaiting at once, then awaits them in turn
    (async () => {
        const a = gInner(1);
        const b = gInner(2);
        log('G started both');
        const va = await a;
        log('G got ' + va);
        const vb = await b;
        log('G got ' + vb);
    })();
    chain('G');
    log('G sync end');
}

function H() {
    // a microtask queued between awaits runs before the coroutine resumes
    (async () => {
        log('H start');
        await null;
        log('H 1');
        queueMicrotask(() => log('H micro'));
        await null;
        log('H 2');
        await null;
        log('H 3');
        await null;
        log('H 4');
    })();
    Promise.resolve().then(() => log('H x1'));
    log('H sync end');
}

const scenarios = [A, B, C, D, E_, F, G, H];
let i = 0;
function next() {
    if (i === scenarios.length) return;
    log('-- ' + i);
    scenarios[i++]();
    setTimeout(next, 5);
}
next();
