/* tests/test_net_reads.c - reads chained from the socket's own callback (promise/net.c): a
 * read's reaction runs in the drain of the callback that answered it and starts the next
 * read there, in the socket's own waiter record once the last one is released (else one
 * from the pool); the socket's watcher and its hold on the loop are brought up to date
 * after that drain. Checked here: vow_loop_verify from inside those reactions; read_until
 * after a read_until that scanned part of the buffer (the record's scan offset starts
 * again); a cancelled read followed by a new one from its own rejection; a read whose
 * promise the user keeps past its fulfilment (the next read takes a pooled record); the
 * last reference dropped inside a read's reaction; a ping-pong of many rounds whose every
 * step is a reaction (the benchmark's shape); a read that takes everything buffered when
 * that fills at least half the read buffer takes the buffer's block as its value (no copy)
 * and the next read gets a new buffer, a smaller one copies. Sockets are socketpairs wrapped
 * with vow_sock_wrap. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(net_reads, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

static void wrap_pair(vow_loop_t *loop, vow_sock_t **a, vow_sock_t **b) {
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    VOW_ASSERT_CODE(vow_sock_wrap(loop, sv[0], a), 0);
    VOW_ASSERT_CODE(vow_sock_wrap(loop, sv[1], b), 0);
}

static void write_ok(vow_sock_t *s, const char *m) {
    vow_t *w = vow_sock_write(s, m, strlen(m));
    cr_assert_not_null(w);
    VOW_ASSERT_STATE(vow_state(w), VOW_FULFILLED);
    vow_unref(w);
}

/* ---- a chain of read_until, each started by the previous one's reaction -------------------- */
struct chain {
    vow_loop_t *loop;
    vow_sock_t *s;
    int got, want;
    char lines[8][16];
    int verify_rc;
};

static vow_result_t chain_got(vow_loop_t *loop, const vow_value_t *v, void *ctx);

static void chain_next(struct chain *c) {
    vow_t *p = vow_sock_read_until(c->s, "\n", 1, 0);
    cr_assert_not_null(p);
    vow_unref(vow_then_ok(p, chain_got, c));
}

static vow_result_t chain_got(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    struct chain *c = ctx;
    const vow_bytes_t *b = vow_value_bytes(v);
    cr_assert_not_null(b);
    cr_assert_lt(b->len, sizeof c->lines[0]);
    memcpy(c->lines[c->got], b->data, b->len + 1);
    if (vow_loop_verify(loop) != 0) c->verify_rc = -1;
    if (++c->got < c->want) chain_next(c);
    if (vow_loop_verify(loop) != 0) c->verify_rc = -1;
    return vow_ok_none();
}

Test(net_reads, read_until_chained_from_reactions_scans_each_read_afresh) {
    vow_loop_t *loop = vow_test_loop();
    vow_sock_t *a, *b;
    wrap_pair(loop, &a, &b);
    struct chain c = {.loop = loop, .s = b, .want = 4};
    chain_next(&c);
    /* Part of a line first: the read scans it and waits for more. */
    write_ok(a, "ab");
    for (int i = 0; i < 20 && c.got == 0; i++)
        VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_NOWAIT), 1);
    VOW_ASSERT_EQ(c.got, 0);
    /* The rest, and two lines shorter than the part scanned before, then one more. */
    write_ok(a, "c\nx\ny\n");
    for (int i = 0; i < 200 && c.got < 3; i++) vow_loop_run(loop, VOW_RUN_ONCE);
    VOW_ASSERT_EQ(c.got, 3);
    write_ok(a, "last\n");
    for (int i = 0; i < 200 && c.got < 4; i++) vow_loop_run(loop, VOW_RUN_ONCE);
    VOW_ASSERT_EQ(c.got, 4);
    cr_assert_str_eq(c.lines[0], "abc\n");
    cr_assert_str_eq(c.lines[1], "x\n");
    cr_assert_str_eq(c.lines[2], "y\n");
    cr_assert_str_eq(c.lines[3], "last\n");
    VOW_ASSERT_EQ(c.verify_rc, 0, "vow_loop_verify inside the reactions");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "nothing waits: the socket lets the loop go");
    vow_sock_unref(a);
    vow_sock_unref(b);
    VOW_TEST_END(loop);
}

/* ---- a cancelled read, then a new one from its rejection ------------------------------------ */
struct again {
    vow_sock_t *s;
    int code;
    char got[16];
};

static vow_result_t again_got(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    struct again *g = ctx;
    const vow_bytes_t *b = vow_value_bytes(v);
    memcpy(g->got, b->data, b->len + 1);
    return vow_ok_none();
}

