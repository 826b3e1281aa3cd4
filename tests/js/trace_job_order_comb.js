// tests/js/trace_job_order_comb.js - the combinators' job counts for docs/job-order.md
// ("Combinators"), measured as tests/js/trace_job_order.js measures them: a microtask that
// re-queues itself counts rounds; each case prints the round in which its last reaction ran
// (or "never"). tests/compare.sh diffs this output against tests/trace_job_order_comb.c.
'use strict';
let tick = 0;
function ticker() { tick++; if (tick < 40) queueMicrotask(ticker); }
function err(code) { const e = new Error(code); e.code = code; return e; }
function fmtErr(e) {
  if (e instanceof AggregateError) return `EAGGREGATE[${e.errors.map((x) => x.code).join(',')}]`;
  return e.code;
}
const fmtList = (v) => `[${v.join(',')}]`;
const fmtSettled = (r) =>
  `[${r.map((x) => (x.status === 'fulfilled' ? `ok:${x.value}` : `err:${x.reason.code}`)).join(',')}]`;
function pending() {
  let res, rej;
  const p = new Promise((a, b) => { res = a; rej = b; });
  return { p, res, rej };
}

const cases = [];
function def(name, fn) { cases.push([name, fn]); }
const R = (v) => Promise.resolve(v);
const J = (code) => Promise.reject(err(code));

// all
def('all_resolved', (rec) => Promise.all([R(1), R(2)]).then((v) => rec(fmtList(v))));
def('all_pending', (rec) => {
  const a = pending(), b = pending();
  Promise.all([a.p, b.p]).then((v) => rec(fmtList(v)));
  b.res(2); a.res(1);
});
def('all_rejected', (rec) => Promise.all([R(1), J('EINVAL')]).catch((e) => rec(fmtErr(e))));
def('all_pending_rejected', (rec) => {
  const a = pending(), b = pending();
  Promise.all([a.p, b.p]).catch((e) => rec(fmtErr(e)));
  b.rej(err('EPERM'));
});
def('all_empty', (rec) => Promise.all([]).then((v) => rec(fmtList(v))));
def('all_derived_input', (rec) => Promise.all([R(1).then((v) => v + 1), R(3)]).then((v) => rec(fmtList(v))));
// allSettled
def('allSettled_resolved', (rec) => Promise.allSettled([R(1), R(2)]).then((v) => rec(fmtSettled(v))));
def('allSettled_pending', (rec) => {
  const a = pending(), b = pending();
  Promise.allSettled([a.p, b.p]).then((v) => rec(fmtSettled(v)));
  b.rej(err('EPERM')); a.res(1);
});
def('allSettled_rejected', (rec) => Promise.allSettled([J('EINVAL'), R(2)]).then((v) => rec(fmtSettled(v))));
def('allSettled_empty', (rec) => Promise.allSettled([]).then((v) => rec(fmtSettled(v))));
// race
def('race_resolved', (rec) => Promise.race([R(1), R(2)]).then((v) => rec(String(v))));
def('race_pending', (rec) => {
  const a = pending(), b = pending();
  Promise.race([a.p, b.p]).then((v) => rec(String(v)));
  b.res(2); a.res(1);
});
def('race_rejected', (rec) => Promise.race([J('EINVAL'), R(2)]).catch((e) => rec(fmtErr(e))));
def('race_empty', (rec) => Promise.race([]).then((v) => rec(String(v))));
// any
def('any_resolved', (rec) => Promise.any([R(1), R(2)]).then((v) => rec(String(v))));
def('any_pending', (rec) => {
  const a = pending(), b = pending();
  Promise.any([a.p, b.p]).then((v) => rec(String(v)));
  a.rej(err('EPERM')); b.res(2);
});
def('any_rejected_then_resolved', (rec) => Promise.any([J('EINVAL'), R(2)]).then((v) => rec(String(v))));
def('any_rejected', (rec) => Promise.any([J('EINVAL'), J('EPERM')]).catch((e) => rec(fmtErr(e))));
def('any_pending_rejected', (rec) => {
  const a = pending(), b = pending();
  Promise.any([a.p, b.p]).catch((e) => rec(fmtErr(e)));
  b.rej(err('EPERM')); a.rej(err('EBUSY'));
});
def('any_empty', (rec) => Promise.any([]).catch((e) => rec(fmtErr(e))));

let printed = false;
function run(i) {
  if (i > 0 && !printed) console.log(`${cases[i - 1][0]} never`);
  if (i >= cases.length) return;
  const [name, fn] = cases[i];
  tick = 0;
  printed = false;
  queueMicrotask(ticker);
  fn((s) => { printed = true; console.log(`${name} round=${tick} value=${s}`); });
  setTimeout(() => run(i + 1), 1);
}
run(0);
