/* tests/trace_timers2.c - the C side of tests/js/trace_timers2.js: intervals and timeouts
 * interleaved on vow, one line per event. The schedule (times from the first timer
 * callback) is explained in the JS file:
 *   L interval 40 (cleared from its own 2nd tick), I interval 120, T timeout 120 (I's
 *   list), V timeout 120 made in I's 1st tick (ahead of I's 2nd tick), J interval 200,
 *   Q timeout 200 cleared by I's 1st tick, Q2 timeout 200, W timeout 120 made in J's 1st
 *   tick, K timeout 440 clears I and J. */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

static vow_loop_t *loop;

static void check(int rc, const char *what) {
    if (rc != 0) {
        fprintf(stderr, "trace_timers2: %s: %s\n", what, vow_strerror(rc));
        exit(1);
    }
}

static void log_cb(vow_loop_t *l, void *arg) {
    (void)l;
    printf("%s\n", (const char *)arg);
}

static vow_timer_t timeout(vow_timer_cb cb, void *arg, uint64_t ms) {
    vow_timer_t id = 0;
    check(vow_set_timeout(loop, cb, arg, ms, &id), "vow_set_timeout");
    return id;
}
static vow_timer_t interval(vow_timer_cb cb, void *arg, uint64_t ms) {
    vow_timer_t id = 0;
    check(vow_set_interval(loop, cb, arg, ms, &id), "vow_set_interval");
    return id;
}
static void microtask(vow_microtask_fn fn, void *arg) {
    check(vow_microtask(loop, fn, arg), "vow_microtask");
}

static vow_timer_t id_l, id_i, id_j, id_q;
static int n_l, n_i, n_j;
static char text_i[8][32], text_j[8][32], text_jn[8][40];

static void l_tick(vow_loop_t *l, void *arg) {
    (void)arg;
    n_l++;
    printf("L tick %d\n", n_l);
    if (n_l == 2) {
        check(vow_clear_interval(l, id_l), "clearInterval(L)");
        printf("L cleared itself\n");
    }
}

static void v_cb(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    printf("V (from I tick 1)\n");
    microtask(log_cb, "m from V");
}

static void i_tick(vow_loop_t *l, void *arg) {
    (void)arg;
    int k = ++n_i;
    printf("I tick %d\n", k);
    snprintf(text_i[k], sizeof text_i[k], "m from I tick %d", k);
    microtask(log_cb, text_i[k]);
    if (k == 1) {
        check(vow_clear_timeout(l, id_q), "clearTimeout(Q)");
        printf("I tick 1 cleared Q\n");
        timeout(v_cb, NULL, 120);
    }
}

static void j_micro(vow_loop_t *l, void *arg) {
    (void)l;
    int k = (int)(intptr_t)arg;
    printf("%s\n", text_j[k]);
    microtask(log_cb, text_jn[k]);
}

static void j_tick(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    int k = ++n_j;
    printf("J tick %d\n", k);
    snprintf(text_j[k], sizeof text_j[k], "m from J tick %d", k);
    snprintf(text_jn[k], sizeof text_jn[k], "m nested from J tick %d", k);
    microtask(j_micro, (void *)(intptr_t)k);
    if (k == 1) timeout(log_cb, "W (from J tick 1)", 120);
}

static void k_cb(vow_loop_t *l, void *arg) {
    (void)arg;
    printf("K clears I and J\n");
    check(vow_clear_interval(l, id_i), "clearInterval(I)");
    check(vow_clear_interval(l, id_j), "clearInterval(J)");
}

static void start(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    printf("start\n");
    id_l = interval(l_tick, NULL, 40);
    id_i = interval(i_tick, NULL, 120);
    timeout(log_cb, "T", 120);
    id_j = interval(j_tick, NULL, 200);
    id_q = timeout(log_cb, "Q (never)", 200);
    timeout(log_cb, "Q2", 200);
    timeout(k_cb, NULL, 440);
}

int main(void) {
    check(vow_loop_new(&loop, VOW_BACKEND_AUTO), "vow_loop_new");
    timeout(start, NULL, 0);
    int rc = vow_loop_run(loop, VOW_RUN_DEFAULT);
    if (rc != 0) {
        fprintf(stderr, "trace_timers2: vow_loop_run returned %d\n", rc);
        return 1;
    }
    printf("end\n");
    check(vow_loop_close(loop), "vow_loop_close");
    return 0;
}
