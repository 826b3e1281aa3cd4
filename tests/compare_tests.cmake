# tests/compare_tests.cmake - timer traces compared with Node.js (included at the end of
# tests/CMakeLists.txt). Each pair: a plain C program in tests/ and the same program in
# tests/js/; tests/compare.sh runs both and fails on any difference, a non-zero exit, an
# empty output, or a missing `node`.
#   timers   setTimeout order (equal and different delays, 0 is 1, made inside callbacks),
#            setImmediate (incl. from an immediate), queueMicrotask (nested, from timer and
#            immediate callbacks), setInterval cleared after N ticks, clearTimeout.
#   timers2  intervals and timeouts interleaved, sharing duration lists.
vow_add_trace_program(trace_timers trace_timers.c)
vow_add_trace_program(trace_timers2 trace_timers2.c)
vow_add_compare_test(compare_timers trace_timers js/trace_timers.js)
vow_add_compare_test(compare_timers2 trace_timers2 js/trace_timers2.js)