static vow_result_t again_cancelled(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop;
    struct again *g = ctx;
    g->code = vow_error_code(err);
    vow_t *p = vow_sock_read_exactly(g->s, 3);
    cr_assert_not_null(p);
    vow_unref(vow_then_ok(p, again_got, g));
    return vow_ok_none();
}

Test(net_reads, a_read_started_from_the_rejection_of_a_cancelled_one) {
    vow_loop_t *loop = vow_test_loop();
    vow_sock_t *a, *b;
    wrap_pair(loop, &a, &b);
    struct again g = {.s = b};
    vow_t *p = vow_sock_read(b, 10);
    vow_unref(vow_then_ex(vow_ref(p), NULL, again_cancelled, &g, NULL, VOW_CATCH_CANCELLED));
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_NOWAIT), 1);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    vow_unref(p);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_CODE(g.code, VOW_ECANCELED);
    write_ok(a, "xyz");
    for (int i = 0; i < 200 && g.got[0] == 0; i++) vow_loop_run(loop, VOW_RUN_ONCE);
    cr_assert_str_eq(g.got, "xyz");
    vow_sock_unref(a);
    vow_sock_unref(b);
    VOW_TEST_END(loop);
}

/* ---- a read's promise kept past its fulfilment ---------------------------------------------- */
Test(net_reads, reads_whose_promises_the_user_keeps) {
    vow_loop_t *loop = vow_test_loop();
    vow_sock_t *a, *b;
    wrap_pair(loop, &a, &b);
    vow_t *kept[4];
    write_ok(a, "12345678");
    for (int i = 0; i < 4; i++) {
        kept[i] = vow_sock_read_exactly(b, 2);
        cr_assert_not_null(kept[i]);
        vow_outcome_t o;
        VOW_ASSERT_CODE(vow_run(loop, vow_ref(kept[i]), &o), 0);
        VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
        const vow_bytes_t *bytes = vow_value_bytes(&o.value);
        cr_assert_not_null(bytes);
        char want[3] = {(char)('1' + 2 * i), (char)('2' + 2 * i), 0};
        cr_assert_str_eq((const char *)bytes->data, want);
        vow_outcome_release(&o);
    }
    for (int i = 0; i < 4; i++) VOW_ASSERT_STATE(vow_state(kept[i]), VOW_FULFILLED);
    vow_sock_unref(b); /* the promises outlive the socket's handle */
    for (int i = 0; i < 4; i++) vow_unref(kept[i]);
    vow_sock_unref(a);
    VOW_TEST_END(loop);
}

/* ---- the last reference dropped inside a read's reaction ------------------------------------ */
static vow_result_t drop_sock(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    cr_assert_not_null(vow_value_bytes(v));
    vow_sock_unref(ctx); /* the last reference: closes it inside its own callback */
    return vow_ok_none();
}

Test(net_reads, the_last_reference_dropped_in_a_reaction_of_its_read) {
    vow_loop_t *loop = vow_test_loop();
    vow_sock_t *a, *b;
    wrap_pair(loop, &a, &b);
    vow_t *p = vow_sock_read(b, 10);
    vow_unref(vow_then_ok(p, drop_sock, b));
    write_ok(a, "bye");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    /* b closed: a reads the end. */
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run(loop, vow_sock_read(a, 10), &o), 0);
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_bytes(&o.value)->len, 0);
    vow_outcome_release(&o);
    vow_sock_unref(a);
    VOW_TEST_END(loop);
}

/* ---- ping-pong, every step a reaction -------------------------------------------------------- */
#define ROUNDS 2000

struct pp {
    vow_sock_t *c, *s;
    int rounds, bad;
};

static vow_result_t srv_got(vow_loop_t *loop, const vow_value_t *v, void *ctx);
static vow_result_t cli_got(vow_loop_t *loop, const vow_value_t *v, void *ctx);

static void srv_read(struct pp *pp) {
    vow_unref(vow_then_ok(vow_sock_read(pp->s, 64), srv_got, pp));
}

static void cli_ping(struct pp *pp) {
    char m[8];
    snprintf(m, sizeof m, "%07d", pp->rounds);
    vow_t *w = vow_sock_write(pp->c, m, 8);
    if (vow_state(w) != VOW_FULFILLED) pp->bad++;
    vow_unref(w);
    vow_unref(vow_then_ok(vow_sock_read_exactly(pp->c, 8), cli_got, pp));
}

static vow_result_t srv_got(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    struct pp *pp = ctx;
    const vow_bytes_t *b = vow_value_bytes(v);
    if (b->len == 0) return vow_ok_none(); /* the client closed */
    vow_t *w = vow_sock_write(pp->s, b->data, b->len);
    if (vow_state(w) != VOW_FULFILLED) pp->bad++;
    vow_unref(w);
    srv_read(pp);
    return vow_ok_none();
}

