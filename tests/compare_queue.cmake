# tests/compare_queue.cmake - vow/queue.h compared with Python 3.11's asyncio (included by
# tests/CMakeLists.txt with the other tests/compare*.cmake). tests/trace_queue.c and
# tests/py/trace_queue.py do the same things (a producer and a consumer over Queue(2) and
# join, LIFO and priority order, getters in line with the middle one cancelled, QueueFull,
# QueueEmpty, task_done too often, a get that times out); tests/compare.sh runs both and
# fails on any difference.
vow_add_trace_program(trace_queue trace_queue.c)
vow_add_compare_test(compare_queue trace_queue py/trace_queue.py)
