/* promise/run.c - vow_run (asyncio.run's "run until this settles") and the outcome it
 * hands back. */
#include "internal.h"

static int settled(void *arg) { return ((vow_t *)arg)->state != VOW_PENDING; }

int vow_run(vow_loop_t *loop, vow_t *p, vow_outcome_t *out) {
    if (out != NULL) {
        out->state = VOW_PENDING;
        out->value = vow_none();
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
        rc = vow__loop_run_until(loop, settled, p);
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
    vow_value_release(&out->value);
    vow_error_unref(out->error);
    out->error = NULL;
    out->state = VOW_PENDING;
}
