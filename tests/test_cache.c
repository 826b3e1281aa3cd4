/* tests/test_cache.c - the async cache (vow/cache.h): single flight (counted calls of fn),
 * shares of one value for every waiter (each destructor counted), a shared rejection that
 * is not stored, a TTL counted from settlement (lower bounds only), cancelling one waiter
 * against cancelling the last, LRU eviction order, invalidation (of a stored value and of
 * a call in flight), clear, freeing, re-entrancy, out of memory. */
#include <criterion/criterion.h>

#include "counted.h"
#include "helpers.h"

TestSuite(cache, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

/* fn: each call makes a vow_new promise the test settles (calls[i]), with a cancel
 * callback that counts; the key of each call is recorded. */
enum { MAXC = 16 };
static vow_t *calls[MAXC];
static char keys[MAXC][16];
static int n_calls, cancels;

static void count_cancel(vow_loop_t *loop, void *ctx) {
    (void)loop, (void)ctx;
    cancels++;
}

static vow_t *fn(vow_loop_t *loop, const void *key, size_t len, void *ctx) {
    (void)ctx;
    cr_assert_lt(n_calls, MAXC);
    cr_assert_lt(len, sizeof keys[0]);
    memcpy(keys[n_calls], key, len);
    keys[n_calls][len] = '\0';
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_on_cancel(p, count_cancel, NULL, NULL), 0);
    calls[n_calls++] = vow_ref(p); /* the test's reference, to settle it */
    return p;
}

static void reset(void) {
    n_calls = cancels = 0;
    memset(calls, 0, sizeof calls);
    obj_made = 0;
    memset(obj_freed, 0, sizeof obj_freed);
    ctx_free_calls = 0;
}

static void drop_calls(void) {
    for (int i = 0; i < n_calls; i++) vow_unref(calls[i]);
}

static vow_t *get(vow_cache_t *c, const char *key) { return vow_cache_get(c, key, strlen(key)); }

static obj *value_obj(vow_t *p) { return vow_value_ptr(vow_value(p)); }

/* Runs the loop until nothing is left (every reaction ran). */
static void settle(vow_loop_t *loop) { VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0); }

Test(cache, concurrent_gets_of_one_key_share_one_call_and_one_value) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_cache_t *c = vow_cache_new(loop, fn, NULL, ctx_free_count, VOW_CACHE_FOREVER, 0);
    vow_t *w[3] = {get(c, "user_1"), get(c, "user_1"), get(c, "user_1")};
    VOW_ASSERT_EQ(n_calls, 1, "single flight");
    VOW_ASSERT_STR_EQ(keys[0], "user_1");
    vow_t *other = get(c, "user_2");
    VOW_ASSERT_EQ(n_calls, 2, "another key, another call");
    VOW_ASSERT_CODE(vow_resolve(calls[0], vow_ptr(obj_new(), obj_free)), 0);
    VOW_ASSERT_CODE(vow_resolve(calls[1], vow_ptr(obj_new(), obj_free)), 0);
    settle(loop);
    for (int i = 0; i < 3; i++) {
        VOW_ASSERT_STATE(vow_state(w[i]), VOW_FULFILLED, "waiter %d", i);
        VOW_ASSERT_EQ(value_obj(w[i]), value_obj(w[0]), "waiter %d holds a share of one value", i);
    }
    VOW_ASSERT_EQ(value_obj(w[0])->id, 0);
    VOW_ASSERT_EQ(value_obj(other)->id, 1);
    /* A hit: already fulfilled, with a share of the stored value, and no call. */
    vow_t *hit = get(c, "user_1");
    VOW_ASSERT_STATE(vow_state(hit), VOW_FULFILLED);
    VOW_ASSERT_EQ(value_obj(hit), value_obj(w[0]));
    VOW_ASSERT_EQ(n_calls, 2);
    VOW_ASSERT_EQ(vow_cache_size(c), 2);
    drop_calls();
    for (int i = 0; i < 3; i++) vow_unref(w[i]);
    vow_unref(hit);
    vow_unref(other);
    VOW_ASSERT_EQ(obj_freed[0] + obj_freed[1], 0, "the cache still holds its shares");
    vow_cache_free(c);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(cache, a_rejection_reaches_every_waiter_and_is_not_stored) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_cache_t *c = vow_cache_new(loop, fn, NULL, NULL, VOW_CACHE_FOREVER, 0);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_t *w[3] = {get(c, "k"), get(c, "k"), get(c, "k")};
    vow_error_t *err = vow_error_new(VOW_EBUSY, "backend down");
    VOW_ASSERT_CODE(vow_reject(calls[0], vow_error_ref(err)), 0);
    settle(loop);
    for (int i = 0; i < 3; i++) {
        VOW_ASSERT_STATE(vow_state(w[i]), VOW_REJECTED, "waiter %d", i);
        VOW_ASSERT_EQ(vow_error(w[i]), err, "waiter %d sees the shared error", i);
    }
    VOW_ASSERT_EQ(vow_cache_size(c), 0);
    vow_t *again = get(c, "k");
    VOW_ASSERT_EQ(n_calls, 2, "a rejection is not cached: the next get calls fn");
    VOW_ASSERT_STATE(vow_state(again), VOW_PENDING);
    VOW_ASSERT_CODE(vow_resolve(calls[1], vow_int(5)), 0);
    settle(loop);
    VOW_ASSERT_EQ(vow_value_int(vow_value(again)), 5);
    vow_error_unref(err);
    drop_calls();
    for (int i = 0; i < 3; i++) vow_unref(w[i]);
    vow_unref(again);
    vow_cache_free(c);
    VOW_TEST_END(loop);
}

