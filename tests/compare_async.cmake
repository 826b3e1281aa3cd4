# tests/compare_async.cmake - coroutine traces compared with Node.js (issue 16): the C
# program tests/trace_async.c (vow_async, vow_await) and tests/js/trace_async.js (async
# functions, await) interleave awaits with then-chains; tests/compare.sh diffs their
# outputs at test time. Labels: compare, and async (both fiber back ends run it in CI).
vow_add_trace_program(trace_async trace_async.c)
vow_test_register(async_trace
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/compare.sh $<TARGET_FILE:trace_async>
            ${CMAKE_CURRENT_LIST_DIR}/js/trace_async.js
    LABELS compare async)
