/* src/microtask.c - the job queue (microtasks) and its drain.
 *
 * One FIFO of intrusive job nodes (src/internal.h, vow__job): a layer queues its own
 * records through the node at their head, so the reactor never knows what a job is;
 * vow_microtask wraps the user's (fn, arg) in a node from the loop's microtask pool.
 * Draining is iterative and runs to empty (ECMAScript's rule), then the after_drain of
 * each layer that asked for it runs (the promise layer reports unhandled rejections
 * there), and the whole repeats while either queued more.
 */
#include "internal.h"

/* A user microtask's node. */
typedef struct {
    vow__job job;
    vow_microtask_fn fn;
    void *arg;
} microtask_node;

size_t vow__microtask_node_size(void) { return sizeof(microtask_node); }

void vow__mq_note_work(vow_loop_t *loop) {
    if (!loop->kept && !loop->draining) {
        loop->kept = 1;
        ev_ref(loop->evl);
    }
}

static void microtask_job(vow_loop_t *loop, vow__job *job, int how) {
    microtask_node *m = (microtask_node *)job;
    vow_microtask_fn fn = m->fn;
    void *arg = m->arg;
    vow__pool_put(&loop->pools[VOW__POOL_MICROTASK], m);
    if (how == VOW__JOB_RUN) fn(loop, arg); /* dropped: the arg stays the caller's */
}

int vow_microtask(vow_loop_t *loop, vow_microtask_fn fn, void *arg) {
    if (loop == NULL || fn == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    microtask_node *m = vow__pool_alloc(&loop->pools[VOW__POOL_MICROTASK]);
    if (m == NULL) return VOW_ENOMEM;
    m->job.fn = microtask_job;
    m->fn = fn;
    m->arg = arg;
    vow__job_push(loop, &m->job);
    return 0;
}

static inline vow__job *job_pop(vow_loop_t *loop) {
    vow__job *j;
    VOW__FIFO_POP(&loop->jobs, j, next);
    if (j != NULL) loop->jobs_len--;
    return j;
}

/* The after_drain of each layer that asked since the last call (in slot order). */
static void after_drain(vow_loop_t *loop) {
    unsigned want = loop->want_after_drain;
    loop->want_after_drain = 0;
    for (int i = 0; want != 0 && i < VOW__LAYERS; i++, want >>= 1) {
        const vow__layer *ly = loop->layers[i].layer;
        if ((want & 1u) && ly != NULL && ly->after_drain != NULL)
            ly->after_drain(loop, loop->layers[i].state);
    }
}

void vow__drain(vow_loop_t *loop) {
    if (loop->draining || loop->closed) return;
    if (VOW__FIFO_EMPTY(&loop->jobs) && loop->want_after_drain == 0 && !loop->kept) return;
    loop->draining = 1;
    do {
        vow__job *j;
        while ((j = job_pop(loop)) != NULL) j->fn(loop, j, VOW__JOB_RUN);
        if (loop->want_after_drain != 0) after_drain(loop);
    } while (!VOW__FIFO_EMPTY(&loop->jobs));
    loop->draining = 0;
    if (loop->kept) {
        loop->kept = 0;
        ev_unref(loop->evl);
    }
}

void vow__jobs_discard(vow_loop_t *loop) {
    vow__job *j;
    while ((j = job_pop(loop)) != NULL) j->fn(loop, j, VOW__JOB_DROP);
}
