/* Chapter 10, exercise 3, "async cache", in await form: the await form of
 * examples/ch10_ex3_cache.c (issue 16), the same program written with coroutines, which
 * reads line for line like examples/py/ch10_ex3_cache.py (check.py compares them): a
 * decorator that memoises a coroutine function with a time to live. Part 1 is the
 * chapter's test: a miss, a hit, then (2.5 s later, past the 2 s TTL) an expired entry and
 * a new call. Part 2 asks for one key three times at once: the callers share the call in
 * flight, so the function runs once and the three get its value.
 *
 * Here the decorator is written out as the exercise writes it: with await, its wrapper is
 * a short coroutine. (The callback form uses vow_cache_t, the library's cache, which adds
 * LRU eviction and invalidation; a coroutine would use it as
 * `vow_await(vow_cache_get(c, key, len), &o)`.)
 *
 * Python                                vow, await form
 * async_cache(ttl): cache, in_flight    async_cache_t: a small table of keys, each with its
 *                                       cached value and timestamp, and its task in flight
 * @async_cache(ttl=2)                   fetch_data(loop, key) = cached(loop, &cache2,
 * async def fetch_data(key)             fetch_data_body, key): the decorated function
 * async def wrapper(*args)              wrapper(): a coroutine body; arg is the call
 * return value (a hit)                  vow_ok(vow_value_share(&e->value)): the cache keeps
 *                                       its own share
 * asyncio.ensure_future(func(*args))    vow_create_task_async(loop, func, key, NULL)
 * await asyncio.shield(task)            vow_await(vow_ref(task), &o). asyncio.shield keeps
 *                                       a cancelled caller from cancelling the shared task;
 *                                       vow's upstream rule already spares a promise that
 *                                       another coroutine still awaits, and cancels the
 *                                       task only with its last awaiting caller (nothing
 *                                       is cancelled in this program)
 * finally: in_flight.pop(key, None)     after the await, whatever its outcome
 * wrapper.clear_cache()                 cache_clear(): called at the end, to free the
 *                                       values (Python's garbage collector does it there)
 * await asyncio.gather(*[...])          vow_await(vow_all(loop, calls3, 3), &o)
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(test_cache())             vow_main_async(test_cache, NULL)
 */
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

/* ---- def async_cache(ttl=60): memoises a coroutine function for `ttl` seconds, counted
 * from the result ---------------------------------------------------------------------- */
#define MAX_KEYS 8
#define KEY_LEN 16

typedef struct {
    char key[KEY_LEN];
    int cached;        /* key in cache: */
    vow_value_t value; /*   cache[key] = (value, timestamp) */
    double timestamp;
    vow_t *task; /* in_flight[key] (one reference), NULL when not in flight */
} entry_t;

typedef struct {
    double ttl;
    entry_t entries[MAX_KEYS];
    size_t n;
} async_cache_t;

/* The key's entry, made when new; NULL when the table is full or the key too long. */
static entry_t *entry_of(async_cache_t *c, const char *key) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->entries[i].key, key) == 0) return &c->entries[i];
    if (c->n == MAX_KEYS || strlen(key) >= KEY_LEN) return NULL;
    entry_t *e = &c->entries[c->n++];
    snprintf(e->key, sizeof e->key, "%s", key);
    return e;
}

/* wrapper.clear_cache() */
static void cache_clear(async_cache_t *c) {
    for (size_t i = 0; i < c->n; i++) {
        c->entries[i].cached = 0;
        vow_value_release(&c->entries[i].value);
    }
}

/* One call of the decorated function: wrapper's arguments. */
typedef struct {
    async_cache_t *cache;
    vow_async_fn func;
    char key[KEY_LEN];
} call_t;