/* The TTL counts from settlement: a call that took longer than the TTL is still a hit just
 * after it settled (counted from the call's start it would have expired); and once ttl_ms
 * has passed since it settled (a sleep started after: a lower bound), it is a miss. */
static vow_cache_t *ttl_cache;
static vow_t *ttl_hit, *ttl_miss;
static vow_result_t after_settle(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    ttl_hit = get(ttl_cache, "k");
    return vow_ok_none();
}
static vow_result_t after_ttl(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    ttl_miss = get(ttl_cache, "k");
    return vow_ok_none();
}
static void resolve_call0(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    VOW_ASSERT_CODE(vow_resolve(calls[0], vow_int(1)), 0);
}

Test(cache, the_ttl_counts_from_settlement) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    enum { TTL = 300 };
    ttl_cache = vow_cache_new(loop, fn, NULL, NULL, TTL, 0);
    vow_t *w = get(ttl_cache, "k");
    VOW_ASSERT_CODE(vow_set_timeout(loop, resolve_call0, NULL, TTL + 100, NULL), 0);
    VOW_ASSERT_CODE(vow_run(loop, vow_then_ok(vow_ref(w), after_settle, NULL), NULL), 0);
    VOW_ASSERT_STATE(vow_state(ttl_hit), VOW_FULFILLED, "a hit, after a call longer than the TTL");
    VOW_ASSERT_EQ(n_calls, 1);
    VOW_ASSERT_EQ(vow_cache_size(ttl_cache), 1);
    VOW_ASSERT_CODE(vow_run(loop, vow_then_ok(vow_sleep(loop, TTL), after_ttl, NULL), NULL), 0);
    VOW_ASSERT_EQ(n_calls, 2, "expired: a miss");
    VOW_ASSERT_STATE(vow_state(ttl_miss), VOW_PENDING);
    VOW_ASSERT_CODE(vow_resolve(calls[1], vow_int(2)), 0);
    settle(loop);
    VOW_ASSERT_EQ(vow_value_int(vow_value(ttl_miss)), 2);
    drop_calls();
    vow_unref(w), vow_unref(ttl_hit), vow_unref(ttl_miss);
    vow_cache_free(ttl_cache);
    VOW_TEST_END(loop);
}

