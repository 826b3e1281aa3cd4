/* Section 10.6, "simulated HTTP requests": four requests with random delays, sent at once;
 * the results come back in request order, and the total time is the slowest request's.
 *
 * The delays come from a seeded xorshift32 generator written out identically in C and in
 * the Python file (random.uniform would differ between the two), so both programs sleep
 * for exactly the same delays: 0.5 s + (next() % 1501) ms, 0.5 to 2.0 s as in the chapter.
 * Completion lines come in delay order; examples/check.py compares the lines as a set.
 *
 * Python construct                      C rendering here
 * async def fetch_url(url)              fetch_url(): prints, then returns
 *                                       vow_then_ok(vow_sleep(loop, ms), respond, ...)
 * random.uniform(0.5, 2.0)              500 + rng_next() % 1501 milliseconds
 * return {"url":..., "status":...}      vow_ok(vow_ptr(response, free)): a malloc'd struct
 *                                       the promise owns
 * gather(*[fetch_url(u) for u in urls]) vow_all(loop, pending, N_URLS) over an array
 * for result in results                 vow_list_of(v), vow_list_value(list, i)
 * asyncio.run(demo_http())              vow_main(demo_http, NULL)
 *
 * Compare with examples/py/ch10_6_http.py (examples/check.py does). */
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

#define N_URLS 4
static const char *const urls[N_URLS] = {
    "https://api.example.com/users",
    "https://api.example.com/posts",
    "https://api.example.com/comments",
    "https://api.example.com/photos",
};

/* What fetch_url returns: the chapter's {"url": url, "status": 200, "time": delay}. */
typedef struct {
    const char *url;
    int status;
    double time;
} response_t;

/* One request in flight: the url and its drawn delay (ctx of its reaction). */
typedef struct {
    const char *url;
    uint64_t delay_ms;
} request_t;

static request_t requests[N_URLS];
static double start;

/* The rest of fetch_url after its await. */
static vow_result_t respond(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    const request_t *req = ctx;
    response_t *r = malloc(sizeof *r);
    if (r == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    r->url = req->url;
    r->status = 200;
    r->time = (double)req->delay_ms / 1000.0;
    printf("done: %s\n", r->url);
    return vow_ok(vow_ptr(r, free)); /* the promise owns r from here on */
}

/* async def fetch_url(url) */
static vow_t *fetch_url(vow_loop_t *loop, request_t *req, const char *url) {
    req->url = url;
    req->delay_ms = 500 + rng_next() % 1501; /* random.uniform(0.5, 2.0), in ms */
    printf("fetching %s...\n", url);
    return vow_then_ok(vow_sleep(loop, req->delay_ms), respond, req);
}

static vow_result_t print_results(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    const vow_list_t *results = vow_list_of(v);
    printf("\n=== results ===\n");
    for (size_t i = 0; i < vow_list_len(results); i++) {
        const response_t *r = vow_value_ptr(vow_list_value(results, i));
        printf("%s: status %d, %.2f s\n", r->url, r->status, r->time);
    }
    printf("\ntotal: %.2f s\n", now_s() - start);
    return vow_ok_none();
}

/* async def demo_http() */
static vow_t *demo_http(vow_loop_t *loop, void *arg) {
    (void)arg;
    start = now_s();
    vow_t *pending[N_URLS];
    for (size_t i = 0; i < N_URLS; i++) pending[i] = fetch_url(loop, &requests[i], urls[i]);
    return vow_then_ok(vow_all(loop, pending, N_URLS), print_results, NULL);
}

/* asyncio.run(demo_http()) */
int main(void) { return vow_main(demo_http, NULL); }