/* async def wrapper(*args, **kwargs) */
static vow_result_t wrapper(vow_loop_t *loop, void *arg) {
    call_t *call = arg;
    vow_outcome_t o;
    entry_t *e = entry_of(call->cache, call->key);
    if (e == NULL) return vow_fail_code(VOW_ENOMEM, "async_cache: no room for the key");
    if (e->cached) { /* if key in cache: */
        if (now_s() - e->timestamp < call->cache->ttl) {
            printf("  [cache hit] ('%s',)\n", e->key);
            return vow_ok(vow_value_share(&e->value));
        }
        printf("  [cache expired] ('%s',)\n", e->key);
        e->cached = 0; /* del cache[key] */
        vow_value_release(&e->value);
    }
    if (e->task != NULL) { /* if key in in_flight: */
        printf("  [joining the call in flight] ('%s',)\n", e->key);
        int rc = vow_await(vow_ref(e->task), &o); /* return await asyncio.shield(...) */
        if (rc != 0) return vow_rethrow(rc, &o);
        return vow_ok(o.value); /* (the outcome's value, handed over) */
    }
    printf("  [calling function] ('%s',)\n", e->key);
    vow_t *task = vow_create_task_async(loop, call->func, e->key, NULL);
    e->task = vow_ref(task);      /* in_flight[key] = task */
    int rc = vow_await(task, &o); /* result = await asyncio.shield(task) */
    vow_unref(e->task);           /* finally: in_flight.pop(key, None) */
    e->task = NULL;
    if (rc != 0) return vow_rethrow(rc, &o);
    e->value = vow_value_share(&o.value); /* cache[key] = (result, time.monotonic()) */
    e->timestamp = now_s();
    e->cached = 1;
    return vow_ok(o.value); /* return result */
}

/* decorator(func)(key): a call of the decorated function, the promise of its result. */
static vow_t *cached(vow_loop_t *loop, async_cache_t *c, vow_async_fn func, const char *key) {
    call_t *call = calloc(1, sizeof *call);
    if (call == NULL) return NULL;
    call->cache = c;
    call->func = func;
    snprintf(call->key, sizeof call->key, "%s", key);
    return vow_async(loop, wrapper, call, free);
}

/* ---- the program ---------------------------------------------------------------------- */
static int calls = 0;

/* @async_cache(ttl=2): expires after 2 seconds */
static async_cache_t cache2 = {.ttl = 2.0};

/* async def fetch_data(key) */
static vow_result_t fetch_data_body(vow_loop_t *loop, void *arg) {
    const char *key = arg; /* (the cache entry's copy: it outlives the call) */
    vow_outcome_t o;
    calls += 1;
    int rc = vow_await(vow_sleep(loop, 500), &o); /* a slow operation */
    if (rc != 0) return vow_rethrow(rc, &o);
    char *data = malloc(64);
    if (data == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(data, 64, "data for %s", key);
    return vow_ok(vow_ptr(data, free)); /* return f"data for {key}" */
}

static vow_t *fetch_data(vow_loop_t *loop, const char *key) {
    return cached(loop, &cache2, fetch_data_body, key);
}

/* result = await fetch_data(key); print(f"result: {result}") */
static int print_call(vow_loop_t *loop, const char *key, vow_outcome_t *o) {
    int rc = vow_await(fetch_data(loop, key), o);
    if (rc != 0) return rc;
    printf("result: %s\n", (const char *)vow_value_ptr(&o->value));
    vow_outcome_release(o);
    return 0;
}

/* async def test_cache() (its body; test_cache frees the cache after it) */
static vow_result_t run_test(vow_loop_t *loop) {
    vow_outcome_t o;
    int rc;
    printf("async cache test (TTL = 2 s):\n\n");

    printf("first call:\n");
    if ((rc = print_call(loop, "user_1", &o)) != 0) return vow_rethrow(rc, &o);
    printf("\n");

    printf("second call (a hit):\n");
    if ((rc = print_call(loop, "user_1", &o)) != 0) return vow_rethrow(rc, &o);
    printf("\n");

    printf("waiting 2.5 s for the entry to expire...\n");
    if ((rc = vow_await(vow_sleep(loop, 2500), &o)) != 0) return vow_rethrow(rc, &o);

    printf("\nthird call (expired):\n");
    if ((rc = print_call(loop, "user_1", &o)) != 0) return vow_rethrow(rc, &o);

    printf("\nthree calls at once for one key:\n");
    double start = now_s();
    vow_t *calls3[3];
    for (int i = 0; i < 3; i++) calls3[i] = fetch_data(loop, "user_2");
    if ((rc = vow_await(vow_all(loop, calls3, 3), &o)) != 0) return vow_rethrow(rc, &o);
    const vow_list_t *results = vow_list_of(&o.value);
    for (size_t i = 0; i < vow_list_len(results); i++)
        printf("result: %s\n", (const char *)vow_value_ptr(vow_list_value(results, i)));
    vow_outcome_release(&o);
    printf("function calls in all: %d; the three took %.1f s\n", calls, now_s() - start);
    return vow_ok_none();
}

static vow_result_t test_cache(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_result_t res = run_test(loop);
    cache_clear(&cache2); /* however it ended */
    return res;
}

int main(void) { return vow_main_async(test_cache, NULL); } /* asyncio.run(test_cache()) */
