/* promise/task.c - asyncio.create_task: the task's promise is returned at once and its
 * body starts from an immediate (asyncio's call_soon: on the next turn, after the current
 * callback and its microtasks); the task then follows the promise the body returns.
 * Cancelling the task before the start drops the start (the body never runs). */
#include "internal.h"

struct task_start {
    vow_t *task;
    vow_task_fn fn;
    void *arg;
    void (*arg_free)(void *);
};

static void task_start(vow_loop_t *loop, void *arg) {
    struct task_start *ts = arg;
    vow_t *t = ts->task;
    t->timer = 0; /* the immediate is running: nothing to clear any more */
    if (t->state != VOW_PENDING) return;
    vow_t *p = ts->fn(loop, ts->arg);
    if (t->state != VOW_PENDING) {
        /* The body cancelled its own task: its operation is cancelled too, under the
         * upstream rule (asyncio delivers the cancellation at the body's next await). */
        if (p != NULL && p->loop == loop && p->state == VOW_PENDING &&
            !vow__has_live_waiter(p, NULL))
            vow__cancel(p);
        vow__unref(p);
        return;
    }
    if (p == NULL) {
        vow__reject(t, vow_error_new(VOW_ENOMEM, "task body returned NULL"));
        return;
    }
    if (p->loop != loop || vow__closed(p)) {
        vow__unref(p);
        vow__reject(t, vow_error_new(VOW_EINVAL, "task body returned a promise of another loop"));
        return;
    }
    vow__reaction *r = vow__reaction_new(loop, VOW__R_ADOPT, t);
    if (r == NULL) {
        vow__unref(p);
        vow__reject(t, vow_error_new(VOW_ENOMEM, NULL));
        return;
    }
    vow__ref(t);
    t->flags |= VOW__F_RESOLVED;
    vow__perform_then(p, &r->rec);
    vow__unref(p);
}

vow_t *vow__task_start_task(void *arg) { return ((struct task_start *)arg)->task; }

void vow__task_start_free(void *arg) {
    struct task_start *ts = arg;
    if (ts->arg_free != NULL) ts->arg_free(ts->arg);
    vow__unref(ts->task);
    vow__free(ts);
}

/* The misuse rule (vow/promise.h, MISUSE): NULL for a NULL or closed loop and out of
 * memory; fn NULL is a promise rejected with VOW_EINVAL. arg_free(arg) runs at once on every
 * path where fn will never run. */
vow_t *vow_create_task(vow_loop_t *loop, vow_task_fn fn, void *arg, void (*arg_free)(void *)) {
    vow_t *t = NULL;
    struct task_start *ts = NULL;
    if (loop != NULL && !loop->closed && fn == NULL) {
        if (arg_free != NULL) arg_free(arg);
        return vow_rejected(loop, vow_error_new(VOW_EINVAL, "create_task: fn NULL"));
    }
    if (loop != NULL && !loop->closed) {
        t = vow__promise_new(loop, 0);
        ts = t != NULL ? vow__malloc(sizeof *ts) : NULL;
    }
    if (ts == NULL) {
        vow__unref(t);
        if (arg_free != NULL) arg_free(arg);
        return NULL;
    }
    ts->task = vow__ref(t);
    ts->fn = fn;
    ts->arg = arg;
    ts->arg_free = arg_free;
    if (vow__timer_start(loop, VOW__T_IMMEDIATE, 0, task_start, ts, VOW__REL_TASK_START,
                         &t->timer) != 0) {
        vow__task_start_free(ts);
        vow__unref(t);
        return NULL;
    }
    return t;
}
