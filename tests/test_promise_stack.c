/* tests/test_promise_stack.c - constant C stack: long chains settle and are freed on a thread
 * whose whole stack is 128 KiB. A recursive drain, settle or free would overflow it (one
 * frame per step) and crash the test.
 *
 * The loop is made and closed on the test's main thread (where Criterion's asserts work);
 * the small-stack thread runs it in between, and the main thread waits for it (join), so
 * the loop is only ever used by one thread at a time. Inside that thread nothing asserts:
 * CHECK records the first failure and the main thread reports it. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "helpers.h"

TestSuite(promise_stack, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 60);

#define SMALL_STACK (128u * 1024u)

typedef struct job {
    vow_loop_t *loop;
    void (*fn)(struct job *);
    char failure[256]; /* empty when every check passed */
    long n;
} job;

/* `cond` is evaluated once (it may be a call). */
#define CHECK(j, cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if ((j)->failure[0] == '\0') snprintf((j)->failure, sizeof(j)->failure, __VA_ARGS__);  \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void *thread_main(void *arg) {
    job *j = arg;
    j->fn(j);
    return NULL;
}

/* Runs j->fn on a thread with a 128 KiB stack and fails the test if a check failed. */
static void run_on_small_stack(job *j) {
    pthread_attr_t attr;
    VOW_ASSERT_EQ(pthread_attr_init(&attr), 0);
    VOW_ASSERT_EQ(pthread_attr_setstacksize(&attr, SMALL_STACK), 0);
    size_t got = 0;
    VOW_ASSERT_EQ(pthread_attr_getstacksize(&attr, &got), 0);
    VOW_ASSERT_EQ(got, SMALL_STACK);
    pthread_t t;
    int rc = pthread_create(&t, &attr, thread_main, j);
    VOW_ASSERT_CODE(rc, 0, "pthread_create: %d", rc);
    VOW_ASSERT_EQ(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
    cr_assert_str_eq(j->failure, "", "%s", j->failure);
}

/* ---- a 1,000,000-step then chain ------------------------------------------------------ */

static long add_calls;
static vow_result_t add_index(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    add_calls++;
    return vow_ok_int(vow_value_int(v) + (int64_t)(intptr_t)ctx);
}

static void long_then_chain(job *j) {
    const long n = j->n;
    vow_t *head = vow_new(j->loop);
    CHECK(j, head != NULL, "vow_new failed");
    vow_t *d = vow_ref(head);
    for (long i = 1; i <= n; i++) {
        d = vow_then(d, add_index, NULL, (void *)(intptr_t)i, NULL);
        CHECK(j, d != NULL, "vow_then failed at step %ld", i);
    }
    CHECK(j, add_calls == 0, "a reaction ran early");
    /* Settling the head sets the whole chain off. */
    CHECK(j, vow_resolve(head, vow_int(0)) == 0, "vow_resolve failed");
    vow_unref(head);
    vow_outcome_t out;
    int rc = vow_run(j->loop, d, &out);
    CHECK(j, rc == 0, "vow_run: %s", vow_strerror(rc));
    CHECK(j, out.state == VOW_FULFILLED, "state %d", (int)out.state);
    int64_t want = (int64_t)n * (n + 1) / 2;
    CHECK(j, vow_value_int(&out.value) == want, "sum %lld, expected %lld",
          (long long)vow_value_int(&out.value), (long long)want);
    CHECK(j, add_calls == n, "%ld reactions ran, expected %ld", add_calls, n);
    vow_outcome_release(&out);
}

Test(promise_stack, million_step_then_chain_on_a_128k_stack) {
    vow_loop_t *loop = vow_test_loop();
    job j = {.loop = loop, .fn = long_then_chain, .n = 1000000};
    run_on_small_stack(&j);
    VOW_TEST_END(loop);
}

/* ---- a long chain mixing adoption, finally and catch ---------------------------------- */

static long mixed_steps;
static vow_result_t adopt_plus_one(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    mixed_steps++;
    return vow_follow(vow_resolved(loop, vow_int(vow_value_int(v) + 1)));
}
static vow_result_t throw_value(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    mixed_steps++;
    vow_error_t *e = vow_error_new(VOW_EUSER, NULL);
    /* The running total rides through the rejection as the error's payload. */
    vow_error_set_payload(e, (void *)(intptr_t)vow_value_int(v), NULL);
    return vow_fail(e);
}
static vow_result_t recover_value(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)ctx;
    mixed_steps++;
    return vow_ok_int((int64_t)(intptr_t)vow_error_payload(e) + 1);
}
static vow_result_t fin_adopt(vow_loop_t *loop, void *ctx) {
    (void)ctx;
    mixed_steps++;
    return vow_follow(vow_resolved(loop, vow_none()));
}