Test(cache, ttl_zero_stores_nothing_but_still_shares_the_call) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_cache_t *c = vow_cache_new(loop, fn, NULL, NULL, 0, 0);
    vow_t *a = get(c, "k"), *b = get(c, "k");
    VOW_ASSERT_EQ(n_calls, 1);
    VOW_ASSERT_CODE(vow_resolve(calls[0], vow_ptr(obj_new(), obj_free)), 0);
    settle(loop);
    VOW_ASSERT_EQ(value_obj(a), value_obj(b));
    VOW_ASSERT_EQ(vow_cache_size(c), 0);
    vow_unref(calls[0]); /* the call's promise holds a share too */
    calls[0] = NULL;
    vow_t *d = get(c, "k");
    VOW_ASSERT_EQ(n_calls, 2);
    vow_unref(a), vow_unref(b);
    VOW_ASSERT_EQ(obj_freed[0], 1, "no share left: the cache kept none");
    vow_cache_free(c); /* cancels d's call */
    VOW_ASSERT_EQ(cancels, 1);
    drop_calls();
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(cache, cancelling_one_waiter_keeps_the_call_cancelling_the_last_cancels_it) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_cache_t *c = vow_cache_new(loop, fn, NULL, NULL, VOW_CACHE_FOREVER, 0);
    vow_t *a = get(c, "k"), *b = get(c, "k"), *d = get(c, "k");
    VOW_ASSERT_CODE(vow_cancel(b), 0);
    VOW_ASSERT_EQ(cancels, 0, "others still wait: the call goes on");
    VOW_ASSERT_STATE(vow_state(calls[0]), VOW_PENDING);
    VOW_ASSERT_CODE(vow_cancel(a), 0);
    VOW_ASSERT_EQ(cancels, 0);
    VOW_ASSERT_CODE(vow_cancel(d), 0);
    VOW_ASSERT_EQ(cancels, 1, "the last waiter went: the call is cancelled");
    VOW_ASSERT_STATE(vow_state(calls[0]), VOW_REJECTED);
    settle(loop);
    vow_t *e = get(c, "k");
    VOW_ASSERT_EQ(n_calls, 2, "the cancelled call was forgotten");
    VOW_ASSERT_CODE(vow_resolve(calls[1], vow_int(9)), 0);
    settle(loop);
    VOW_ASSERT_EQ(vow_value_int(vow_value(e)), 9);
    /* Only the waiters left see the value: one cancelled, the other fulfilled. */
    vow_t *f = get(c, "j"), *g = get(c, "j");
    VOW_ASSERT_CODE(vow_cancel(f), 0);
    VOW_ASSERT_CODE(vow_resolve(calls[2], vow_int(3)), 0);
    settle(loop);
    VOW_ASSERT_EQ(vow_value_int(vow_value(g)), 3);
    cr_assert(vow_is_cancellation(vow_error(f)));
    drop_calls();
    vow_unref(a), vow_unref(b), vow_unref(d), vow_unref(e), vow_unref(f), vow_unref(g);
    vow_cache_free(c);
    VOW_TEST_END(loop);
}

/* A waiter of a call whose promise was fn's maker's to cancel: the waiters see it. */
Test(cache, a_call_cancelled_by_its_maker_rejects_its_waiters) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_cache_t *c = vow_cache_new(loop, fn, NULL, NULL, VOW_CACHE_FOREVER, 0);
    vow_t *a = get(c, "k");
    VOW_ASSERT_CODE(vow_cancel(calls[0]), 0);
    settle(loop);
    cr_assert(vow_is_cancellation(vow_error(a)));
    VOW_ASSERT_EQ(vow_cache_size(c), 0);
    drop_calls();
    vow_unref(a);
    vow_cache_free(c);
    VOW_TEST_END(loop);
}

static void fill(vow_loop_t *loop, vow_cache_t *c, const char *key) {
    vow_t *p = get(c, key);
    VOW_ASSERT_CODE(vow_resolve(calls[n_calls - 1], vow_ptr(obj_new(), obj_free)), 0);
    settle(loop);
    VOW_ASSERT_STATE(vow_state(p), VOW_FULFILLED);
    vow_unref(p);
    vow_unref(calls[n_calls - 1]); /* the call's promise holds a share too */
    calls[n_calls - 1] = NULL;
}

Test(cache, the_least_recently_used_value_is_evicted) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_cache_t *c = vow_cache_new(loop, fn, NULL, NULL, VOW_CACHE_FOREVER, 2);
    fill(loop, c, "a");     /* obj 0 */
    fill(loop, c, "b");     /* obj 1 */
    vow_unref(get(c, "a")); /* a hit: a is the most recently used */
    VOW_ASSERT_EQ(n_calls, 2);
    fill(loop, c, "c"); /* obj 2: evicts b */
    VOW_ASSERT_EQ(vow_cache_size(c), 2);
    VOW_ASSERT_EQ(obj_freed[1], 1, "b's value released when evicted");
    VOW_ASSERT_EQ(obj_freed[0] + obj_freed[2], 0);
    vow_unref(get(c, "a"));
    vow_unref(get(c, "c"));
    VOW_ASSERT_EQ(n_calls, 3, "a and c are hits");
    fill(loop, c, "b"); /* b is a miss (obj 3), and evicts a (c was used last) */
    VOW_ASSERT_EQ(n_calls, 4);
    VOW_ASSERT_STR_EQ(keys[3], "b");
    VOW_ASSERT_EQ(obj_freed[0], 1, "a evicted");
    VOW_ASSERT_EQ(obj_freed[2], 0);
    drop_calls();
    vow_cache_free(c);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

