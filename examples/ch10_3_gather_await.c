/* Section 10.3, "asyncio.gather()", in await form: the await form of
 * examples/ch10_3_gather.c (issue 16), the same program written with coroutines, which
 * reads line for line like examples/py/ch10_3_gather.py (check.py compares them): three
 * fetches run concurrently; the results come back in the order the fetches were passed,
 * whatever order they finish in, and the total time is the longest fetch's. (The
 * chapter's delays of 2, 1 and 3 s are scaled to 0.2, 0.1 and 0.3 s.)
 *
 * Python                               vow, await form
 * async def fetch_url(url, delay)      static vow_result_t fetch_url(loop, arg)
 * await asyncio.sleep(delay)           vow_await(vow_sleep(loop, ms), NULL)
 * return f"data from {url}"            return vow_ok(vow_ptr(string, free))
 * results = await asyncio.gather(      vow_await(vow_all(loop, fetches, 3), &results)
 *     a, b, c)                         (Promise.all): a vow list, in input order, read with
 *                                      vow_list_of, vow_list_len, vow_list_value
 * an exception out of an await         return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_gather())           vow_main_async(demo_gather, NULL)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    const char *url;
    uint64_t ms;
} fetch_t;

static const fetch_t urls[3] = {{"url1", 200}, {"url2", 100}, {"url3", 300}};

/* async def fetch_url(url, delay) */
static vow_result_t fetch_url(vow_loop_t *loop, void *arg) {
    const fetch_t *f = arg;
    printf("started: %s\n", f->url);
    int rc = vow_await(vow_sleep(loop, f->ms), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL); /* cancelled: pass it on */
    printf("finished: %s\n", f->url);
    size_t len = (size_t)snprintf(NULL, 0, "data from %s", f->url) + 1;
    char *data = malloc(len);
    if (data == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(data, len, "data from %s", f->url);
    return vow_ok(vow_ptr(data, free)); /* the promise owns data from here on */
}

/* async def demo_gather() */
static vow_result_t demo_gather(vow_loop_t *loop, void *arg) {
    (void)arg;
    double start = now_s();
    /* gather runs the three coroutines concurrently; results keep the argument order */
    vow_t *fetches[3] = {
        vow_async(loop, fetch_url, (void *)&urls[0], NULL),
        vow_async(loop, fetch_url, (void *)&urls[1], NULL),
        vow_async(loop, fetch_url, (void *)&urls[2], NULL),
    };
    vow_outcome_t results;
    int rc = vow_await(vow_all(loop, fetches, 3), &results);
    if (rc != 0) return vow_rethrow(rc, &results);
    const vow_list_t *list = vow_list_of(&results.value);
    printf("\nall results: [");
    for (size_t i = 0; i < vow_list_len(list); i++)
        printf("%s'%s'", i ? ", " : "", (const char *)vow_value_ptr(vow_list_value(list, i)));
    printf("]\n");
    vow_outcome_release(&results);
    printf("total: %.2f s (the longest one)\n", now_s() - start);
    return vow_ok_none();
}

int main(void) { return vow_main_async(demo_gather, NULL); } /* asyncio.run(demo_gather()) */
