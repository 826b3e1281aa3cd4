# tests/compare_combinators.cmake - the combinators compared with Node.js (included at the end
# of tests/CMakeLists.txt, like every tests/compare*.cmake). Each pair: a plain C program in
# tests/ and the same program in tests/js/, diffed by tests/compare.sh at test time.
#   compare_combinators  orders of all / allSettled / race / any: inputs already settled,
#                        settled by timers out of input order, mixed, shared and nested,
#                        interleaved with then chains and queueMicrotask; AggregateError's
#                        inner errors in input order.
#   job_order_comb       the rounds of docs/job-order.md's "Combinators" section: all,
#                        allSettled, race and any over resolved, pending and rejected inputs
#                        and empty input, counted by a self-requeueing microtask.
vow_add_trace_program(trace_combinators trace_combinators.c)
vow_add_compare_test(compare_combinators trace_combinators js/trace_combinators.js)

vow_add_trace_program(trace_job_order_comb trace_job_order_comb.c)
vow_add_compare_test(job_order_comb trace_job_order_comb js/trace_job_order_comb.js)
