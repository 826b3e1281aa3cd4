/* promise/run.c - vow_run (asyncio.run's "run until this settles") and the outcome it
 * hands back. */
#include "internal.h"

static int settled(void *arg) { return ((vow_t *)arg)->state != VOW_PENDING; }

int vow_run(vow_loop_t *loop, vow_t *p, vow_outcome_t *out) {
    if (out != NULL) {
        out->state = VOW_PENDING;
        out->value = vow__none();
        out->error = NULL;
    }
    int rc;
    if (loop == NULL || p == NULL || (p->loop != loop && !vow__closed(p)))
        rc = VOW_EINVAL;
    else if (loop->closed || vow__closed(p))
        rc = VOW_ECLOSED;
    else {
        /* Awaiting p handles it. */
        vow__tracker_handle(p);
        p->flags |= VOW__F_HANDLED;
        /* p's settlement ends the run (vow__loop_run_until, not polled): a record on p,
         * on this stack, whose job wakes the run, queued even where nothing else reacts
         * to p (a raw libev callback calling vow_resolve). Its derived promise is NULL, so
         * it never counts as a live waiter of p (the upstream rule of cancellation). */
        vow__reaction watch;
        vow__rec_init(&watch.rec, VOW__R_RUN_WAKE, NULL, VOW__RF_EMBEDDED);
        if (p->state == VOW_PENDING) vow__perform_then(p, &watch.rec);
        rc = vow__loop_run_until(loop, settled, p, 0);
        /* Settled: its job has run (each run ends with a drain). Else it still waits. */
        vow__assert(watch.rec.state != VOW__RS_QUEUED, "vow_run's record still queued");
        if (watch.rec.state == VOW__RS_WAITING) vow__unlink_waiter(&watch.rec);
    }
    if (rc == 0 && out != NULL) {
        out->state = (vow_state_t)p->state;
        if (p->state == VOW_FULFILLED)
            out->value = vow_value_share(&p->value);
        else
            out->error = vow_error_ref(p->error);
    }
    vow__unref(p);
    return rc;
}

void vow_outcome_release(vow_outcome_t *out) {
    if (out == NULL) return;
    vow__value_release(&out->value);
    if (out->error != NULL) vow_error_unref(out->error);
    out->error = NULL;
    out->state = VOW_PENDING;
}

/* ---- asyncio.run's exit: cancel what is left, drain, close ------------------------------ */

/* The promises the layer's timers keep the loop alive for, each referenced. */
typedef struct sweep {
    vow_t **p;
    size_t n, cap;
    int oom;
} sweep;

static void sweep_add(sweep *s, vow_t *p) {
    if (s->oom || p->state != VOW_PENDING) return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        vow_t **np = vow__realloc(s->p, cap * sizeof *np);
        if (np == NULL) {
            s->oom = 1;
            return;
        }
        s->p = np;
        s->cap = cap;
    }
    s->p[s->n++] = vow__ref(p);
}

/* VOW__REL_UNREF timers hold a promise: a vow_sleep, a vow_timeout's result, a vow_wait's
 * result, a task group's join; VOW__REL_TASK_START immediates start a task. */
static void sweep_promise(void *arg, void *ctx) { sweep_add(ctx, arg); }
static void sweep_task(void *arg, void *ctx) { sweep_add(ctx, vow__task_start_task(arg)); }
static void sweep_coro_start(void *arg, void *ctx) { sweep_add(ctx, vow__coro_start_promise(arg)); }
static void sweep_work(vow_t *p, void *ctx) { sweep_add(ctx, p); }

/* Rounds of: cancel every promise a timer of this layer holds, then run the reactions
 * that queued (cancellation reactions, finally callbacks). A reaction that starts new
 * timed work has it cancelled in the next round. Bounded: a program that answers every
 * cancellation with new work is cut off by the forced teardown that follows. */
static int no_coro_finishing(void *arg) { return vow__coros_finishing(arg) == 0; }

