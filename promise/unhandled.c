/* promise/unhandled.c - unhandled rejections (HostPromiseRejectionTracker, with Node.js's
 * reporting): a rejected promise with no handler when the microtask queue drains is
 * reported once, through the hook and then the mode (warn, strict, silent); a handler
 * attached after the report is reported as "handled late".
 *
 * Node's processPromiseRejections works in rounds: first the rejections handled late
 * (with those the hook handles late meanwhile), then the ones unhandled when the round
 * began, minus those handled since. The batch is taken off the list first, so the hook's
 * new rejections wait for the next round, and a batch member the hook handles is still
 * reported (and never as handled late), as in Node. Rounds repeat while no microtask waits
 * (the drain runs those first, then calls again) and a list holds something.
 * tests/trace_unhandled.c compares all of it with node.
 */
#include "internal.h"

/* A listed promise holds a reference; one handled before the drain stays listed and is
 * skipped then. */
static void list_append(vow__promise_fifo *q, vow_t *p) {
    p->flags |= VOW__F_LISTED;
    vow__ref(p);
    VOW__FIFO_PUSH(q, p, list_next);
    vow__loop_want_after_drain(p->loop, VOW__LAYER_PROMISE); /* report at the drain's end */
}

static vow_t *list_pop(vow__promise_fifo *q) {
    vow_t *p;
    VOW__FIFO_POP(q, p, list_next);
    if (p != NULL) p->flags &= (uint16_t)~VOW__F_LISTED;
    return p;
}

void vow__tracker_reject(vow_t *p) {
    if ((p->flags & VOW__F_HANDLED) || vow_is_cancellation(p->error)) return;
    struct vow__promise_layer *pl = vow__pl(p->loop);
    list_append(&pl->unhandled, p);
}

void vow__tracker_handle(vow_t *p) {
    if (p->state != VOW_REJECTED || (p->flags & VOW__F_HANDLED)) return;
    /* Not reported yet (listed): the drain will skip it once the caller marks it handled
     * (unless its batch is being reported: see vow__unhandled_report). */
    if ((p->flags & VOW__F_REPORTED) && !(p->flags & VOW__F_LISTED)) {
        struct vow__promise_layer *pl = vow__pl(p->loop);
        list_append(&pl->handled_late, p);
    }
}

static void report(vow_loop_t *loop, struct vow__promise_layer *pl, vow_t *p,
                   vow_rejection_event_t ev) {
    if (pl->hook != NULL) pl->hook(loop, p, p->error, ev, pl->hook_ctx);
    if (pl->mode == VOW_UNHANDLED_SILENT) return;
    if (ev == VOW_REJECTION_UNHANDLED) {
        char buf[512];
        size_t n = vow_error_format(p->error, buf, sizeof buf);
        fprintf(stderr, "vow: unhandled promise rejection (rejection id: %u): %s%s\n",
                p->rejection_id, buf, n >= sizeof buf ? "..." : "");
        if (pl->mode == VOW_UNHANDLED_STRICT) {
            fflush(stderr);
            abort();
        }
    } else {
        fprintf(stderr, "vow: promise rejection was handled asynchronously (rejection id: %u)\n",
                p->rejection_id);
    }
}

void vow__unhandled_report(vow_loop_t *loop, void *state) {
    struct vow__promise_layer *pl = state;
    vow_t *p;
    do {
        while ((p = list_pop(&pl->handled_late)) != NULL) {
            report(loop, pl, p, VOW_REJECTION_HANDLED_LATE);
            vow__unref(p);
        }
        vow__promise_fifo batch = {NULL, NULL};
        while ((p = list_pop(&pl->unhandled)) != NULL) {
            if (!(p->flags & VOW__F_HANDLED)) list_append(&batch, p);
            vow__unref(p);
        }
        while ((p = list_pop(&batch)) != NULL) {
            p->flags |= VOW__F_REPORTED;
            p->rejection_id = ++pl->rejection_ids;
            report(loop, pl, p, VOW_REJECTION_UNHANDLED);
            vow__unref(p);
        }
    } while (VOW__FIFO_EMPTY(&loop->jobs) &&
             (pl->unhandled.head != NULL || pl->handled_late.head != NULL));
    /* Jobs came first (the hook queued them): the next round after they have run. (The
     * batch's own appends asked too: only what is left counts.) */
    loop->want_after_drain &= ~(1u << VOW__LAYER_PROMISE);
    if (pl->unhandled.head != NULL || pl->handled_late.head != NULL)
        vow__loop_want_after_drain(loop, VOW__LAYER_PROMISE);
}

void vow__unhandled_clear(vow_loop_t *loop) {
    struct vow__promise_layer *pl = vow__pl(loop);
    vow_t *p;
    while ((p = list_pop(&pl->unhandled)) != NULL) vow__unref(p);
    while ((p = list_pop(&pl->handled_late)) != NULL) vow__unref(p);
}

void vow__unhandled_verify(const vow_loop_t *loop) {
    const struct vow__promise_layer *pl = vow__pl(loop);
    const vow_t *last = NULL;
    for (const vow_t *p = pl->unhandled.head; p != NULL; p = p->list_next) {
        vow__assert(p->state == VOW_REJECTED && (p->flags & VOW__F_LISTED) && p->refcnt > 0,
                    "unhandled list holds a promise that is not a listed rejection");
        last = p;
    }
    vow__assert(last == pl->unhandled.tail, "unhandled list tail");
    last = NULL;
    for (const vow_t *p = pl->handled_late.head; p != NULL; p = p->list_next) {
        vow__assert(p->state == VOW_REJECTED && (p->flags & VOW__F_REPORTED),
                    "handled-late list holds a promise never reported");
        last = p;
    }
    vow__assert(last == pl->handled_late.tail, "handled-late list tail");
}

int vow_set_rejection_hook(vow_loop_t *loop, vow_rejection_hook hook, void *ctx) {
    if (loop == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    vow__pl(loop)->hook = hook;
    vow__pl(loop)->hook_ctx = ctx;
    return 0;
}

int vow_set_unhandled_mode(vow_loop_t *loop, vow_unhandled_mode_t mode) {
    if (loop == NULL || (mode != VOW_UNHANDLED_WARN && mode != VOW_UNHANDLED_STRICT &&
                         mode != VOW_UNHANDLED_SILENT))
        return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    vow__pl(loop)->mode = mode;
    return 0;
}
