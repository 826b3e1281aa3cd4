// tests/js/trace_timers2.js - the Node.js side of tests/trace_timers2.c: intervals and
// timeouts interleaved, one line per event. tests/compare.sh diffs the two outputs.
//
// Everything is scheduled from inside a first setTimeout callback (time 0 below). Lists
// due at different moments are >= 40 ms apart (interval ticks drift by their lateness, so
// the margin absorbs a slow, loaded machine); where two things share a deadline they
// share a duration list, whose order Node defines (creation order, and an interval goes
// back to the end of its list after its callback returns):
//   L  interval 40   ticks at 40 and 80, cleared from its own second tick
//   I  interval 120  ticks at 120, 240, 360 (cleared by K at 440, before 480)
//   T  timeout 120   same list as I, created after it: fires right after I's first tick
//   V  timeout 120   made in I's first tick: due with I's second tick, and ahead of it
//   J  interval 200  ticks at 200, 400
//   Q  timeout 200   cleared by I's first tick: never fires
//   Q2 timeout 200   same list as J, after it
//   W  timeout 120   made in J's first tick (at 200): fires at 320
//   K  timeout 440   clears I and J
'use strict';
const log = (s) => console.log(s);

function start() {
  log('start');
  let l = 0;
  const L = setInterval(() => {
    l++;
    log('L tick ' + l);
    if (l === 2) {
      clearInterval(L);
      log('L cleared itself');
    }
  }, 40);
  let i = 0;
  let Q = null;
  const I = setInterval(() => {
    i++;
    const k = i;
    log('I tick ' + k);
    queueMicrotask(() => log('m from I tick ' + k));
    if (k === 1) {
      clearTimeout(Q);
      log('I tick 1 cleared Q');
      setTimeout(() => {
        log('V (from I tick 1)');
        queueMicrotask(() => log('m from V'));
      }, 120);
    }
  }, 120);
  setTimeout(() => log('T'), 120);
  let j = 0;
  const J = setInterval(() => {
    j++;
    const k = j;
    log('J tick ' + k);
    queueMicrotask(() => {
      log('m from J tick ' + k);
      queueMicrotask(() => log('m nested from J tick ' + k));
    });
    if (k === 1) setTimeout(() => log('W (from J tick 1)'), 120);
  }, 200);
  Q = setTimeout(() => log('Q (never)'), 200);
  setTimeout(() => log('Q2'), 200);
  setTimeout(() => {
    log('K clears I and J');
    clearInterval(I);
    clearInterval(J);
  }, 440);
}

setTimeout(start, 0);
process.on('exit', () => log('end'));