enum { SHUTDOWN_ROUNDS = 64 };
static void cancel_what_is_left(vow_loop_t *loop) {
    sweep s = {NULL, 0, 0, 0};
    for (int round = 0; round < SHUTDOWN_ROUNDS && !loop->closed; round++) {
        s.n = 0;
        /* Coroutines first: a cancel is their request, and it reaches what each awaits
         * under the upstream rule; a sleep cancelled first would resume the coroutine with
         * its rejection, and the request would then come at the cleanup's first await. */
        vow__coros_each(loop, sweep_work, &s);
        vow__timers_each(loop, VOW__REL_TASK_START, sweep_task, &s);
        vow__timers_each(loop, VOW__REL_CORO_START, sweep_coro_start, &s);
        vow__timers_each(loop, VOW__REL_UNREF, sweep_promise, &s);
        vow__works_each(loop, sweep_work, &s);       /* jobs of the pool, queued or running */
        vow__io_each_promise(loop, sweep_work, &s);  /* fd, signal and child waiters */
        vow__net_each_promise(loop, sweep_work, &s); /* socket operations, accepts */
        for (size_t i = 0; i < s.n; i++) {
            vow_t *p = s.p[i];
            if (p->state == VOW_PENDING && !vow__closed(p)) vow__cancel(p);
            vow__unref(p);
        }
        /* Async generators still suspended: closed, once (after the sweep: their cleanup
         * starts now, and what it awaits is not this round's to cancel). */
        vow__gens_close(loop);
        /* Signal streams: closed, as asyncio.run's loop removes its signal handlers (a
         * stream keeps the loop alive while it is open). */
        vow__signal_streams_close(loop);
        vow__drain(loop);
        /* The coroutines cancelled (and generators closed) finish as asyncio.run lets its
         * cancelled tasks finish: the loop runs until they have, so their cleanup may
         * await, a sleep included (ENEVER: what they await can never settle; the
         * teardown resumes them). Timers other cleanup code starts are cancelled in the
         * next round. */
        if (vow__coros_finishing(loop) > 0) {
            loop->running = 0;
            int rc = vow__loop_run_until(loop, no_coro_finishing, loop, 1);
            loop->running = 1;
            if (rc != 0 && rc != VOW_ENEVER) break;
        }
        if (s.n == 0 || s.oom) break;
    }
    vow__free(s.p);
}

int vow_run_main(vow_loop_t *loop, vow_t *p, vow_outcome_t *out) {
    int rc = vow_run(loop, p, out);
    if (loop == NULL || rc == VOW_EREENTRANT) return rc; /* nothing we may free */
    if (!loop->closed) {
        /* Running, for what the cancellations call (cancel callbacks, destructors, the
         * reactions): vow_loop_free / vow_loop_close / vow_run from there answer
         * VOW_EREENTRANT, so the loop stays ours until the end. */
        loop->running = 1;
        cancel_what_is_left(loop);
        vow__drain(loop);
        /* As asyncio.run shuts its default executor down: the jobs already running were
         * told (vow_work_cancelled); wait for them to come back. */
        vow__works_wait(loop);
        loop->running = 0;
        vow_loop_free(loop);
    }
    return rc;
}

int vow_exit_status(int rc, const vow_outcome_t *out) {
    if (rc == VOW_ENEVER) return 13; /* Node's exit code for an unsettled top-level await */
    if (rc != 0) return 1;
    return out != NULL && out->state == VOW_FULFILLED ? 0 : 1;
}

int vow_main(vow_t *(*fn)(vow_loop_t *loop, void *arg), void *arg) {
    if (fn == NULL) {
        fprintf(stderr, "vow_main: %s\n", vow_strerror(VOW_EINVAL));
        return 1;
    }
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) {
        fprintf(stderr, "vow_main: vow_loop_new: %s\n", vow_strerror(rc));
        return 1;
    }
    vow_outcome_t out;
    rc = vow_run_main(loop, fn(loop, arg), &out);
    int status = vow_exit_status(rc, &out);
    if (rc == 0 && out.state == VOW_REJECTED) {
        char buf[512];
        vow_error_format(out.error, buf, sizeof buf);
        fprintf(stderr, "vow_main: uncaught rejection: %s\n", buf);
    } else if (rc != 0) {
        fprintf(stderr, "vow_main: %s\n", vow_strerror(rc));
    }
    vow_outcome_release(&out);
    return status;
}
