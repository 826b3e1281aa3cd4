/* promise/ratelimit.c - the rate limiter (vow/ratelimit.h): GCRA on the loop's clock, a line
 * of waiters (promise/waiter.c) served in arrival order, one timer for the first waiter's
 * time, and sync.c's handoff rule for a grant whose waiter is cancelled before its
 * fulfilment job runs.
 *
 * Invariant: while the `wait` line is not empty, the timer is armed (for due(rl), the time
 * the next grant is possible), except for the moment a timer could not be armed, after
 * which the line is emptied (its waiters rejected). A waiter in `resv` was handed a grant
 * (taken from the bucket) and holds a second reference for its queued job.
 */
#include "internal.h"
#include "vow/ratelimit.h"

struct vow_rate_limiter {
    vow_loop_t *loop;
    vow_t *anchor;     /* a promise that keeps the loop's memory valid (owned) */
    vow__wline wait;   /* waiting for a grant, in arrival order */
    vow__wline resv;   /* handed a grant, their fulfilment job queued */
    uint64_t interval; /* ms between grants */
    uint64_t span;     /* (burst - 1) * interval: how far TAT may run ahead of the clock */
    uint64_t tat;      /* the theoretical arrival time (loop clock, ms) */
    vow_timer_t timer; /* armed while waiters wait; 0 */
};

static int rl_closed(const vow_rate_limiter_t *rl) { return vow__closed(rl->anchor); }

/* The earliest time a grant is possible. */
static uint64_t due(const vow_rate_limiter_t *rl) {
    return rl->tat > rl->span ? rl->tat - rl->span : 0;
}

static void take(vow_rate_limiter_t *rl, uint64_t now) {
    rl->tat = (rl->tat > now ? rl->tat : now) + rl->interval;
}

/* A grant nobody will use goes back to the bucket. */
static void give_back(vow_rate_limiter_t *rl) {
    rl->tat = rl->tat > rl->interval ? rl->tat - rl->interval : 0;
}

/* ---- the handoff ------------------------------------------------------------------------ */
/* Hands a grant (already taken) to w, the first waiting: its promise fulfils one job later
 * (promise/waiter.c's grant job). */
static void reserve(vow_rate_limiter_t *rl, vow__waiter *w) {
    vow__waiter_reserve(w, &rl->resv, vow__waiter_grant_job);
}

/* ---- the timer -------------------------------------------------------------------------- */
static void timer_fire(vow_loop_t *loop, void *arg);

/* Stops the timer when nobody waits; arms it for due(rl) when somebody does. 0 or
 * VOW_ENOMEM (the timer could not be armed). */
static int arm(vow_rate_limiter_t *rl) {
    vow_loop_t *loop = rl->loop;
    if (rl->wait.head == NULL) {
        if (rl->timer != 0) vow__timer_clear(loop, rl->timer, 0);
        rl->timer = 0;
        return 0;
    }
    if (rl->timer != 0) return 0;
    uint64_t now = loop->now_ms, at = due(rl);
    /* The timer measures from the clock it reads when set (>= now): it fires at `at` or
     * later, never earlier. */
    return vow__timer_start(loop, VOW__T_TIMEOUT, at > now ? at - now : 1, timer_fire, rl, 0,
                            &rl->timer);
}

/* Grants what the clock allows, in arrival order, then re-arms. */
static int pump(vow_rate_limiter_t *rl) {
    uint64_t now = vow_loop_update_time(rl->loop);
    while (rl->wait.head != NULL && due(rl) <= now) {
        take(rl, now);
        reserve(rl, rl->wait.head);
    }
    return arm(rl);
}

/* Rejects every waiter still waiting (the timer that would serve them cannot be armed). */
static void fail_waiting(vow_rate_limiter_t *rl) {
    vow__waiter *w;
    while ((w = rl->wait.head) != NULL) {
        vow__waiter_leave(w);
        w->state = VOW__W_DONE;
        vow__waiter_reject(w, vow_error_new(VOW_ENOMEM, "rate limiter: cannot arm its timer"));
    }
}

static void timer_fire(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_rate_limiter_t *rl = arg;
    rl->timer = 0;
    if (pump(rl) != 0) fail_waiting(rl);
}

/* A waiter's promise is being cancelled while pending. */
static void on_cancel(vow__waiter *w) {
    vow_rate_limiter_t *rl = w->owner;
    int reserved = w->state == VOW__W_RESERVED;
    vow__waiter_leave(w);
    w->state = VOW__W_DONE;
    if (reserved) {
        if (rl->wait.head != NULL)
            reserve(rl, rl->wait.head); /* the next waiter gets the grant, now */
        else
            give_back(rl);
    }
    if (!rl_closed(rl)) arm(rl); /* the line only shrank: this can only stop the timer */
}

