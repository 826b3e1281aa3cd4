/* Chapter 10, exercise 3, "async cache": memoise a slow function with a time to live.
 * Part 1 is the chapter's test: a miss, a hit, then (2.5 s later, past the 2 s TTL) an
 * expired entry and a new call. Part 2 asks for one key three times at once: the calls
 * share the one call in flight (single flight), so the function runs once.
 *
 * vow's cache is the exercise made a library tool (vow/cache.h): it memoises a
 * promise-returning function by a byte-string key, with a TTL counted from the result,
 * single flight, a shared rejection that is not stored, LRU eviction and invalidation.
 * It does not print what it does, so this program's fetch_data tells the cases apart
 * from outside: a hit is a promise already fulfilled; a get that did not call the
 * function and is still pending joined the call in flight; and a call of the function for
 * a key that had a value before is an expired entry (in this program nothing else, such
 * as an invalidation or a failed call, forgets a key).
 *
 * Python construct                      C rendering here
 * @async_cache(ttl=2)                   vow_cache_new(loop, fetch_slowly, NULL, NULL, 2000, 0)
 * async def fetch_data(key)             fetch_slowly(): vow_then(vow_sleep(loop, 500), ...)
 * await fetch_data("user_1")            fetch_data(): vow_cache_get, then a reaction
 * print(f"  [cache hit] {args}")        vow_state(p) == VOW_FULFILLED right after the get
 * await asyncio.shield(in_flight[key])  the cache's own single flight
 * gather(*[fetch_data(k) ...])          vow_all(loop, three gets, 3)
 * asyncio.run(test_cache())             vow_main(test_cache, NULL)
 *
 * Compare with examples/py/ch10_ex3_cache.py (examples/check.py does). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static vow_cache_t *cache;
static int calls;
static char seen[4][16]; /* keys that have had a value (see the top comment) */
static int n_seen;

static int was_seen(const char *key, size_t len) {
    for (int i = 0; i < n_seen; i++)
        if (strlen(seen[i]) == len && memcmp(seen[i], key, len) == 0) return 1;
    return 0;
}

/* The rest of fetch_data after `await asyncio.sleep(0.5)`: ctx is the key (a copy). */
static vow_result_t data_for(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    char *data = malloc(64);
    if (data == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(data, 64, "data for %s", (const char *)ctx);
    return vow_ok(vow_ptr(data, free));
}

/* async def fetch_data(key), the function the cache memoises. */
static vow_t *fetch_slowly(vow_loop_t *loop, const void *key, size_t len, void *ctx) {
    (void)ctx;
    if (was_seen(key, len)) printf("  [cache expired] ('%.*s',)\n", (int)len, (const char *)key);
    printf("  [calling function] ('%.*s',)\n", (int)len, (const char *)key);
    calls++;
    if (!was_seen(key, len) && n_seen < 4 && len < sizeof seen[0]) memcpy(seen[n_seen++], key, len);
    char *k = malloc(len + 1);
    if (k == NULL) return NULL;
    memcpy(k, key, len);
    k[len] = '\0';
    return vow_then(vow_sleep(loop, 500), data_for, NULL, k, free);
}

/* The decorated fetch_data: a get, with what the wrapper would print. */
static vow_t *fetch_data(const char *key) {
    int before = calls;
    vow_t *p = vow_cache_get(cache, key, strlen(key));
    if (p != NULL && vow_state(p) == VOW_FULFILLED)
        printf("  [cache hit] ('%s',)\n", key);
    else if (p != NULL && calls == before)
        printf("  [joining the call in flight] ('%s',)\n", key);
    return p;
}

static vow_result_t print_result(const vow_value_t *v) {
    printf("result: %s\n", (const char *)vow_value_ptr(v));
    return vow_ok_none();
}

static double start;

static vow_result_t after_all(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    const vow_list_t *results = vow_list_of(v);
    for (size_t i = 0; i < vow_list_len(results); i++) print_result(vow_list_value(results, i));
    printf("function calls in all: %d; the three took %.1f s\n", calls, now_s() - start);
    vow_cache_free(cache);
    return vow_ok_none();
}

static vow_result_t after_third(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    print_result(v);
    printf("\nthree calls at once for one key:\n");
    start = now_s();
    vow_t *p[3];
    for (int i = 0; i < 3; i++) p[i] = fetch_data("user_2");
    return vow_follow(vow_then_ok(vow_all(loop, p, 3), after_all, NULL));
}

static vow_result_t after_wait(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    printf("\nthird call (expired):\n");
    return vow_follow(vow_then_ok(fetch_data("user_1"), after_third, NULL));
}

static vow_result_t after_second(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    print_result(v);
    printf("\nwaiting 2.5 s for the entry to expire...\n");
    return vow_follow(vow_then_ok(vow_sleep(loop, 2500), after_wait, NULL));
}

static vow_result_t after_first(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    print_result(v);
    printf("\nsecond call (a hit):\n");
    return vow_follow(vow_then_ok(fetch_data("user_1"), after_second, NULL));
}

/* async def test_cache() */
static vow_t *test_cache(vow_loop_t *loop, void *arg) {
    (void)arg;
    cache = vow_cache_new(loop, fetch_slowly, NULL, NULL, 2000, 0);
    if (cache == NULL) return NULL;
    printf("async cache test (TTL = 2 s):\n\n");
    printf("first call:\n");
    return vow_then_ok(fetch_data("user_1"), after_first, NULL);
}

int main(void) { return vow_main(test_cache, NULL); }
