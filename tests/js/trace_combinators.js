// tests/js/trace_combinators.js - the Node.js side of tests/trace_combinators.c: the same
// program with native Promise.all / allSettled / race / any, one line per reaction.
// tests/compare.sh runs both and diffs them; no expected order is typed by hand.
//
// Only orders Node.js defines are compared: every phase starts inside a setTimeout
// callback, and every timer that settles an input has a delay of its own, at least 20 ms
// from any other timer created at the same time, so deadlines are ordered whatever the
// clock does. Inputs are numbers; errors carry a `code` (the C side prints vow_err_name).
//
// Phase A: inputs already settled, interleaved with plain then chains and queueMicrotask;
//          empty inputs; derived inputs; chains on a result.
// Phase B: inputs settled by timers in an order unlike their input order; each timer
//          callback also starts a then chain and queues a microtask, so the combinators'
//          jobs interleave with them.
// Phase C: pending and settled inputs mixed, one promise given to two combinators, and
//          combinators nested as inputs of others.
'use strict';
const log = (s) => console.log(s);
function err(code) { const e = new Error(code); e.code = code; return e; }

function fmtErr(e) {
  if (e instanceof AggregateError) return `EAGGREGATE [${e.errors.map((x) => x.code).join(',')}]`;
  return e.code;
}
const fmtList = (v) => `[${v.join(',')}]`;
const fmtSettled = (r) =>
  `[${r.map((x) => (x.status === 'fulfilled' ? `ok:${x.value}` : `err:${x.reason.code}`)).join(',')}]`;

// Reactions, one then (two handlers) per result, as the C side registers them.
function onList(p, label) {
  return p.then((v) => log(`${label} ok ${fmtList(v)}`), (e) => log(`${label} err ${fmtErr(e)}`));
}
function onSettled(p, label) {
  return p.then((v) => log(`${label} ok ${fmtSettled(v)}`), (e) => log(`${label} err ${fmtErr(e)}`));
}
function onValue(p, label) {
  return p.then((v) => log(`${label} ok ${v}`), (e) => log(`${label} err ${fmtErr(e)}`));
}

function afterChain(ms) {
  Promise.resolve().then(() => log(`  after ${ms} step 1`)).then(() => log(`  after ${ms} step 2`));
  queueMicrotask(() => log(`  micro after ${ms}`));
}
function later(ms, v) {
  return new Promise((res) => setTimeout(() => {
    log(`  timer ${ms} fulfils ${v}`);
    res(v);
    afterChain(ms);
  }, ms));
}
function laterReject(ms, code) {
  return new Promise((_res, rej) => setTimeout(() => {
    log(`  timer ${ms} rejects ${code}`);
    rej(err(code));
    afterChain(ms);
  }, ms));
}

function phaseA() {
  log('A start');
  onList(Promise.all([Promise.resolve(1), Promise.resolve(2), Promise.resolve(3)]), 'A all');
  Promise.resolve(0)
    .then(() => log('A chain 1'))
    .then(() => log('A chain 2'))
    .then(() => log('A chain 3'))
    .then(() => log('A chain 4'));
  queueMicrotask(() => {
    log('A micro 1');
    queueMicrotask(() => log('A micro 1.1'));
  });
  onSettled(Promise.allSettled([Promise.resolve(4), Promise.reject(err('EPERM'))]), 'A allSettled');
  onValue(Promise.race([Promise.resolve(5), Promise.reject(err('EBUSY'))]), 'A race');
  onValue(Promise.race([Promise.reject(err('EINVAL')), Promise.resolve(6)]), 'A race rejected first');
  onValue(Promise.any([Promise.reject(err('EPERM')), Promise.resolve(7), Promise.resolve(8)]), 'A any');
  onValue(Promise.any([Promise.reject(err('EPERM')), Promise.reject(err('EBUSY'))]), 'A any all rejected');
  onList(Promise.all([Promise.resolve(1), Promise.reject(err('ERANGE')), Promise.reject(err('EINVAL'))]),
    'A all rejected');
  onList(Promise.all([]), 'A all empty');
  onSettled(Promise.allSettled([]), 'A allSettled empty');
  onValue(Promise.any([]), 'A any empty');
  onValue(Promise.race([]), 'A race empty (never)');
  onList(Promise.all([Promise.resolve(1).then((v) => v + 10), Promise.resolve(2)]), 'A all derived input');
  Promise.race([Promise.resolve(9)]).then((v) => v + 1).then((v) => log(`A race then ${v}`));
  queueMicrotask(() => log('A micro 2'));
  setTimeout(phaseB, 50);
}

function phaseB() {
  log('B start');
  onList(Promise.all([later(100, 1), later(20, 2), later(60, 3)]), 'B all');
  onSettled(Promise.allSettled([laterReject(80, 'EPERM'), later(40, 5)]), 'B allSettled');
  onValue(Promise.race([later(120, 6), laterReject(140, 'EBUSY')]), 'B race');
  onValue(Promise.any([laterReject(160, 'EINVAL'), later(200, 8), later(180, 9)]), 'B any');
  onValue(Promise.any([laterReject(260, 'EPERM'), laterReject(220, 'EBUSY'), laterReject(240, 'EINVAL')]),
    'B any all rejected');
  onList(Promise.all([later(320, 10), laterReject(280, 'ERANGE'), laterReject(300, 'EAGAIN')]),
    'B all rejected');
  onValue(Promise.race([later(360, 11), laterReject(340, 'EBUSY')]), 'B race rejected first');
  setTimeout(phaseC, 420);
}

function phaseC() {
  log('C start');
  const shared = later(20, 12);
  onValue(Promise.race([shared, Promise.resolve(13)]), 'C race settled beats pending');
  onSettled(Promise.allSettled([shared, Promise.reject(err('EPERM')), later(40, 14)]), 'C allSettled shared');
  onList(Promise.all([Promise.resolve(15), later(60, 16)]), 'C all mixed');
  onList(Promise.any([Promise.all([later(80, 17), later(100, 18)]), Promise.race([later(120, 19)])]),
    'C any of all and race');
  onValue(Promise.race([Promise.any([laterReject(140, 'EBUSY'), later(160, 20)]), later(180, 21)]),
    'C race of any');
  Promise.resolve(0).then(() => log('C chain 1')).then(() => log('C chain 2'));
  queueMicrotask(() => log('C micro'));
}

setTimeout(phaseA, 1);
