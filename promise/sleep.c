/* promise/sleep.c - vow_sleep: a promise fulfilled by a timer (asyncio.sleep; in
 * JavaScript, new Promise(r => setTimeout(r, ms))). The timer holds a reference to its
 * promise, released through the layer's VOW__REL_UNREF release kind; settling or
 * cancelling the promise clears the timer (promise.c, settled_cleanup). */
#include "internal.h"

static void sleep_fire(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_t *p = arg;
    p->timer = 0;
    if (p->state == VOW_PENDING) vow__fulfill(p, vow__none());
}

vow_t *vow_sleep(vow_loop_t *loop, uint64_t ms) {
    if (loop == NULL || loop->closed) return NULL;
    vow_t *p = vow__promise_new(loop, 0);
    if (p == NULL) return NULL;
    vow__ref(p); /* the timer's */
    if (vow__timer_start(loop, VOW__T_TIMEOUT, ms, sleep_fire, p, VOW__REL_UNREF, &p->timer) != 0) {
        vow__unref(p);
        vow__unref(p);
        return NULL;
    }
    return p;
}
