// tests/js/trace_timers.js - the Node.js side of tests/trace_timers.c: one line per event.
// tests/compare.sh runs both and diffs them; no expected order is typed by hand.
//
// Only orders Node.js defines are compared: everything is scheduled from inside a first
// setTimeout callback (Node leaves a top-level setTimeout(0) against setImmediate open),
// phases are separated by >= 50 ms, and within a phase timers with different delays are
// >= 20 ms apart unless they are created in increasing delay order, so their deadlines
// are ordered whatever the clock does.
'use strict';
const log = (s) => console.log(s);

// Phase A: microtasks (nested), immediates (nested, cleared, queueing microtasks).
function phaseA() {
  log('A start');
  queueMicrotask(() => {
    log('A m1');
    queueMicrotask(() => {
      log('A m1.1');
      queueMicrotask(() => log('A m1.1.1'));
    });
  });
  queueMicrotask(() => log('A m2'));
  setImmediate(() => {
    log('A imm1');
    queueMicrotask(() => log('A m from imm1'));
    setImmediate(() => {
      log('A imm1.1 (next turn)');
      queueMicrotask(() => log('A m from imm1.1'));
      setImmediate(() => log('A imm1.1.1 (turn after)'));
    });
  });
  const imm3 = { id: null };
  setImmediate(() => {
    log('A imm2 clears imm3');
    clearImmediate(imm3.id);
  });
  imm3.id = setImmediate(() => log('A imm3 (never)'));
  setImmediate(() => log('A imm4'));
  setTimeout(phaseB, 50);
}

// Phase B: equal delays keep creation order, 0 is 1, deadline order across durations,
// timers made inside timer callbacks, microtasks from timer callbacks.
function phaseB() {
  log('B start');
  setTimeout(() => {
    log('B t20 a');
    queueMicrotask(() => log('B m from t20 a'));
    setTimeout(() => log('B t10 from t20 a'), 10); // 10, not 1: t20 b and c may start a ms later (slow builds)
    setTimeout(() => log('B t30 from t20 a'), 30);
  }, 20);
  setTimeout(() => log('B t1 a'), 1);
  setTimeout(() => log('B t0 a'), 0);
  setTimeout(() => log('B t1 b'), 1);
  setTimeout(() => {
    log('B t20 b');
    queueMicrotask(() => {
      log('B m from t20 b');
      queueMicrotask(() => log('B m nested from t20 b'));
    });
  }, 20);
  setTimeout(() => log('B t20 c'), 20);
  for (let i = 0; i < 8; i++) setTimeout(() => log('B eq100 ' + i), 100);
  setTimeout(phaseC, 200);
}

// Phase C: clearTimeout of pending timers from other callbacks, an interval cleared
// after N ticks, microtasks from interval callbacks.
function phaseC() {
  log('C start');
  const y = setTimeout(() => log('C y (never)'), 60);
  const x = setTimeout(() => {
    log('C x clears y');
    clearTimeout(y);
    clearTimeout(x); // itself, already fired: nothing happens
  }, 20);
  let w2 = null;
  setTimeout(() => {
    log('C w1 clears w2');
    clearTimeout(w2);
  }, 40);
  w2 = setTimeout(() => log('C w2 (never)'), 40);
  setTimeout(() => log('C w3'), 40);
  let n = 0;
  const iv = setInterval(() => {
    n++;
    const k = n;
    log('C iv tick ' + k);
    queueMicrotask(() => log('C m from iv tick ' + k));
    if (n === 3) clearInterval(iv);
  }, 100);
  setTimeout(phaseD, 400);
}

// Phase D: an immediate queued by the microtask of the check phase's last immediate waits
// for the next turn, so a timer that came due meanwhile (the microtask takes 5 ms) runs
// first, in the next turn's timers phase.
function phaseD() {
  log('D start');
  setTimeout(() => log('D t1 (next turn, first)'), 1);
  setImmediate(() => {
    log('D imm1');
    queueMicrotask(() => {
      log('D m from imm1');
      setImmediate(() => log('D imm2 from m (next turn, after t1)'));
      const until = Date.now() + 5;
      while (Date.now() < until) {}
    });
  });
}

setTimeout(phaseA, 0);
process.on('exit', () => log('end'));
