# tests/compare_unhandled.cmake - the unhandled-rejection reports compared with Node.js
# (included by tests/CMakeLists.txt with the other tests/compare*.cmake). A plain C program
# in tests/ and the same program in tests/js/ using only native Promise, queueMicrotask,
# setTimeout and the 'unhandledRejection' / 'rejectionHandled' listeners (vow's rejection
# hook); tests/compare.sh runs both at test time and fails on any difference. No expected
# trace is written down anywhere.
#   unhandled  the order of the reports within one drain (Node's processPromiseRejections):
#              several rejections handled late (in a timer callback, from a microtask chain,
#              from the hook itself) before several new unhandled ones; what the hook does
#              (queue a microtask, reject, attach a handler to a rejection of its own batch
#              or of an earlier one) lands in the next round; rejections handled in the
#              drain that made them are never reported; two timer callbacks due together.
vow_add_trace_program(trace_unhandled trace_unhandled.c)
vow_add_compare_test(compare_unhandled trace_unhandled js/trace_unhandled.js)