static void mixed_chain(job *j) {
    const long n = j->n; /* rounds of four steps */
    vow_t *head = vow_new(j->loop);
    vow_t *d = vow_ref(head);
    for (long i = 0; i < n; i++) {
        d = vow_then(d, adopt_plus_one, NULL, NULL, NULL);
        d = vow_then(d, throw_value, NULL, NULL, NULL);
        d = vow_finally(d, fin_adopt, NULL, NULL); /* on the error path */
        d = vow_catch(d, recover_value, NULL, NULL);
        CHECK(j, d != NULL, "chain building failed at round %ld", i);
    }
    CHECK(j, vow_resolve(head, vow_int(0)) == 0, "vow_resolve failed");
    vow_unref(head);
    vow_outcome_t out;
    int rc = vow_run(j->loop, d, &out);
    CHECK(j, rc == 0, "vow_run: %s", vow_strerror(rc));
    CHECK(j, out.state == VOW_FULFILLED, "state %d", (int)out.state);
    CHECK(j, vow_value_int(&out.value) == 2 * n, "got %lld, expected %ld",
          (long long)vow_value_int(&out.value), 2 * n);
    CHECK(j, mixed_steps == 4 * n, "%ld steps ran, expected %ld", mixed_steps, 4 * n);
    vow_outcome_release(&out);
}

Test(promise_stack, long_chain_of_adoption_finally_and_catch_on_a_128k_stack) {
    vow_loop_t *loop = vow_test_loop();
    job j = {.loop = loop, .fn = mixed_chain, .n = 100000};
    run_on_small_stack(&j);
    VOW_TEST_END(loop);
}

/* ---- 100,000 promises, each following the next ------------------------------------------ */

static int value_freed;
static void value_free(void *p) {
    value_freed++;
    free(p);
}

static void follow_chain(job *j) {
    const long n = j->n;
    vow_t **ps = malloc((size_t)n * sizeof *ps);
    CHECK(j, ps != NULL, "malloc");
    for (long i = 0; i < n; i++) {
        ps[i] = vow_new(j->loop);
        CHECK(j, ps[i] != NULL, "vow_new failed at %ld", i);
    }
    /* p_i is resolved with p_{i+1}: it follows it (a locked, still pending promise). */
    for (long i = 0; i + 1 < n; i++)
        CHECK(j, vow_resolve_with(ps[i], vow_follow(vow_ref(ps[i + 1]))) == 0,
              "vow_resolve_with failed at %ld", i);
    /* Let every adoption subscribe; nothing settles yet. */
    int rc = vow_loop_run(j->loop, VOW_RUN_DEFAULT);
    CHECK(j, rc == 0, "vow_loop_run: %d", rc);
    CHECK(j, vow_state(ps[0]) == VOW_PENDING, "head settled early");
    CHECK(j, vow_resolve(ps[0], vow_int(1)) == VOW_ESETTLED, "head is locked");

    int *last_value = malloc(sizeof *last_value);
    CHECK(j, last_value != NULL, "malloc");
    *last_value = 42;
    CHECK(j, vow_resolve(ps[n - 1], vow_ptr(last_value, value_free)) == 0, "resolve last");

    vow_outcome_t out;
    rc = vow_run(j->loop, vow_ref(ps[0]), &out);
    CHECK(j, rc == 0, "vow_run: %s", vow_strerror(rc));
    CHECK(j, out.state == VOW_FULFILLED, "state %d", (int)out.state);
    CHECK(j, vow_value_ptr(&out.value) == last_value, "the head has the last one's value");
    vow_outcome_release(&out);
    for (long i = 0; i < n; i++) {
        CHECK(j, vow_state(ps[i]) == VOW_FULFILLED, "p_%ld is not fulfilled", i);
        CHECK(j, vow_value_ptr(vow_value(ps[i])) == last_value, "p_%ld has another value", i);
    }
    CHECK(j, value_freed == 0, "value freed while still held");
    /* Drop them head first: each p_i is the last holder of nothing but itself. */
    for (long i = 0; i < n; i++) vow_unref(ps[i]);
    CHECK(j, value_freed == 1, "value freed %d times", value_freed);
    free(ps);
}