static vow_result_t cli_got(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    struct pp *pp = ctx;
    const vow_bytes_t *b = vow_value_bytes(v);
    char m[8];
    snprintf(m, sizeof m, "%07d", pp->rounds);
    if (b->len != 8 || memcmp(b->data, m, 8) != 0) pp->bad++;
    if (++pp->rounds < ROUNDS)
        cli_ping(pp);
    else
        VOW_ASSERT_CODE(vow_sock_close(pp->c), 0);
    if (pp->rounds % 256 == 0 && vow_loop_verify(loop) != 0) pp->bad++;
    return vow_ok_none();
}

Test(net_reads, ping_pong_of_reactions) {
    vow_loop_t *loop = vow_test_loop();
    struct pp pp = {0};
    wrap_pair(loop, &pp.c, &pp.s);
    srv_read(&pp);
    cli_ping(&pp);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(pp.rounds, ROUNDS);
    VOW_ASSERT_EQ(pp.bad, 0);
    vow_sock_stats_t st;
    VOW_ASSERT_CODE(vow_sock_stats(pp.s, &st), 0);
    VOW_ASSERT_EQ(st.bytes_read, (uint64_t)ROUNDS * 8);
    vow_sock_unref(pp.c);
    vow_sock_unref(pp.s);
    VOW_TEST_END(loop);
}

/* ---- a large read takes the read buffer's block as its value --------------------------------- */
#define BIG 40000 /* over half the read buffer's 64 KiB: the buffer's block is handed over */

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)((i * 7 + seed) % 251);
}

/* Runs p, which must fulfil with bytes: a new reference to its value in *out. */
static void run_bytes(vow_loop_t *loop, vow_t *p, vow_value_t *out) {
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run(loop, p, &o), 0);
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    cr_assert_not_null(vow_value_bytes(&o.value));
    *out = vow_value_share(&o.value);
    vow_outcome_release(&o);
}

Test(net_reads, large_reads_take_the_buffer_and_small_ones_copy) {
    vow_loop_t *loop = vow_test_loop();
    vow_sock_t *a, *b;
    wrap_pair(loop, &a, &b);
    static unsigned char big[BIG], line[BIG];
    fill(big, BIG, 1);
    fill(line, BIG, 2);
    for (size_t i = 0; i < BIG - 1; i++)
        if (line[i] == '\n') line[i] = 'x';
    line[BIG - 1] = '\n';
    /* The whole of it in the kernel's buffer first (a socketpair takes 40 kB at once), so
     * the first recv gets all of it. */
    cr_assert_eq(write(vow_sock_fd(a), big, BIG), (ssize_t)BIG);
    vow_value_t v1, v2, v3, v4;
    run_bytes(loop, vow_sock_read(b, 65536), &v1);
    /* A small read after it: a new buffer, a copy. */
    cr_assert_eq(write(vow_sock_fd(a), "abc", 3), 3);
    run_bytes(loop, vow_sock_read_exactly(b, 3), &v2);
    /* read_until and read_exactly that take everything buffered. */
    cr_assert_eq(write(vow_sock_fd(a), line, BIG), (ssize_t)BIG);
    run_bytes(loop, vow_sock_read_until(b, "\n", 1, 0), &v3);
    cr_assert_eq(write(vow_sock_fd(a), big, BIG), (ssize_t)BIG);
    run_bytes(loop, vow_sock_read_exactly(b, BIG), &v4);
    vow_sock_unref(b); /* the values outlive the socket and its buffer */
    vow_sock_unref(a);
    const vow_bytes_t *b1 = vow_value_bytes(&v1), *b2 = vow_value_bytes(&v2);
    const vow_bytes_t *b3 = vow_value_bytes(&v3), *b4 = vow_value_bytes(&v4);
    VOW_ASSERT_EQ(b1->len, (size_t)BIG);
    cr_assert(memcmp(b1->data, big, BIG) == 0);
    VOW_ASSERT_EQ(b1->data[BIG], 0, "a NUL after the bytes");
    VOW_ASSERT_EQ(b2->len, (size_t)3);
    cr_assert_str_eq((const char *)b2->data, "abc");
    VOW_ASSERT_EQ(b3->len, (size_t)BIG);
    cr_assert(memcmp(b3->data, line, BIG) == 0);
    VOW_ASSERT_EQ(b3->data[BIG], 0);
    VOW_ASSERT_EQ(b4->len, (size_t)BIG);
    cr_assert(memcmp(b4->data, big, BIG) == 0);
    VOW_ASSERT_EQ(b4->data[BIG], 0);
    vow_value_release(&v1);
    vow_value_release(&v2);
    vow_value_release(&v3);
    vow_value_release(&v4);
    VOW_TEST_END(loop);
}

