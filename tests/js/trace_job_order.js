// The job counts of docs/job-order.md, measured the same way as tests/trace_job_order.c:
// a microtask that re-queues itself counts rounds; each case prints the round in which its
// last reaction ran. tests/compare.sh diffs this output against the C program's.
'use strict';
let tick = 0;
function ticker() { tick++; if (tick < 40) queueMicrotask(ticker); }
function err(name) { const e = new Error(name); e.code = name; return e; }
const cases = [];
function def(name, fn) { cases.push([name, fn]); }
const fmt = (v) => (v === undefined ? 'none' : String(v));

def('then_resolved', (rec) => Promise.resolve(1).then(rec));
def('then_pending_then_resolve', (rec) => { let res; const p = new Promise(r => { res = r; }); p.then(rec); res(2); });
def('then_then', (rec) => Promise.resolve(1).then(v => v + 1).then(rec));
def('then_passthrough_value', (rec) => Promise.resolve(3).then(undefined).then(rec));
def('catch_rejected', (rec) => Promise.reject(err('EINVAL')).catch(e => rec(e.code)));
def('then_passthrough_rejection', (rec) => Promise.reject(err('EINVAL')).then(v => v).catch(e => rec(e.code)));
def('catch_passthrough_value', (rec) => Promise.resolve(4).catch(() => 0).then(rec));
def('throw_in_then', (rec) => Promise.resolve(1).then(() => { throw err('ERANGE'); }).catch(e => rec(e.code)));
def('return_resolved_promise', (rec) => Promise.resolve(1).then(() => Promise.resolve(5)).then(rec));
def('return_rejected_promise', (rec) => Promise.resolve(1).then(() => Promise.reject(err('EPERM'))).catch(e => rec(e.code)));
def('return_pending_promise', (rec) => Promise.resolve(1).then(() => Promise.resolve(6).then(v => v + 1)).then(rec));
def('resolve_with_promise', (rec) => { let res; const p = new Promise(r => { res = r; }); p.then(rec); res(Promise.resolve(8)); });
def('resolve_with_pending_promise', (rec) => { let res; const p = new Promise(r => { res = r; }); p.then(rec); res(Promise.resolve(9).then(v => v)); });
def('finally_fulfilled', (rec) => Promise.resolve(10).finally(() => {}).then(rec));
def('finally_rejected', (rec) => Promise.reject(err('EBUSY')).finally(() => {}).catch(e => rec(e.code)));
def('finally_returns_promise', (rec) => Promise.resolve(11).finally(() => Promise.resolve(0).then(v => v)).then(rec));
def('finally_throws', (rec) => Promise.resolve(12).finally(() => { throw err('EAGAIN'); }).catch(e => rec(e.code)));
def('finally_returns_rejected', (rec) => Promise.resolve(13).finally(() => Promise.reject(err('EINTR'))).catch(e => rec(e.code)));
def('thenable_sync', (rec) => Promise.resolve(1).then(() => ({ then(r) { r(14); } })).then(rec));
def('thenable_nested', (rec) => Promise.resolve(1).then(() => ({ then(r) { r({ then(r2) { r2(15); } }); } })).then(rec));
def('thenable_rejects', (rec) => Promise.resolve(1).then(() => ({ then(_r, j) { j(err('ENOENT')); } })).catch(e => rec(e.code)));
def('thenable_resolves_promise', (rec) => Promise.resolve(1).then(() => ({ then(r) { r(Promise.resolve(16)); } })).then(rec));
def('resolve_with_thenable', (rec) => { let res; const p = new Promise(r => { res = r; }); p.then(rec); res({ then(r) { r(17); } }); });

function run(i) {
  if (i >= cases.length) return;
  const [name, fn] = cases[i];
  tick = 0;
  queueMicrotask(ticker);
  fn((v) => { console.log(`${name} round=${tick} value=${fmt(v)}`); });
  setTimeout(() => run(i + 1), 1);
}
run(0);
