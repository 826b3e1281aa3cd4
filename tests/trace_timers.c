/* tests/trace_timers.c - the C side of tests/js/trace_timers.js: the same program on vow,
 * printing one line per event. tests/compare.sh diffs it against node's output.
 *
 * Phase A: microtasks (nested), immediates (nested, cleared, queueing microtasks).
 * Phase B: equal delays in creation order, delay 0 is 1, deadline order across durations,
 *          timers made inside timer callbacks, microtasks from timer callbacks.
 * Phase C: clearTimeout of pending timers from other callbacks, an interval cleared after
 *          three ticks, microtasks from interval callbacks.
 * Phase D: an immediate queued by the last immediate's microtask waits for the next turn.
 * Everything is scheduled from inside a first timer callback (see the JS file). */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

static vow_loop_t *loop;

static void check(int rc, const char *what) {
    if (rc != 0) {
        fprintf(stderr, "trace_timers: %s: %s\n", what, vow_strerror(rc));
        exit(1);
    }
}

static void log_line(const char *s) { printf("%s\n", s); }

/* Callbacks that just print their argument. */
static void log_cb(vow_loop_t *l, void *arg) {
    (void)l;
    log_line(arg);
}

static vow_timer_t timeout(vow_timer_cb cb, void *arg, uint64_t ms) {
    vow_timer_t id = 0;
    check(vow_set_timeout(loop, cb, arg, ms, &id), "vow_set_timeout");
    return id;
}
static vow_timer_t immediate(vow_timer_cb cb, void *arg) {
    vow_timer_t id = 0;
    check(vow_set_immediate(loop, cb, arg, &id), "vow_set_immediate");
    return id;
}
static void microtask(vow_microtask_fn fn, void *arg) {
    check(vow_microtask(loop, fn, arg), "vow_microtask");
}

static void phase_b(vow_loop_t *l, void *arg);
static void phase_c(vow_loop_t *l, void *arg);
static void phase_d(vow_loop_t *l, void *arg);

/* ---- phase A ----------------------------------------------------------------------- */

static void a_m1_1(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("A m1.1");
    microtask(log_cb, "A m1.1.1");
}
static void a_m1(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("A m1");
    microtask(a_m1_1, NULL);
}
static void a_imm1_1(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("A imm1.1 (next turn)");
    microtask(log_cb, "A m from imm1.1");
    immediate(log_cb, "A imm1.1.1 (turn after)");
}
static void a_imm1(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("A imm1");
    microtask(log_cb, "A m from imm1");
    immediate(a_imm1_1, NULL);
}
static vow_timer_t a_imm3;
static void a_imm2(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("A imm2 clears imm3");
    check(vow_clear_immediate(l, a_imm3), "vow_clear_immediate");
}

static void phase_a(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("A start");
    microtask(a_m1, NULL);
    microtask(log_cb, "A m2");
    immediate(a_imm1, NULL);
    immediate(a_imm2, NULL);
    a_imm3 = immediate(log_cb, "A imm3 (never)");
    immediate(log_cb, "A imm4");
    timeout(phase_b, NULL, 50);
}

/* ---- phase B ----------------------------------------------------------------------- */

static void b_t20a(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("B t20 a");
    microtask(log_cb, "B m from t20 a");
    timeout(log_cb, "B t10 from t20 a", 10);
    timeout(log_cb, "B t30 from t20 a", 30);
}
static void b_m_t20b(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("B m from t20 b");
    microtask(log_cb, "B m nested from t20 b");
}
static void b_t20b(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("B t20 b");
    microtask(b_m_t20b, NULL);
}

static char eq100[8][16];

static void phase_b(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("B start");
    timeout(b_t20a, NULL, 20);
    timeout(log_cb, "B t1 a", 1);
    timeout(log_cb, "B t0 a", 0);
    timeout(log_cb, "B t1 b", 1);
    timeout(b_t20b, NULL, 20);
    timeout(log_cb, "B t20 c", 20);
    for (int i = 0; i < 8; i++) {
        snprintf(eq100[i], sizeof eq100[i], "B eq100 %d", i);
        timeout(log_cb, eq100[i], 100);
    }
    timeout(phase_c, NULL, 200);
}

/* ---- phase C ----------------------------------------------------------------------- */

static vow_timer_t c_x, c_y, c_w2, c_iv;

static void c_x_cb(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("C x clears y");
    check(vow_clear_timeout(l, c_y), "clear y");
    /* itself, already fired: nothing happens (Node ignores it; vow says ENOENT) */
    if (vow_clear_timeout(l, c_x) != VOW_ENOENT) {
        fprintf(stderr, "trace_timers: clearing a fired timer did not answer ENOENT\n");
        exit(1);
    }
}
static void c_w1_cb(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("C w1 clears w2");
    check(vow_clear_timeout(l, c_w2), "clear w2");
}

static int c_n;
static char c_micro_text[8][32];
static void c_iv_cb(vow_loop_t *l, void *arg) {
    (void)arg;
    c_n++;
    printf("C iv tick %d\n", c_n);
    snprintf(c_micro_text[c_n], sizeof c_micro_text[c_n], "C m from iv tick %d", c_n);
    microtask(log_cb, c_micro_text[c_n]);
    if (c_n == 3) check(vow_clear_interval(l, c_iv), "clearInterval");
}

static void phase_c(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("C start");
    c_y = timeout(log_cb, "C y (never)", 60);
    c_x = timeout(c_x_cb, NULL, 20);
    timeout(c_w1_cb, NULL, 40);
    c_w2 = timeout(log_cb, "C w2 (never)", 40);
    timeout(log_cb, "C w3", 40);
    check(vow_set_interval(loop, c_iv_cb, NULL, 100, &c_iv), "vow_set_interval");
    timeout(phase_d, NULL, 400);
}

/* ---- phase D ----------------------------------------------------------------------- */

static void d_m_imm1(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("D m from imm1");
    immediate(log_cb, "D imm2 from m (next turn, after t1)");
    uint64_t until = vow_loop_update_time(loop) + 5;
    while (vow_loop_update_time(loop) < until) {
    }
}
static void d_imm1(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("D imm1");
    microtask(d_m_imm1, NULL);
}

static void phase_d(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("D start");
    timeout(log_cb, "D t1 (next turn, first)", 1);
    immediate(d_imm1, NULL);
}

int main(void) {
    check(vow_loop_new(&loop, VOW_BACKEND_AUTO), "vow_loop_new");
    timeout(phase_a, NULL, 0);
    int rc = vow_loop_run(loop, VOW_RUN_DEFAULT);
    if (rc != 0) {
        fprintf(stderr, "trace_timers: vow_loop_run returned %d\n", rc);
        return 1;
    }
    log_line("end");
    check(vow_loop_close(loop), "vow_loop_close");
    return 0;
}