/* A read that takes part of a large buffer copies it; the rest stays for the next read. */
Test(net_reads, a_read_of_part_of_a_large_buffer_leaves_the_rest) {
    vow_loop_t *loop = vow_test_loop();
    vow_sock_t *a, *b;
    wrap_pair(loop, &a, &b);
    static unsigned char big[BIG];
    fill(big, BIG, 3);
    cr_assert_eq(write(vow_sock_fd(a), big, BIG), (ssize_t)BIG);
    vow_value_t v1, v2;
    run_bytes(loop, vow_sock_read_exactly(b, 100), &v1);
    run_bytes(loop, vow_sock_read(b, 65536), &v2);
    VOW_ASSERT_EQ(vow_value_bytes(&v1)->len, (size_t)100);
    cr_assert(memcmp(vow_value_bytes(&v1)->data, big, 100) == 0);
    VOW_ASSERT_EQ(vow_value_bytes(&v2)->len, (size_t)(BIG - 100));
    cr_assert(memcmp(vow_value_bytes(&v2)->data, big + 100, BIG - 100) == 0);
    vow_value_release(&v1);
    vow_value_release(&v2);
    vow_sock_unref(a);
    vow_sock_unref(b);
    VOW_TEST_END(loop);
}

/* ---- small reads' blocks: back to their loop's cache, or freed ------------------------------- */
/* A read of at most ~200 bytes gets a small block, which its release hands back to its
 * loop's cache when it is released on the thread running that loop, and frees anywhere else:
 * on another thread, after the loop's run or its end, and always when the loop's pools are
 * off (VOW_POOL=off). */
struct small {
    vow_sock_t *a, *b;
    vow_value_t held[100];
    int n, want;
    uintptr_t first, again; /* where the first and the next value's bytes were */
    long live_before, live_after;
    int threaded;
};

static void *release_elsewhere(void *arg) {
    vow_value_release(arg); /* not the loop's thread: freed */
    return NULL;
}

static vow_result_t small_got(vow_loop_t *loop, const vow_value_t *v, void *ctx);

static void small_read(struct small *sm) {
    vow_t *p = vow_sock_read_exactly(sm->b, 3);
    cr_assert_not_null(p);
    vow_unref(vow_then_ok(p, small_got, sm));
    write_ok(sm->a, "xyz");
}

static vow_result_t small_got(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    struct small *sm = ctx;
    const vow_bytes_t *b = vow_value_bytes(v);
    cr_assert_not_null(b, "a small block is a bytes value");
    VOW_ASSERT_EQ(b->len, (size_t)3);
    cr_assert_str_eq((const char *)b->data, "xyz");
    if (sm->n == 0) sm->first = (uintptr_t)b->data;
    if (sm->n == 1) sm->again = (uintptr_t)b->data;
    sm->held[sm->n++] = vow_value_share(v);
    if (sm->threaded && sm->n == 2) {
        /* The first value's last reference, released on another thread while this one
         * runs the loop: freed there, not cached. */
        long live = vow_test_live_allocs();
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, release_elsewhere, &sm->held[0]), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
        VOW_ASSERT_EQ(vow_test_live_allocs(), live - 1, "freed on the other thread");
        vow_value_release(&sm->held[1]);
    } else if (sm->want == 2 && !sm->threaded) {
        vow_value_release(&sm->held[sm->n - 1]); /* here, in the run: cached */
    }
    if (sm->n < sm->want) {
        small_read(sm);
    } else if (sm->want > 2) { /* all of them released at once, in the run */
        sm->live_before = vow_test_live_allocs();
        for (int i = 0; i < sm->n; i++) vow_value_release(&sm->held[i]);
        sm->live_after = vow_test_live_allocs();
    }
    return vow_ok_none();
}

static void small_run(vow_loop_t *loop, struct small *sm, int want) {
    wrap_pair(loop, &sm->a, &sm->b);
    sm->want = want;
    small_read(sm);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(sm->n, want);
    vow_sock_unref(sm->a);
    vow_sock_unref(sm->b);
}

