/* tests/test_pool.c - the loop's object pools (src/pool.c): memory is recycled, returned
 * after a burst, kept per object with VOW_POOL=off, walked at forced teardown (also when a
 * destructor frees the loop, and when the walk itself empties a pool), and the same with
 * glibc's allocator itself rather than the counting one. */
#include <stdint.h>

#include "helpers.h"
#include "../src/internal.h"

TestSuite(pool, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 120);

static vow_result_t add1(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    return vow_ok_int(vow_value_int(v) + 1);
}

/* Makes and drops one promise of each kind the pools hold, so that every pool has its
 * first chunk; returns the live allocation count then. */
static long warm(vow_loop_t *loop) {
    vow_t *p = vow_new(loop);
    vow_t *d = vow_then(vow_ref(p), add1, NULL, NULL, NULL);
    cr_assert_eq(vow_resolve_with(p, vow_follow(vow_resolved(loop, vow_int(1)))), 0);
    vow_unref(p);
    cr_assert_eq(vow_run(loop, d, NULL), 0);
    return vow_test_live_allocs();
}

Test(pool, a_freed_promise_is_the_next_one_handed_out) {
    vow_loop_t *loop = vow_test_loop();
    warm(loop);
    vow_t *a = vow_new(loop);
    vow_t *b = vow_new(loop);
    uintptr_t was = (uintptr_t)a;
    vow_unref(a);
    vow_t *c = vow_new(loop);
    cr_assert_eq((uintptr_t)c, was, "a freed slot is reused first");
    vow_unref(b);
    vow_unref(c);
    VOW_TEST_END(loop);
}

Test(pool, a_burst_takes_chunks_not_objects_and_gives_them_back) {
    vow_loop_t *loop = vow_test_loop();
    long base = warm(loop);
    enum { N = 100000 };
    static vow_t *ps[N];
    for (int i = 0; i < N; i++) cr_assert_not_null(ps[i] = vow_new(loop));
    long during = vow_test_live_allocs() - base;
    cr_assert_gt(during, 0, "a burst needs more chunks");
    cr_assert_lt(during, 100, "%ld allocations for %d promises: not pooled", during, N);
    /* A chain on top: then nodes come from their own pool. */
    vow_t *d = vow_then(vow_ref(ps[0]), add1, NULL, NULL, NULL);
    for (int i = 0; i < 1000; i++) d = vow_then(d, add1, NULL, NULL, NULL);
    cr_assert_eq(vow_resolve(ps[0], vow_int(0)), 0);
    vow_outcome_t out;
    cr_assert_eq(vow_run(loop, d, &out), 0);
    cr_assert_eq(vow_value_int(&out.value), 1001);
    vow_outcome_release(&out);
    for (int i = 0; i < N; i++) vow_unref(ps[i]);
    /* Every pool is empty again: each keeps its first chunk only. */
    cr_assert_eq(vow_test_live_allocs(), base, "%ld allocation(s) kept after the burst",
                 vow_test_live_allocs() - base);
    VOW_TEST_END(loop);
}

Test(pool, vow_pool_off_gives_every_object_its_own_allocation) {
    vow_loop_t *loop = vow_test_loop_without_pools();
    long base = warm(loop); /* the microtask ring */
    enum { N = 1000 };
    vow_t *ps[N];
    for (int i = 0; i < N; i++) cr_assert_not_null(ps[i] = vow_new(loop));
    cr_assert_eq(vow_test_live_allocs() - base, N, "one allocation per promise");
    vow_t *d = vow_then(vow_ref(ps[0]), add1, NULL, NULL, NULL);
    cr_assert_eq(vow_test_live_allocs() - base, N + 1, "one allocation per then step");
    cr_assert_eq(vow_resolve(ps[0], vow_int(41)), 0);
    vow_outcome_t out;
    cr_assert_eq(vow_run(loop, d, &out), 0);
    cr_assert_eq(vow_value_int(&out.value), 42);
    vow_outcome_release(&out);
    for (int i = 0; i < N; i++) vow_unref(ps[i]);
    cr_assert_eq(vow_test_live_allocs(), base);
    VOW_TEST_END(loop);
}

Test(pool, a_promise_kept_past_vow_loop_free_keeps_its_pool) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *kept = vow_then(vow_resolved(loop, vow_int(1)), add1, NULL, NULL, NULL);
    vow_t *pending = vow_new(loop);
    cr_assert_eq(vow_loop_free(loop), 0);
    /* Closed handles answer ECLOSED; their memory is still the pool's until the last goes. */
    cr_assert_eq(vow_resolve(pending, vow_int(1)), VOW_ECLOSED);
    cr_assert_gt(vow_test_live_allocs(), 0);
    vow_unref(kept);
    vow_unref(pending);
    cr_assert_eq(vow_test_live_allocs(), 0);
}

