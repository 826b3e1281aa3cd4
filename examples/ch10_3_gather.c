/* Section 10.3, "asyncio.gather()": three fetches run concurrently; the results come
 * back in the order the fetches were passed, whatever order they finish in, and the total
 * time is the longest fetch's, not the sum. (The chapter's delays of 2, 1 and 3 s are
 * scaled to 0.2, 0.1 and 0.3 s.)
 *
 * Python construct                   C rendering here
 * async def fetch_url(url, delay)    fetch_url(): prints, then returns
 *                                    vow_then_ok(vow_sleep(loop, ms), fetched, ...)
 * await asyncio.sleep(delay)         vow_sleep(loop, ms); the code after it is `fetched`
 * return f"data from {url}"          vow_ok(vow_ptr(string, free)): the promise owns it
 * await asyncio.gather(a, b, c)      vow_all(loop, inputs, 3) (JavaScript's Promise.all),
 *                                    fulfilled with a vow list: vow_list_of, vow_list_len,
 *                                    vow_list_value, in input order
 * asyncio.run(demo_gather())         vow_main(demo_gather, &start)
 *
 * Compare with examples/py/ch10_3_gather.py (examples/check.py does). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The rest of fetch_url after its await. ctx is the url (a string literal). */
static vow_result_t fetched(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    const char *url = ctx;
    printf("finished: %s\n", url);
    size_t len = (size_t)snprintf(NULL, 0, "data from %s", url) + 1;
    char *data = malloc(len);
    if (data == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(data, len, "data from %s", url);
    return vow_ok(vow_ptr(data, free)); /* the promise owns data from here on */
}

/* async def fetch_url(url, delay) */
static vow_t *fetch_url(vow_loop_t *loop, const char *url, uint64_t ms) {
    printf("started: %s\n", url);
    return vow_then_ok(vow_sleep(loop, ms), fetched, (void *)url);
}

/* results = await asyncio.gather(...); print(...) */
static vow_result_t gathered(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    const vow_list_t *results = vow_list_of(v); /* borrowed, like the value */
    printf("\nall results: [");
    for (size_t i = 0; i < vow_list_len(results); i++)
        printf("%s'%s'", i ? ", " : "", (const char *)vow_value_ptr(vow_list_value(results, i)));
    printf("]\n");
    printf("total: %.2f s (the longest one)\n", now_s() - *(const double *)ctx);
    return vow_ok_none();
}

/* async def demo_gather(). `start` (main's) keeps the start time for gathered. */
static vow_t *demo_gather(vow_loop_t *loop, void *start) {
    *(double *)start = now_s();
    vow_t *fetches[3] = {fetch_url(loop, "url1", 200), fetch_url(loop, "url2", 100),
                         fetch_url(loop, "url3", 300)};
    return vow_then_ok(vow_all(loop, fetches, 3), gathered, start);
}

int main(void) {
    double start;
    return vow_main(demo_gather, &start); /* asyncio.run(demo_gather()) */
}