/* Invalidating a stored value drops it; invalidating a call in flight detaches it: its
 * waiters still get its value, which is not stored, and the next get makes a new call. */
Test(cache, invalidate_a_value_and_a_call_in_flight) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_cache_t *c = vow_cache_new(loop, fn, NULL, NULL, VOW_CACHE_FOREVER, 0);
    VOW_ASSERT_CODE(vow_cache_invalidate(c, "a", 1), VOW_ENOENT);
    fill(loop, c, "a");
    VOW_ASSERT_CODE(vow_cache_invalidate(c, "a", 1), 0);
    VOW_ASSERT_EQ(obj_freed[0], 1);
    VOW_ASSERT_EQ(vow_cache_size(c), 0);
    vow_t *old = get(c, "a"); /* call 1 */
    VOW_ASSERT_EQ(n_calls, 2);
    VOW_ASSERT_CODE(vow_cache_invalidate(c, "a", 1), 0);
    vow_t *fresh = get(c, "a"); /* call 2: the old call is no longer the key's */
    VOW_ASSERT_EQ(n_calls, 3);
    VOW_ASSERT_CODE(vow_resolve(calls[1], vow_ptr(obj_new(), obj_free)), 0); /* obj 1 */
    settle(loop);
    VOW_ASSERT_EQ(value_obj(old)->id, 1, "the detached call's waiter got its value");
    VOW_ASSERT_STATE(vow_state(fresh), VOW_PENDING, "not the old call's value");
    VOW_ASSERT_EQ(vow_cache_size(c), 0, "a detached call's value is not stored");
    VOW_ASSERT_CODE(vow_resolve(calls[2], vow_ptr(obj_new(), obj_free)), 0); /* obj 2 */
    settle(loop);
    VOW_ASSERT_EQ(value_obj(fresh)->id, 2);
    VOW_ASSERT_EQ(vow_cache_size(c), 1);
    VOW_ASSERT_CODE(vow_cache_clear(c), 0);
    VOW_ASSERT_EQ(vow_cache_size(c), 0);
    vow_t *cleared = get(c, "a");
    VOW_ASSERT_EQ(n_calls, 4, "clear forgot it");
    drop_calls();
    vow_unref(old), vow_unref(fresh);
    vow_cache_free(c);
    cr_assert(vow_is_cancellation(vow_error(cleared)), "freeing cancels the waiters");
    VOW_ASSERT_EQ(cancels, 1, "and their call");
    vow_unref(cleared);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(cache, keys_are_byte_strings) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_cache_t *c = vow_cache_new(loop, fn, NULL, NULL, VOW_CACHE_FOREVER, 0);
    vow_t *p[4] = {vow_cache_get(c, "a\0b", 3), vow_cache_get(c, "a\0c", 3),
                   vow_cache_get(c, "a", 1), vow_cache_get(c, NULL, 0)};
    VOW_ASSERT_EQ(n_calls, 4, "embedded NULs count; the empty key is a key");
    vow_t *again = vow_cache_get(c, "", 0);
    VOW_ASSERT_EQ(n_calls, 4, "the empty key again: the same call");
    /* Many keys: the table grows. */
    char k[8];
    for (int i = 0; i < 12; i++) {
        snprintf(k, sizeof k, "k%d", i);
        vow_unref(get(c, k));
    }
    VOW_ASSERT_EQ(n_calls, 16);
    for (int i = 0; i < n_calls; i++) VOW_ASSERT_CODE(vow_resolve(calls[i], vow_int(i)), 0);
    settle(loop);
    VOW_ASSERT_EQ(vow_cache_size(c), 16);
    for (int i = 0; i < 12; i++) {
        snprintf(k, sizeof k, "k%d", i);
        vow_t *h = get(c, k);
        VOW_ASSERT_EQ(vow_value_int(vow_value(h)), i + 4);
        vow_unref(h);
    }
    VOW_ASSERT_EQ(vow_value_int(vow_value(again)), 3);
    drop_calls();
    for (int i = 0; i < 4; i++) vow_unref(p[i]);
    vow_unref(again);
    vow_cache_free(c);
    VOW_TEST_END(loop);
}

