/* Section 10.6, "simulated HTTP requests", in await form: the await form of
 * examples/ch10_6_http.c (issue 16), the same program written with coroutines, which reads
 * line for line like examples/py/ch10_6_http.py (check.py compares them): four requests
 * with random delays, sent at once; the results come back in request order, and the total
 * time is the slowest request's.
 *
 * The delays come from a seeded xorshift32 generator written out identically in C and in
 * the Python file, so both programs sleep for exactly the same delays: 0.5 s +
 * (next() % 1501) ms. Completion lines come in delay order; check.py compares the lines as
 * a set.
 *
 * Python                                vow, await form
 * async def fetch_url(url)              a coroutine body; arg is the url
 * return {"url":..., "status":...}      vow_ok(vow_ptr(response, free)): a malloc'd struct
 *                                       the coroutine's promise owns
 * await asyncio.gather(*[fetch_url(u)   vow_await(vow_all(loop, pending, N_URLS), &o):
 *                       for u in urls]) each vow_async(loop, fetch_url, url) runs up to its
 *                                       sleep (so "fetching" lines come first, as asyncio
 *                                       runs the gathered tasks' first steps in order)
 * for result in results                 vow_list_of(&o.value), vow_list_value(list, i)
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_http())              vow_main_async(demo_http, NULL)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift32 (Marsaglia), the same in examples/py/ch10_6_http.py. */
static uint32_t rng_state = 42;
static uint32_t rng_next(void) {
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

/* What fetch_url returns: the chapter's {"url": url, "status": 200, "time": delay}. */
typedef struct {
    const char *url;
    int status;
    double time;
} response_t;

/* async def fetch_url(url): a simulated HTTP request */
static vow_result_t fetch_url(vow_loop_t *loop, void *arg) {
    const char *url = arg;
    vow_outcome_t o;
    uint64_t delay_ms = 500 + rng_next() % 1501; /* random.uniform(0.5, 2.0), in ms */
    printf("fetching %s...\n", url);
    int rc = vow_await(vow_sleep(loop, delay_ms), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    printf("done: %s\n", url);
    response_t *r = malloc(sizeof *r);
    if (r == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    *r = (response_t){.url = url, .status = 200, .time = (double)delay_ms / 1000.0};
    return vow_ok(vow_ptr(r, free)); /* the promise owns r from here on */
}

#define N_URLS 4

/* async def demo_http() */
static vow_result_t demo_http(vow_loop_t *loop, void *arg) {
    (void)arg;
    static const char *const urls[N_URLS] = {
        "https://api.example.com/users",
        "https://api.example.com/posts",
        "https://api.example.com/comments",
        "https://api.example.com/photos",
    };
    double start = now_s();
    /* every request in flight at once */
    vow_t *pending[N_URLS];
    for (size_t i = 0; i < N_URLS; i++)
        pending[i] = vow_async(loop, fetch_url, (void *)urls[i], NULL);
    vow_outcome_t o;
    int rc = vow_await(vow_all(loop, pending, N_URLS), &o); /* results = await gather(...) */
    if (rc != 0) return vow_rethrow(rc, &o);

    const vow_list_t *results = vow_list_of(&o.value);
    printf("\n=== results ===\n");
    for (size_t i = 0; i < vow_list_len(results); i++) {
        const response_t *result = vow_value_ptr(vow_list_value(results, i));
        printf("%s: status %d, %.2f s\n", result->url, result->status, result->time);
    }
    printf("\ntotal: %.2f s\n", now_s() - start);
    vow_outcome_release(&o);
    return vow_ok_none();
}

int main(void) { return vow_main_async(demo_http, NULL); } /* asyncio.run(demo_http()) */
