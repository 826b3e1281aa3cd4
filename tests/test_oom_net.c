/* The allocation-failure sweep (as tests/test_oom_promise.c) over sockets and servers
 * (vow/net.h): a program that listens, accepts through the accept stream, connects,
 * echoes three lines (write, read_until), reads exactly, leaves a read pending, and tears
 * everything down, first with the loop still alive (close, unref) and then with
 * vow_loop_free. It runs once normally, counting its allocations, then once with each of
 * them failing in turn (with the loop's pools and without): every run ends normally or
 * with a clean out-of-memory answer (a NULL, a VOW_ENOMEM rejection, or a step that
 * could not happen because an earlier one failed), nothing crashes, and no vow
 * allocation is left. */
#include <string.h>

#include "helpers.h"

TestSuite(oom_net, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 120);

/* Runs p to its end, bounded: 0 and *out filled, or a code (NULL p: VOW_ENOMEM). */
static int settle(vow_loop_t *loop, vow_t *p, vow_outcome_t *out) {
    if (p == NULL) return VOW_ENOMEM;
    vow_t *t = vow_timeout(p, 2000, 0);
    if (t == NULL) return VOW_ENOMEM;
    return vow_run(loop, t, out);
}

/* A socket out of a fulfilled outcome (one reference of our own), else NULL. */
static vow_sock_t *sock_of(int rc, vow_outcome_t *o) {
    vow_sock_t *s = NULL;
    if (rc == 0 && o->state == VOW_FULFILLED && !vow_stream_is_end(&o->value))
        s = vow_sock_ref(vow_value_ptr(&o->value));
    if (rc == 0) vow_outcome_release(o);
    return s;
}

/* Whether a failed step failed for memory: what the sweep allows. */
static int clean_failure(int rc, vow_outcome_t *o) {
    if (rc == VOW_ENOMEM) return 1;
    if (rc != 0) return 0;
    const vow_error_t *e = o->state == VOW_REJECTED ? o->error : NULL;
    for (; e != NULL; e = vow_error_cause(e))
        if (vow_error_code(e) == VOW_ENOMEM) return 1;
    return 0;
}

/* One run. Returns how many steps succeeded (all of them: 8), or -1 for a failure that is
 * not a clean out-of-memory answer. `k` is the ordinal of the allocation to fail (0:
 * none); every step is bounded, so a failed step never hangs the run. */
static int scenario(long k) {
    vow_loop_t *loop = vow_test_loop();
    vow_server_t *srv = NULL;
    vow_stream_t *conns = NULL;
    vow_sock_t *cs = NULL, *ss = NULL;
    vow_outcome_t o;
    int steps = 0, bad = 0, rc;
    vow_test_fail_at(k != 0 ? vow_test_alloc_total() + k : 0);

    rc = vow_tcp_listen(loop, "127.0.0.1", 0, NULL, &srv);
    if (rc != 0) {
        bad |= rc != VOW_ENOMEM;
        goto out;
    }
    steps++;
    conns = vow_server_accept(srv);
    if (conns == NULL) goto out;
    steps++;
    rc = settle(loop, vow_tcp_connect(loop, "127.0.0.1", (uint16_t)vow_server_port(srv)), &o);
    if ((cs = sock_of(rc, &o)) == NULL) {
        bad |= !(rc == VOW_ENOMEM || rc == 0);
        goto out;
    }
    steps++;
    rc = settle(loop, vow_stream_next(conns), &o);
    if ((ss = sock_of(rc, &o)) == NULL) {
        bad |= !(rc == VOW_ENOMEM || rc == 0);
        goto out;
    }
    steps++;
    int echoed = 0;
    for (int i = 0; i < 3; i++) {
        rc = settle(loop, vow_sock_write(cs, "hello\n", 6), &o);
        if (rc != 0 || o.state != VOW_FULFILLED) {
            bad |= !clean_failure(rc, &o);
            if (rc == 0) vow_outcome_release(&o);
            break;
        }
        vow_outcome_release(&o);
        rc = settle(loop, vow_sock_read_until(ss, "\n", 1, 0), &o);
        if (rc != 0 || o.state != VOW_FULFILLED) {
            bad |= !clean_failure(rc, &o);
            if (rc == 0) vow_outcome_release(&o);
            break;
        }
        const vow_bytes_t *b = vow_value_bytes(&o.value);
        bad |= b == NULL || b->len != 6 || memcmp(b->data, "hello\n", 6) != 0;
        vow_outcome_release(&o);
        echoed++;
    }
    if (echoed < 3) goto out;
    steps++;
    rc = settle(loop, vow_sock_write(ss, "abcdef", 6), &o);
    if (rc == 0 && o.state == VOW_FULFILLED) {
        vow_outcome_release(&o);
        rc = settle(loop, vow_sock_read_exactly(cs, 6), &o);
        if (rc == 0 && o.state == VOW_FULFILLED) {
            const vow_bytes_t *b = vow_value_bytes(&o.value);
            bad |= b == NULL || b->len != 6 || memcmp(b->data, "abcdef", 6) != 0;
            steps++;
        } else {
            bad |= !clean_failure(rc, &o);
        }
    } else {
        bad |= !clean_failure(rc, &o);
    }
    if (rc == 0) vow_outcome_release(&o);
    /* A read left pending, its promise dropped: the teardown's to finish. */
    vow_unref(vow_sock_read(cs, 10));
    steps++;
    /* A shutdown the peer sees as the end of the stream. */
    rc = settle(loop, vow_sock_shutdown(ss), &o);
    if (rc == 0) {
        if (o.state == VOW_FULFILLED)
            steps++;
        else
            bad |= !clean_failure(rc, &o);
        vow_outcome_release(&o);
    } else {
        bad |= rc != VOW_ENOMEM;
    }
out:
    vow_test_fail_at(0);
    vow_sock_unref(cs); /* the pending read stays: vow_loop_free finishes it */
    vow_sock_close(ss);
    vow_sock_unref(ss);
    vow_stream_unref(conns);
    vow_server_close(srv);
    vow_loop_free(loop);
    cr_assert_eq(vow_test_live_allocs(), 0, "k %ld: %ld allocations left", k,
                 vow_test_live_allocs());
    return bad ? -1 : steps;
}

static void sweep(void) {
    long before = vow_test_alloc_total();
    VOW_ASSERT_EQ(scenario(0), 8, "the run without failures");
    long total = vow_test_alloc_total() - before;
    cr_assert_gt(total, 10, "the scenario allocates (%ld)", total);
    long failed_runs = 0;
    for (long k = 1; k <= total + 5; k++) {
        long failed = vow_test_failed_allocs();
        int steps = scenario(k);
        cr_assert_geq(steps, 0, "k %ld: a failure that is not a clean out-of-memory answer", k);
        if (vow_test_failed_allocs() > failed) failed_runs++;
    }
    /* The sweep reached the allocations: most runs had one failed. */
    cr_assert_gt(failed_runs, total / 2, "%ld of %ld runs had an allocation failed", failed_runs,
                 total);
}

Test(oom_net, every_allocation_failing_in_turn) { sweep(); }

Test(oom_net, every_allocation_failing_in_turn_without_pools) { vow_test_without_pools(sweep); }
