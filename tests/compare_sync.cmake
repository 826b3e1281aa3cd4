# tests/compare_sync.cmake - vow/sync.h compared with Python 3.11's asyncio (included by
# tests/CMakeLists.txt with the other tests/compare*.cmake). tests/trace_sync.c and
# tests/py/trace_sync.py do the same things (Lock handoff in FIFO order, a Semaphore with a
# cancelled waiter in the middle, Event set/clear/wait, BoundedSemaphore over-release,
# Condition notify and notify_all);
# tests/compare.sh runs both (a .py twin under python3) and fails on any difference.
vow_add_trace_program(trace_sync trace_sync.c)
vow_add_compare_test(compare_sync trace_sync py/trace_sync.py)