Test(promise_stack, hundred_thousand_promises_following_the_next) {
    vow_loop_t *loop = vow_test_loop();
    job j = {.loop = loop, .fn = follow_chain, .n = 100000};
    run_on_small_stack(&j);
    VOW_TEST_END(loop);
}

/* The same chain, with the user's references dropped before it settles: whatever holds
 * the chain together must keep it alive, and free it all once settled. */
static void follow_chain_unreferenced(job *j) {
    const long n = j->n;
    vow_t *first = vow_new(j->loop);
    vow_t *prev = vow_ref(first);
    vow_t *last = NULL;
    for (long i = 1; i < n; i++) {
        vow_t *next = vow_new(j->loop);
        CHECK(j, next != NULL, "vow_new failed at %ld", i);
        CHECK(j, vow_resolve_with(prev, vow_follow(vow_ref(next))) == 0, "resolve_with %ld", i);
        vow_unref(prev);
        prev = next;
    }
    last = prev;
    vow_t *d = vow_then(first, add_index, NULL, (void *)(intptr_t)1, NULL);
    CHECK(j, vow_loop_run(j->loop, VOW_RUN_DEFAULT) == 0, "vow_loop_run");
    CHECK(j, vow_resolve(last, vow_int(41)) == 0, "resolve last");
    vow_unref(last);
    vow_outcome_t out;
    int rc = vow_run(j->loop, d, &out);
    CHECK(j, rc == 0, "vow_run: %s", vow_strerror(rc));
    CHECK(j, vow_value_int(&out.value) == 42, "got %lld", (long long)vow_value_int(&out.value));
    vow_outcome_release(&out);
}

Test(promise_stack, unreferenced_follow_chain_settles_and_is_freed) {
    vow_loop_t *loop = vow_test_loop();
    job j = {.loop = loop, .fn = follow_chain_unreferenced, .n = 100000};
    run_on_small_stack(&j);
    VOW_ASSERT_EQ(add_calls, 1);
    VOW_TEST_END(loop);
}

/* ---- dropping the head of a long pending chain -------------------------------------------- */

static long ctx_freed;
static void count_ctx_free(void *ctx) {
    (void)ctx;
    ctx_freed++;
}

/* Live vow allocations with the loop's microtask ring already made (it grows, but is one
 * allocation whatever its size, and stays until the loop goes). */
static long baseline(vow_loop_t *loop) {
    vow_unref(vow_then(vow_new(loop), add_index, NULL, NULL, NULL));
    return vow_test_live_allocs();
}

/* Promises and records live in the loop's pools (src/pool.c), whose chunks hold many
 * objects each, so a chain of n takes far fewer than n allocations. After a drop the loop
 * may keep what a pool keeps for reuse (its first chunk); what must not stay is anything
 * in proportion to the chain. The exact zero is checked when the loop closes
 * (VOW_TEST_END). */
#define FREED_ALL_BUT_A_CACHE(j, base, n)                                                          \
    CHECK(j, vow_test_live_allocs() - (base) < (n) / 20,                                           \
          "%ld of the chain's allocations are still live", vow_test_live_allocs() - (base))

static void drop_then_chain(job *j) {
    const long n = j->n;
    long base = baseline(j->loop);
    vow_t *head = vow_new(j->loop);
    vow_t *d = vow_ref(head);
    for (long i = 0; i < n; i++) {
        d = vow_then(d, add_index, NULL, (void *)1, count_ctx_free);
        CHECK(j, d != NULL, "vow_then failed at %ld", i);
    }
    vow_unref(d); /* the tail: still held by the reaction that will settle it */
    CHECK(j, vow_test_live_allocs() > base, "the chain is allocated");
    CHECK(j, ctx_freed == 0, "a context was freed early");
    /* The head's last reference: nothing can settle it, so the whole chain goes. */
    vow_unref(head);
    CHECK(j, ctx_freed == n, "%ld of %ld contexts freed", ctx_freed, n);
    FREED_ALL_BUT_A_CACHE(j, base, n);
    CHECK(j, add_calls == 0, "a dropped reaction ran");
}