/* ---- re-entrancy, NULL from fn, promises of another loop -------------------------------- */
static vow_cache_t *re_cache;
static vow_t *re_inner;
static vow_t *fn_reentrant(vow_loop_t *loop, const void *key, size_t len, void *ctx) {
    if (re_inner == NULL) re_inner = vow_cache_get(re_cache, key, len); /* joins this call */
    return fn(loop, key, len, ctx);
}
static vow_t *fn_null(vow_loop_t *loop, const void *key, size_t len, void *ctx) {
    (void)loop, (void)key, (void)len, (void)ctx;
    n_calls++;
    return NULL;
}
static vow_t *fn_frees(vow_loop_t *loop, const void *key, size_t len, void *ctx) {
    vow_cache_free(re_cache); /* takes effect when fn returns */
    return fn(loop, key, len, ctx);
}

Test(cache, fn_may_call_the_cache) {
    reset();
    re_inner = NULL;
    vow_loop_t *loop = vow_test_loop();
    re_cache = vow_cache_new(loop, fn_reentrant, NULL, NULL, VOW_CACHE_FOREVER, 0);
    vow_t *outer = get(re_cache, "k");
    VOW_ASSERT_EQ(n_calls, 1, "the get from inside fn joined the call");
    VOW_ASSERT_CODE(vow_resolve(calls[0], vow_int(4)), 0);
    settle(loop);
    VOW_ASSERT_EQ(vow_value_int(vow_value(outer)), 4);
    VOW_ASSERT_EQ(vow_value_int(vow_value(re_inner)), 4);
    vow_unref(outer), vow_unref(re_inner);
    drop_calls();
    vow_cache_free(re_cache);

    reset();
    re_cache = vow_cache_new(loop, fn_frees, NULL, ctx_free_count, VOW_CACHE_FOREVER, 0);
    vow_t *p = get(re_cache, "k");
    VOW_ASSERT_EQ(ctx_free_calls, 1, "freed when fn returned");
    cr_assert(vow_is_cancellation(vow_error(p)));
    VOW_ASSERT_EQ(cancels, 1, "and the call cancelled");
    vow_unref(p);
    drop_calls();

    reset();
    vow_cache_t *c = vow_cache_new(loop, fn_null, NULL, NULL, VOW_CACHE_FOREVER, 0);
    vow_t *n = get(c, "k");
    VOW_ASSERT_CODE(vow_error_code(vow_error(n)), VOW_ENOMEM, "fn answered NULL");
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_unref(n);
    VOW_ASSERT_EQ(vow_cache_size(c), 0);
    vow_cache_free(c);
    settle(loop);
    VOW_TEST_END(loop);
}

static vow_loop_t *foreign_loop;
static vow_t *fn_foreign(vow_loop_t *loop, const void *key, size_t len, void *ctx) {
    (void)loop, (void)key, (void)len, (void)ctx;
    return vow_resolved(foreign_loop, vow_ptr(obj_new(), obj_free));
}

Test(cache, a_promise_of_another_loop_rejects_the_waiters_with_einval) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    foreign_loop = vow_test_loop();
    vow_cache_t *c = vow_cache_new(loop, fn_foreign, NULL, NULL, VOW_CACHE_FOREVER, 0);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_t *p = get(c, "k");
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    vow_unref(p);
    vow_cache_free(c);
    settle(loop);
    expect_every_obj_freed_once();
    VOW_ASSERT_CODE(vow_loop_close(foreign_loop), 0);
    VOW_TEST_END(loop);
}

/* ---- lifetime ---------------------------------------------------------------------------- */
Test(cache, a_cache_keeps_nothing_alive_and_answers_eclosed_after_the_loop_is_freed) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_cache_t *c = vow_cache_new(loop, fn, NULL, ctx_free_count, VOW_CACHE_FOREVER, 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    fill(loop, c, "a"); /* a stored value: obj 0 */
    vow_t *w = get(c, "b");
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(vow_cache_get(c, "a", 1), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_cache_invalidate(c, "a", 1), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_cache_clear(c), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_cache_size(c), VOW_ECLOSED);
    VOW_ASSERT_EQ(obj_freed[0], 0, "the stored value is the cache's until it is freed");
    vow_cache_free(c);
    VOW_ASSERT_EQ(obj_freed[0], 1);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    drop_calls();
    vow_unref(w);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}

