# tests/compare_retry.cmake - issue 16's retry-with-backoff plus concurrency-limit program,
# compared with Node.js (included by tests/CMakeLists.txt with the other
# tests/compare*.cmake). The C side is the example examples/retry_limit_await.c, in vow's
# await form (coroutines), built here a second time as a plain program linked to the
# static library, so the comparison runs whether or not the examples are built; the
# JavaScript side is tests/js/retry_limit.js. tests/compare.sh runs both and fails on any
# difference, a non-zero exit, an empty output, or a missing `node`.
#   retry_limit  fetchWithRetry: Promise.race of a flaky fetch against a 50 ms
#                sleep-then-throw, a backoff of 10 * 2 ** i ms after each failed attempt,
#                and a give-up; ids 1..5 through a pool of 2 workers, results in id order.
vow_add_trace_program(trace_retry_limit ${PROJECT_SOURCE_DIR}/examples/retry_limit_await.c)
vow_add_compare_test(compare_retry_limit trace_retry_limit js/retry_limit.js)
