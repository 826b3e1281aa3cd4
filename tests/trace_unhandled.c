/* tests/trace_unhandled.c - the C twin of tests/js/trace_unhandled.js.
 *
 * The order of the unhandled and handled-late reports within one drain (Node's
 * processPromiseRejections): the rejections handled late are reported before the new
 * unhandled ones, each kind in the order it happened; the rejection hook's own work (a
 * microtask, a new rejection, a handler it attaches) shows up in the next round, after the
 * microtasks it queued. Every rejection is an error whose message is a one-letter name;
 * the hook prints it, and the handlers print what they caught. tests/compare.sh diffs the
 * output against node's.
 *
 * Phases (each a drain of its own):
 *   main    A B C E J K become unhandled; D is rejected and handled in the same drain (no
 *           report). The hook for A queues a microtask, rejects A2, catches C (later in the
 *           same batch: Node reports C anyway and never reports it handled) and catches A
 *           itself (handled late in the next round, before A2 is reported).
 *   t1      B handled late in the timer callback, E and J handled late from a microtask
 *           chain, K handled late from the hook for J (same round); F H new in the
 *           callback, G new in the chain, L new from the hook for E, M rejected and handled
 *           in the chain (no report).
 *   t2, t3  two timer callbacks due at the same time: each handles one earlier rejection
 *           late and makes a new one; t3 also handles G late from a microtask.
 * The program exits non-zero when a call answers something unexpected, which fails the
 * comparison. */
#include <stdio.h>
#include <string.h>

#include "vow.h"
#include "trace.h"

static vow_loop_t *loop;

static void log_pair(const char *a, const char *b) { printf("%s %s\n", a, b); }

/* The rejected promises by name (one reference each, released at the end). */
enum { NAMES = 20 };
static const char *const names[NAMES] = {"A", "A2", "B", "C", "D", "E", "F", "G",
                                         "H", "J",  "K", "L", "M", "N", "O"};
static vow_t *promises[NAMES];

static int index_of(const char *name) {
    for (int i = 0; i < NAMES && names[i] != NULL; i++)
        if (strcmp(names[i], name) == 0) return i;
    fprintf(stderr, "unknown name %s\n", name);
    failures++;
    return NAMES - 1;
}

static void rej(const char *name) {
    int i = index_of(name);
    EXPECT(promises[i] == NULL);
    promises[i] = vow_rejected(loop, vow_error_new(VOW_EINVAL, names[i]));
    EXPECT(promises[i] != NULL);
}

static vow_result_t caught(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    (void)ctx;
    log_pair("caught", vow_error_message(e));
    return vow_ok_none();
}

static void handle(const char *name) {
    vow_t *c = vow_catch(vow_ref(promises[index_of(name)]), caught, NULL, NULL);
    EXPECT(c != NULL);
    vow_unref(c);
}

static void m_log(vow_loop_t *l, void *arg) {
    (void)l;
    log_line(arg);
}
static void m_handle(vow_loop_t *l, void *arg) {
    (void)l;
    handle(arg);
}

static void hook(vow_loop_t *l, vow_t *p, vow_error_t *err, vow_rejection_event_t ev, void *ctx) {
    (void)ctx;
    const char *name = vow_error_message(err);
    EXPECT(vow_error(p) == err);
    if (ev == VOW_REJECTION_UNHANDLED) {
        log_pair("unhandled", name);
        if (strcmp(name, "A") == 0) {
            EXPECT(vow_microtask(l, m_log, "hook A micro") == 0);
            rej("A2");
            handle("C");
            handle("A");
        }
    } else {
        EXPECT(ev == VOW_REJECTION_HANDLED_LATE);
        EXPECT(p == promises[index_of(name)]);
        log_pair("handled-late", name);
        if (strcmp(name, "E") == 0) rej("L");
        if (strcmp(name, "J") == 0) handle("K");
    }
}

static void t3(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("t3");
    handle("H");
    rej("O");
    EXPECT(vow_microtask(l, m_handle, "G") == 0);
}
static void t2(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("t2");
    handle("F");
    rej("N");
}

static vow_result_t m1(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    (void)v;
    (void)ctx;
    log_line("m1");
    handle("E");
    rej("G");
    rej("M");
    return vow_ok_none();
}
static vow_result_t m2(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    (void)v;
    (void)ctx;
    log_line("m2");
    handle("J");
    handle("M");
    return vow_ok_none();
}

static void t1(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("t1");
    handle("B");
    rej("F");
    vow_t *c = vow_then(vow_resolved(l, vow_none()), m1, NULL, NULL, NULL);
    vow_unref(vow_then(c, m2, NULL, NULL, NULL));
    rej("H");
    EXPECT(vow_set_timeout(l, t2, NULL, 10, NULL) == 0);
    EXPECT(vow_set_timeout(l, t3, NULL, 10, NULL) == 0);
}

int main(void) {
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return 1;
    /* Node prints nothing of its own while a listener is installed. */
    if (vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT) != 0) return 1;
    if (vow_set_rejection_hook(loop, hook, NULL) != 0) return 1;

    rej("A");
    rej("B");
    rej("C");
    rej("D");
    if (vow_microtask(loop, m_handle, "D") != 0) return 1;
    rej("E");
    rej("J");
    rej("K");
    if (vow_set_timeout(loop, t1, NULL, 10, NULL) != 0) return 1;

    int rc = vow_loop_run(loop, VOW_RUN_DEFAULT);
    for (int i = 0; i < NAMES; i++) vow_unref(promises[i]);
    if (rc != 0 || failures != 0) return 1;
    return vow_loop_close(loop) == 0 ? 0 : 1;
}