static const struct vow__waiter_ops waiter_ops = {on_cancel, NULL};

/* ---- the API ---------------------------------------------------------------------------- */
vow_rate_limiter_t *vow_rate_limiter_new(vow_loop_t *loop, uint64_t interval_ms, uint32_t burst) {
    if (loop == NULL || loop->closed || interval_ms == 0 || interval_ms > UINT32_MAX || burst == 0)
        return NULL;
    vow_rate_limiter_t *rl = vow__malloc(sizeof *rl);
    vow_t *anchor = rl != NULL ? vow__promise_new(loop, 0) : NULL;
    if (anchor == NULL) {
        vow__free(rl);
        return NULL;
    }
    *rl = (vow_rate_limiter_t){.loop = loop,
                               .anchor = anchor,
                               .interval = interval_ms,
                               .span = (uint64_t)(burst - 1) * interval_ms};
    return rl;
}

void vow_rate_limiter_free(vow_rate_limiter_t *rl) {
    if (rl == NULL) return;
    if (!rl_closed(rl) && rl->timer != 0) vow__timer_clear(rl->loop, rl->timer, 0);
    rl->timer = 0;
    vow__wline *lines[2] = {&rl->wait, &rl->resv};
    for (int i = 0; i < 2; i++) {
        vow__waiter *w;
        while ((w = lines[i]->head) != NULL) {
            w->owner = NULL;
            w->state = VOW__W_DONE;
            vow__waiter_abandon(w);
        }
    }
    vow__unref(rl->anchor);
    vow__free(rl);
}

vow_t *vow_rate_limiter_acquire(vow_rate_limiter_t *rl) {
    if (rl == NULL || rl_closed(rl)) return NULL;
    vow_loop_t *loop = rl->loop;
    uint64_t now = vow_loop_update_time(loop);
    if (rl->wait.head == NULL && due(rl) <= now) {
        vow_t *p = vow_resolved(loop, vow__none());
        if (p != NULL) take(rl, now);
        return p;
    }
    vow__waiter *w;
    vow_t *p = vow__waiter_new(loop, sizeof(vow__waiter), &rl->wait, &waiter_ops, rl, &w);
    if (p == NULL) return NULL;
    if (pump(rl) != 0) {
        /* Only the first waiter arms the timer: p is alone in the line. It leaves it
         * unseen (a cancellation is never reported), and the caller gets NULL. */
        w->owner = NULL;
        vow__waiter_abandon(w);
        vow__unref(p);
        return NULL;
    }
    return p;
}

/* vow_rate_limit's call: fn and its argument. */
struct call {
    vow_task_fn fn;
    void *arg;
    void (*arg_free)(void *);
};

static vow_result_t call_run(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    struct call *c = ctx;
    return vow_follow(c->fn(loop, c->arg));
}

static void call_free(void *ctx) {
    struct call *c = ctx;
    if (c->arg_free != NULL) c->arg_free(c->arg);
    vow__free(c);
}

vow_t *vow_rate_limit(vow_rate_limiter_t *rl, vow_task_fn fn, void *arg, void (*arg_free)(void *)) {
    struct call *c = NULL;
    if (rl == NULL || rl_closed(rl)) goto fail;
    if (fn == NULL) {
        if (arg_free != NULL) arg_free(arg);
        return vow_rejected(rl->loop, vow_error_new(VOW_EINVAL, "vow_rate_limit: fn is NULL"));
    }
    if ((c = vow__malloc(sizeof *c)) == NULL) goto fail;
    *c = (struct call){.fn = fn, .arg = arg, .arg_free = arg_free};
    uint64_t tat = rl->tat;
    vow_t *g = vow_rate_limiter_acquire(rl);
    if (g == NULL) goto fail;
    vow_t *d = vow_then(vow__ref(g), call_run, NULL, c, call_free); /* NULL: c freed */
    if (d == NULL) {
        /* Out of memory: the grant goes back (taken at once, or a waiter's). */
        if (g->state != VOW_PENDING)
            rl->tat = tat;
        else
            vow__cancel(g);
    }
    vow__unref(g);
    return d;
fail:
    if (c != NULL)
        call_free(c);
    else if (arg_free != NULL)
        arg_free(arg);
    return NULL;
}