/* ---- glibc's allocator itself: 2 MiB chunks ---------------------------------------------- */

static size_t chunks(vow_loop_t *loop) {
    size_t n = 0;
    for (int i = 0; i < VOW__POOLS; i++) n += vow__pool_chunks(&loop->pools[i]);
    return n;
}

/* The pools a loop has set up (the reactor's and the promise layer's). */
static size_t pools_in_use(vow_loop_t *loop) {
    size_t n = 0;
    for (int i = 0; i < VOW__POOLS; i++) n += loop->pools[i].size != 0;
    return n;
}

Test(pool, default_allocator_big_chunks) {
    vow_reset_allocator(); /* glibc's malloc itself */
    vow_loop_t *loop = NULL;
    cr_assert_eq(vow_loop_new(&loop, VOW_BACKEND_AUTO), 0);
    /* 200,000 then steps: about 35 MiB of then nodes, most in 2 MiB chunks. */
    enum { STEPS = 200000, SLEEPS = 50000 };
    vow_t *head = vow_new(loop);
    vow_t *d = vow_ref(head);
    for (int i = 0; i < STEPS; i++) cr_assert_not_null(d = vow_then(d, add1, NULL, NULL, NULL));
    cr_assert_gt(chunks(loop), 10, "the chain's chunks");
    cr_assert_eq(vow_resolve(head, vow_int(0)), 0);
    vow_unref(head);
    vow_outcome_t out;
    cr_assert_eq(vow_run(loop, d, &out), 0);
    cr_assert_eq(vow_value_int(&out.value), STEPS);
    vow_outcome_release(&out);
    cr_assert_leq(chunks(loop), pools_in_use(loop), "the burst's chunks were not returned");
    /* 50,000 sleeps under all: the timer nodes, all's records and its list are big arrays. */
    static vow_t *ps[SLEEPS];
    for (int i = 0; i < SLEEPS; i++) cr_assert_not_null(ps[i] = vow_sleep(loop, 1));
    cr_assert_eq(vow_run(loop, vow_all(loop, ps, SLEEPS), &out), 0);
    cr_assert_eq(out.state, VOW_FULFILLED);
    const vow_list_t *l = vow_list_of(&out.value);
    cr_assert_not_null(l);
    cr_assert_eq(vow_list_len(l), SLEEPS);
    for (size_t i = 0; i < SLEEPS; i++) cr_assert_eq(vow_list_state(l, i), VOW_FULFILLED);
    vow_outcome_release(&out);
    cr_assert_eq(vow_loop_close(loop), 0);
}

/* ---- forced teardown walks the pools -------------------------------------------------- */

static int ctx_freed;
static void count_free(void *ctx) {
    (void)ctx;
    ctx_freed++;
}

static vow_t *later;
static vow_result_t follow_later(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    return vow_follow(vow_ref(later));
}

/* Pending chains, a combinator over them, cycles through follows (between plain promises,
 * and between two then nodes only) and a promise kept by the user: vow_loop_free must
 * reach every promise in both pools (or, with VOW_POOL=off, in the pools' lists), run
 * every context destructor once and free everything. */
