# The job counts of docs/job-order.md: the C program and the same cases in JavaScript,
# compared line by line against node at test time.
vow_add_trace_program(trace_job_order trace_job_order.c)
vow_add_compare_test(job_order trace_job_order js/trace_job_order.js)
