/* timers_demo - setTimeout, setInterval, setImmediate and queueMicrotask, in the order
 * Node.js runs them.
 *
 * The same program in JavaScript prints the same lines (node timers_demo.js):
 *
 *     console.log('script start');
 *     setTimeout(() => {
 *         console.log('timeout 1 ms: schedules an immediate, a timeout, a microtask, an interval');
 *         setImmediate(() => {
 *             console.log('immediate');
 *             queueMicrotask(() => console.log('microtask queued by the immediate'));
 *         });
 *         setTimeout(() => console.log('timeout 0 ms (after the immediate: check phase first)'), 0);
 *         queueMicrotask(() => console.log('microtask queued by the timeout'));
 *         let ticks = 0;
 *         const id = setInterval(() => {
 *             ticks++;
 *             console.log(`interval tick ${ticks}`);
 *             if (ticks === 3) { clearInterval(id); console.log('interval cleared'); }
 *         }, 10);
 *         console.log('timeout 1 ms: returns');
 *     }, 1);
 *     queueMicrotask(() => console.log('microtask queued by the script'));
 *     console.log('script end');
 *
 * Everything is scheduled from inside a timer callback, where Node defines the order (a
 * top-level setTimeout(0) against setImmediate is a race in Node). What it shows:
 * microtasks run as soon as the current callback returns; an immediate queued by a timer
 * runs before a 0 ms timeout queued by the same timer; an interval cleared from its own
 * callback fires no more, and then nothing keeps the loop alive. */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

static vow_timer_t interval_id;
static int ticks;

static void check(int rc, const char *what) {
    if (rc < 0) {
        fprintf(stderr, "timers_demo: %s: %s (%s)\n", what, vow_strerror(rc), vow_err_name(rc));
        exit(1);
    }
}

static void say(vow_loop_t *loop, void *text) {
    (void)loop;
    printf("%s\n", (const char *)text);
}

static void on_immediate(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("immediate\n");
    check(vow_microtask(loop, say, "microtask queued by the immediate"), "vow_microtask");
}

static void on_tick(vow_loop_t *loop, void *arg) {
    (void)arg;
    ticks++;
    printf("interval tick %d\n", ticks);
    if (ticks == 3) {
        check(vow_clear_interval(loop, interval_id), "vow_clear_interval");
        printf("interval cleared\n");
    }
}

static void on_first_timeout(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("timeout 1 ms: schedules an immediate, a timeout, a microtask, an interval\n");
    check(vow_set_immediate(loop, on_immediate, NULL, NULL), "vow_set_immediate");
    check(vow_set_timeout(loop, say, "timeout 0 ms (after the immediate: check phase first)", 0,
                          NULL),
          "vow_set_timeout");
    check(vow_microtask(loop, say, "microtask queued by the timeout"), "vow_microtask");
    check(vow_set_interval(loop, on_tick, NULL, 10, &interval_id), "vow_set_interval");
    printf("timeout 1 ms: returns\n");
}

int main(void) {
    /* Line-buffered even when piped, so the order on screen is the order of the calls. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    vow_loop_t *loop = NULL;
    check(vow_loop_new(&loop, VOW_BACKEND_AUTO), "vow_loop_new");

    printf("script start\n");
    check(vow_set_timeout(loop, on_first_timeout, NULL, 1, NULL), "vow_set_timeout");
    check(vow_microtask(loop, say, "microtask queued by the script"), "vow_microtask");
    printf("script end\n");

    /* Runs until nothing is left: the interval cleared itself, so the loop returns 0. */
    check(vow_loop_run(loop, VOW_RUN_DEFAULT), "vow_loop_run");
    check(vow_loop_close(loop), "vow_loop_close");
    return 0;
}