static void teardown_scenario(void) {
    ctx_freed = 0;
    vow_loop_t *loop = vow_test_loop();
    /* 2N then nodes of 128 bytes: 5 MiB, so the node pool's 2 MiB chunks are handed out
     * window by window (VOW__PREFAULT_WINDOW) and the newest one only partly. */
    enum { N = 20000 };
    static vow_t *heads[N], *tails[N];
    for (int i = 0; i < N; i++) {
        heads[i] = vow_new(loop);
        tails[i] = vow_then(vow_ref(heads[i]), add1, NULL, NULL, count_free);
        tails[i] = vow_then(tails[i], add1, NULL, NULL, count_free);
    }
    vow_t *all = vow_all(loop, tails, N); /* consumes the tails */
    vow_t *a = vow_new(loop), *b = vow_new(loop);
    cr_assert_eq(vow_resolve_with(a, vow_follow(vow_ref(b))), 0);
    cr_assert_eq(vow_resolve_with(b, vow_follow(vow_ref(a))), 0); /* a cycle */
    vow_unref(a);
    vow_unref(b);
    /* n1 adopts `later`, which waits on n1: a cycle that only then nodes hold. */
    vow_t *n1 = vow_then(vow_resolved(loop, vow_int(1)), follow_later, NULL, NULL, count_free);
    later = vow_then(vow_ref(n1), add1, NULL, NULL, count_free);
    vow_unref(n1);
    for (int i = 0; i < 3; i++) cr_assert_geq(vow_loop_run(loop, VOW_RUN_NOWAIT), 0);
    cr_assert_eq(ctx_freed, 1, "n1's reaction ran");
    cr_assert_eq(vow_state(later), VOW_PENDING);
    vow_unref(later);
    for (int i = 0; i < N; i++) vow_unref(heads[i]);
    cr_assert_eq(vow_loop_free(loop), 0);
    cr_assert_eq(ctx_freed, 2 * N + 2, "%d of %d context destructors ran", ctx_freed, 2 * N + 2);
    cr_assert_eq(vow_state(all), VOW_PENDING);
    cr_assert_gt(vow_test_live_allocs(), 0, "the kept promise holds the loop's memory");
    vow_unref(all);
    cr_assert_eq(vow_test_live_allocs(), 0, "%ld allocation(s) left", vow_test_live_allocs());
}

Test(pool, forced_teardown_reaches_every_pooled_promise) { teardown_scenario(); }

Test(pool, forced_teardown_reaches_every_promise_without_pools) {
    vow_test_without_pools(teardown_scenario);
}

/* ---- teardown from a destructor, and a walk that empties its pool ------------------------ */

static vow_loop_t *loop_to_free;
static int freed_loop_rc = 1;
static void free_the_loop(void *obj) {
    free(obj);
    freed_loop_rc = vow_loop_free(loop_to_free);
}

/* The value's destructor runs while its promise is being destroyed and frees the loop:
 * the teardown must pass over that promise (its count is already 0), not hold and free
 * it a second time. */
static void destructor_frees_the_loop(void) {
    loop_to_free = vow_test_loop();
    freed_loop_rc = 1;
    vow_t *keep = vow_new(loop_to_free); /* a user-held promise on the same pool */
    vow_t *p = vow_resolved(loop_to_free, vow_ptr(malloc(16), free_the_loop));
    vow_t *n = vow_then(vow_resolved(loop_to_free, vow_int(1)), add1, NULL, NULL, NULL);
    vow_unref(p); /* -> destroy -> destructor -> vow_loop_free */
    cr_assert_eq(freed_loop_rc, 0, "vow_loop_free from the destructor: %d", freed_loop_rc);
    cr_assert_eq(vow_resolve(keep, vow_int(1)), VOW_ECLOSED);
    vow_unref(n);
    vow_unref(keep);
    cr_assert_eq(vow_test_live_allocs(), 0, "%ld allocation(s) left", vow_test_live_allocs());
}

Test(pool, a_destructor_that_frees_the_loop) { destructor_frees_the_loop(); }

Test(pool, a_destructor_that_frees_the_loop_without_pools) {
    vow_test_without_pools(destructor_frees_the_loop);
}

/* The last live promises of the pool sit in its second chunk, held only by each other (a
 * follow cycle): dropping the teardown's holds empties the pool while the walk is still in
 * that chunk. The pool must not release the chunk under the walk (ASan: use after free). */
Test(pool, a_teardown_walk_that_empties_its_pool) {
    vow_loop_t *loop = vow_test_loop();
    enum { FILL = 200 }; /* more than the first chunk's 64 slots */
    vow_t *fill[FILL];
    for (int i = 0; i < FILL; i++) cr_assert_not_null(fill[i] = vow_new(loop));
    vow_t *a = vow_new(loop), *b = vow_new(loop);
    cr_assert_eq(vow_resolve_with(a, vow_follow(vow_ref(b))), 0);
    cr_assert_eq(vow_resolve_with(b, vow_follow(vow_ref(a))), 0);
    for (int i = 0; i < 3; i++) cr_assert_geq(vow_loop_run(loop, VOW_RUN_NOWAIT), 0);
    vow_unref(a);
    vow_unref(b);
    for (int i = 0; i < FILL; i++) vow_unref(fill[i]);
    cr_assert_eq(vow__pool_chunks(&loop->pools[VOW__POOL_FIRST_LAYER]) > 1, 1,
                 "a and b live beyond the promise pool's first chunk");
    cr_assert_eq(vow_loop_free(loop), 0);
    cr_assert_eq(vow_test_live_allocs(), 0, "%ld allocation(s) left", vow_test_live_allocs());
}