Test(cache, misuse_answers) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_EQ(vow_cache_new(NULL, fn, NULL, ctx_free_count, 1, 0), (vow_cache_t *)NULL);
    VOW_ASSERT_EQ(vow_cache_new(loop, NULL, NULL, ctx_free_count, 1, 0), (vow_cache_t *)NULL);
    VOW_ASSERT_EQ(ctx_free_calls, 2, "ctx_free ran at once");
    VOW_ASSERT_EQ(vow_cache_get(NULL, "a", 1), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_cache_invalidate(NULL, "a", 1), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_cache_clear(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_cache_size(NULL), VOW_EINVAL);
    vow_cache_free(NULL);
    vow_cache_t *c = vow_cache_new(loop, fn, NULL, NULL, 1, 0);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_t *p = vow_cache_get(c, NULL, 1);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    vow_unref(p);
    VOW_ASSERT_CODE(vow_cache_invalidate(c, NULL, 1), VOW_EINVAL);
    VOW_ASSERT_EQ(n_calls, 0);
    vow_t *w = get(c, "k");
    VOW_ASSERT_CODE(vow_resolve(w, vow_int(1)), VOW_EPERM, "a waiter belongs to vow");
    vow_cache_free(c);
    vow_unref(w);
    drop_calls();
    settle(loop);
    VOW_TEST_END(loop);
}

/* ---- out of memory: each allocation of a scenario fails in turn -------------------------- */
static vow_result_t make_obj(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    return vow_ok(vow_ptr(obj_new(), obj_free));
}
static vow_t *fn_value(vow_loop_t *loop, const void *key, size_t len, void *ctx) {
    (void)key, (void)len, (void)ctx;
    n_calls++;
    return vow_then_ok(vow_sleep(loop, 1), make_obj, NULL);
}

static int cache_made; /* vow_cache_new was called: its ctx_free runs once */
static int oom_program(void) {
    vow_loop_t *loop = NULL;
    cache_made = 0;
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return VOW_ENOMEM;
    cache_made = 1;
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);
    vow_cache_t *c = vow_cache_new(loop, fn_value, NULL, ctx_free_count, VOW_CACHE_FOREVER, 2);
    if (c == NULL) { /* ctx_free ran at once */
        vow_loop_free(loop);
        return VOW_ENOMEM;
    }
    int rc = 0;
    const char *ks[6] = {"a", "a", "b", "c", "a", "b"};
    vow_t *p[6];
    for (int i = 0; i < 6; i++) {
        p[i] = get(c, ks[i]);
        if (i == 3 && p[1] != NULL) vow_cancel(p[1]);
    }
    for (int i = 0; i < 6; i++) {
        if (p[i] == NULL) {
            rc = VOW_ENOMEM;
            continue;
        }
        vow_outcome_t out;
        int r = vow_run(loop, p[i], &out);
        if (r != 0)
            rc = r;
        else if (out.state == VOW_REJECTED && vow_error_code(out.error) == VOW_ENOMEM)
            rc = VOW_ENOMEM;
        else if (out.state == VOW_REJECTED && !(i == 1 && vow_is_cancellation(out.error)))
            rc = -1000 - i;
        vow_outcome_release(&out);
    }
    vow_cache_free(c);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    int close_rc = vow_loop_close(loop);
    if (close_rc != 0) {
        vow_loop_free(loop);
        if (rc == 0) rc = close_rc;
    }
    return rc;
}

static void oom_sweep(void) {
    reset();
    int rc = oom_program();
    VOW_ASSERT_CODE(rc, 0, "the normal run");
    expect_every_obj_freed_once();
    long total = vow_test_alloc_total();
    long enomem = 0;
    for (long n = 1; n <= total; n++) {
        reset();
        vow_test_reset_counts();
        vow_test_fail_at(n);
        rc = oom_program();
        vow_test_fail_at(0);
        cr_assert(rc == 0 || rc == VOW_ENOMEM, "N=%ld: %d (%s)", n, rc, vow_strerror(rc));
        VOW_ASSERT_EQ(ctx_free_calls, cache_made, "N=%ld: ctx_free once", n);
        for (int i = 0; i < obj_made; i++) VOW_ASSERT_EQ(obj_freed[i], 1, "N=%ld: object %d", n, i);
        VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "N=%ld: leaked", n);
        if (rc == VOW_ENOMEM) enomem++;
    }
    cr_assert_gt(enomem, 0);
}

Test(cache, out_of_memory_at_each_allocation_gives_enomem_and_leaks_nothing) { oom_sweep(); }
Test(cache, out_of_memory_at_each_allocation_without_pools) { vow_test_without_pools(oom_sweep); }
