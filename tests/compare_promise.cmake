# tests/compare_promise.cmake - promise traces compared with Node.js (included by
# tests/CMakeLists.txt with the other tests/compare*.cmake). Each pair is a plain C program
# in tests/ and the same program in tests/js/ using only native Promise, queueMicrotask and
# setTimeout; tests/compare.sh runs both at test time and fails on any difference. No
# expected trace is written down anywhere.
#   promise1  the canonical 1 2 3 4 A 5 example beside three chains in one drain: adoption
#             of a resolved and a pending promise, finally on both paths (returning a
#             resolved and a rejected promise, throwing), throws and catches, microtasks.
#   promise2  the same ingredients spread over timers: promises settled from timer
#             callbacks, a finally waiting for a pending promise, a foreign thenable,
#             microtasks queued from reactions and timers.
#   promise3  many short chains fanned out from shared promises: several thens on one
#             promise, pass-through (missing handlers), adoption of the same pending promise
#             by several chains, nested adoption, catch/finally mixes.
vow_add_trace_program(trace_promise1 trace_promise1.c)
vow_add_compare_test(compare_promise1 trace_promise1 js/trace_promise1.js)
vow_add_trace_program(trace_promise2 trace_promise2.c)
vow_add_compare_test(compare_promise2 trace_promise2 js/trace_promise2.js)
vow_add_trace_program(trace_promise3 trace_promise3.c)
vow_add_compare_test(compare_promise3 trace_promise3 js/trace_promise3.js)