Test(net_reads, a_small_block_released_in_the_run_serves_the_next_read) {
    /* With the loop's pools on, whatever the environment says (scripts/valgrind.sh runs the
     * suite with VOW_POOL=off, which turns the cache off too). */
    cr_assert_eq(unsetenv("VOW_POOL"), 0);
    vow_loop_t *loop = vow_test_loop();
    struct small sm = {0};
    small_run(loop, &sm, 2);
    cr_assert_eq(sm.first, sm.again, "the second read got the first one's block back");
    VOW_TEST_END(loop); /* and the cache goes with the loop */
}

Test(net_reads, a_small_block_released_on_another_thread_is_freed) {
    vow_loop_t *loop = vow_test_loop();
    struct small sm = {.threaded = 1};
    small_run(loop, &sm, 2);
    VOW_TEST_END(loop);
}

Test(net_reads, the_loop_keeps_at_most_64_small_blocks) {
    cr_assert_eq(unsetenv("VOW_POOL"), 0); /* (as above) */
    vow_loop_t *loop = vow_test_loop();
    static struct small sm;
    memset(&sm, 0, sizeof sm);
    small_run(loop, &sm, 100);
    /* (The last value is still its read promise's too: 99 go.) */
    cr_assert_geq(sm.live_before - sm.live_after, 99 - 64, "%ld blocks freed of 99",
                  sm.live_before - sm.live_after);
    VOW_TEST_END(loop);
}

Test(net_reads, without_pools_every_small_block_is_freed_at_its_release) {
    vow_loop_t *loop = vow_test_loop_without_pools();
    static struct small sm;
    memset(&sm, 0, sizeof sm);
    small_run(loop, &sm, 100);
    VOW_ASSERT_EQ(sm.live_before - sm.live_after, 99L); /* (the last: its promise's too) */
    VOW_TEST_END(loop);
}

Test(net_reads, small_values_outlive_the_run_and_the_loop) {
    vow_loop_t *loop = vow_test_loop();
    vow_sock_t *a, *b;
    wrap_pair(loop, &a, &b);
    vow_value_t v1, v2;
    write_ok(a, "hello");
    run_bytes(loop, vow_sock_read_exactly(b, 2), &v1);
    run_bytes(loop, vow_sock_read(b, 100), &v2);
    long live = vow_test_live_allocs();
    vow_value_release(&v1); /* after the run: freed */
    cr_assert_lt(vow_test_live_allocs(), live);
    vow_sock_unref(a);
    vow_sock_unref(b);
    VOW_ASSERT_CODE(vow_loop_close(loop), 0);
    cr_assert_str_eq((const char *)vow_value_bytes(&v2)->data, "llo");
    vow_value_release(&v2); /* after the loop's end: freed, its loop never read */
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}

/* ---- writes fulfilled at once share one promise ---------------------------------------------- */
Test(net_reads, writes_fulfilled_at_once_answer_the_loops_shared_promise) {
    vow_loop_t *loop = vow_test_loop();
    vow_sock_t *a, *b;
    wrap_pair(loop, &a, &b);
    vow_t *w1 = vow_sock_write(a, "one", 3);
    vow_t *w2 = vow_sock_write(b, "two", 3); /* another socket of the same loop */
    VOW_ASSERT_STATE(vow_state(w1), VOW_FULFILLED);
    cr_assert_eq(w1, w2, "one shared promise");
    VOW_ASSERT_EQ(vow_value_kind(vow_value(w1)), VOW_VAL_NONE);
    VOW_ASSERT_CODE(vow_cancel(w1), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_resolve(w1, vow_int(1)), VOW_EPERM);
    /* A write that must wait (limit 0, bytes in the buffer) has a promise of its own. */
    VOW_ASSERT_CODE(vow_sock_set_write_limit(a, 0), 0);
    static unsigned char big[1 << 20];
    vow_t *w3 = vow_sock_write(a, big, sizeof big);
    cr_assert_neq(w3, w1);
    VOW_ASSERT_STATE(vow_state(w3), VOW_PENDING);
    /* A failed write too: rejected, and the shared one untouched. */
    VOW_ASSERT_CODE(vow_sock_close(a), 0);
    VOW_ASSERT_STATE(vow_state(w3), VOW_REJECTED);
    vow_t *w4 = vow_sock_write(a, "x", 1);
    cr_assert_neq(w4, w1);
    VOW_ASSERT_STATE(vow_state(w4), VOW_REJECTED);
    VOW_ASSERT_STATE(vow_state(w1), VOW_FULFILLED);
    vow_unref(w2);
    vow_unref(w3);
    vow_unref(w4);
    vow_sock_unref(a);
    vow_sock_unref(b);
    /* The loop ends with the shared promise still held (emptied by the teardown, as every
     * promise is): it goes with the last reference. */
    VOW_ASSERT_CODE(vow_loop_close(loop), 0);
    vow_unref(w1);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}