Test(promise_stack, dropping_the_head_of_a_pending_chain_frees_it_iteratively) {
    vow_loop_t *loop = vow_test_loop();
    job j = {.loop = loop, .fn = drop_then_chain, .n = 100000};
    run_on_small_stack(&j);
    VOW_TEST_END(loop);
}

static void drop_follow_chain(job *j) {
    const long n = j->n;
    long base = baseline(j->loop);
    /* p_0 follows p_1 follows ... p_{n-1}: each p_{i+1} holds the reaction that would
     * settle p_i, so p_{n-1} is the head that holds the whole chain. */
    vow_t *first = vow_new(j->loop);
    vow_t *prev = first;
    for (long i = 1; i < n; i++) {
        vow_t *next = vow_new(j->loop);
        CHECK(j, vow_resolve_with(prev, vow_follow(vow_ref(next))) == 0, "resolve_with %ld", i);
        if (prev != first) vow_unref(prev);
        prev = next;
    }
    vow_t *d = vow_then(vow_ref(first), add_index, NULL, (void *)1, count_ctx_free);
    vow_unref(d);
    CHECK(j, vow_loop_run(j->loop, VOW_RUN_DEFAULT) == 0, "vow_loop_run");
    vow_unref(first);
    CHECK(j, vow_test_live_allocs() > base, "the chain is allocated");
    vow_unref(prev);
    FREED_ALL_BUT_A_CACHE(j, base, n);
    CHECK(j, ctx_freed == 1, "the reaction at the end was dropped once");
}

Test(promise_stack, dropping_the_head_of_a_pending_follow_chain_frees_it_iteratively) {
    vow_loop_t *loop = vow_test_loop();
    job j = {.loop = loop, .fn = drop_follow_chain, .n = 100000};
    run_on_small_stack(&j);
    VOW_TEST_END(loop);
}

/* A control: the same thread set-up does crash on deep recursion, so a pass above means
 * something. 128 KiB cannot hold 100,000 frames of even a tiny recursive function.
 * Left out under AddressSanitizer, which turns the overflow into a report that fails the
 * whole ctest run (VOW_TEST_FAIL_REGEX) instead of a plain SIGSEGV. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VOW_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define VOW_TEST_ASAN 1
#endif
#ifndef VOW_TEST_ASAN
static volatile long sink;
static long recurse(long n) {
    volatile char pad[64];
    pad[0] = (char)n;
    if (n == 0) return pad[0];
    long r = recurse(n - 1) + pad[0];
    sink = r;
    return r;
}
static void deep_recursion(job *j) { sink = recurse(j->n); }

/* ---- fulfilled promises whose values' destructors drop the next one ------------------------
 * p_i is fulfilled with a pointer value whose destructor drops the last reference to
 * p_{i+1}. A user destructor may do anything, so the release short cut (promise.c: values
 * whose release runs no user code free their slot at once) must leave these to the
 * deferred-free stack; taken for them, dropping p_0 recurses once per promise. */
static long value_dtors;
static void drop_next(void *next) {
    value_dtors++;
    vow_unref(next); /* NULL at the end of the chain */
}

static void drop_value_chain(job *j) {
    const long n = j->n;
    long base = baseline(j->loop);
    vow_t *next = NULL;
    for (long i = n - 1; i >= 0; i--) {
        next = vow_resolved(j->loop, vow_ptr(next, drop_next));
        CHECK(j, next != NULL, "vow_resolved failed at %ld", i);
    }
    CHECK(j, value_dtors == 0, "a destructor ran early");
    vow_unref(next); /* p_0 */
    CHECK(j, value_dtors == n, "%ld of %ld destructors ran", value_dtors, n);
    FREED_ALL_BUT_A_CACHE(j, base, n);
}

Test(promise_stack, fulfilled_values_whose_destructors_drop_the_next_free_iteratively) {
    vow_loop_t *loop = vow_test_loop();
    job j = {.loop = loop, .fn = drop_value_chain, .n = 100000};
    run_on_small_stack(&j);
    VOW_TEST_END(loop);
}

Test(promise_stack, control_recursion_overflows_the_small_stack, .signal = SIGSEGV) {
    job j = {.fn = deep_recursion, .n = 100000};
    run_on_small_stack(&j);
    vow_loop_t *loop = vow_test_loop();
    VOW_TEST_END(loop);
}
#endif /* VOW_TEST_ASAN */
