/* src/microtask.c - the job queue (microtasks) and its drain.
 *
 * One FIFO of intrusive job nodes (src/internal.h, vow__job): a layer queues its own
 * records through the node at their head, so the reactor never knows what a job is.
 * vow_microtask's (fn, arg) pairs wait in a ring; each run of consecutive ones is a marker
 * node in the queue (the loop's own marker, or one from the microtask pool when the own
 * one is queued already), so they keep their place among the other jobs.
 * Draining is iterative and runs to empty (ECMAScript's rule), then the after_drain of
 * each layer that asked for it runs (the promise layer reports unhandled rejections
 * there), and the whole repeats while either queued more.
 */
#include "internal.h"

/* The ring keeps this many slots (64 KiB) across drains; a bigger one, grown by a burst,
 * goes back once it is empty. */
#define MT_RING_KEEP 4096u

/* Work queued outside a drain: keep the loop alive for it, and feed the drain watcher
 * (src/loop.c), so that it runs right after the callback that queued the work, whoever's
 * callback that is, before the next one: Node's microtask checkpoint after every
 * callback. Fed outside the libev loop (the application's code around a wrapped loop's
 * ev_run), it runs when ev_run is next entered: libev invokes what is pending first,
 * before it polls. */
void vow__mq_note_work(vow_loop_t *loop) {
    if (!loop->kept && !loop->draining) {
        loop->kept = 1;
        ev_ref(loop->evl);
        if (!ev_is_pending(&loop->drain_w)) ev_feed_event(loop->evl, &loop->drain_w, EV_CUSTOM);
    }
}

/* ---- user microtasks ------------------------------------------------------------------------ */

static int mt_grow(vow_loop_t *loop) {
    size_t cap = loop->mt_cap ? loop->mt_cap * 2 : 16;
    if (cap > SIZE_MAX / 2 / sizeof(vow__mt)) return VOW_ENOMEM;
    vow__mt *ring = vow__malloc(cap * sizeof *ring);
    if (ring == NULL) return VOW_ENOMEM;
    for (size_t i = 0; i < loop->mt_len; i++)
        ring[i] = loop->mt_ring[(loop->mt_head + i) & (loop->mt_cap - 1)];
    vow__free(loop->mt_ring);
    loop->mt_ring = ring;
    loop->mt_cap = cap;
    loop->mt_head = 0;
    return 0;
}

/* A marker's turn: run (or, at forced teardown, drop) its entries of the ring, in order.
 * While it runs with nothing else queued, a microtask its entries queue joins this run
 * (mt_run_left) rather than a new marker: nothing was queued between them, so FIFO holds,
 * and a chain of microtasks costs no marker per link. */
static void marker_job(vow_loop_t *loop, vow__job *job, int how) {
    vow__mt_marker *m = (vow__mt_marker *)job;
    /* Never nested: a marker runs from the drain, which does not re-enter, or from the
     * teardown's discard, which runs no microtask. */
    vow__assert(!loop->mt_running && loop->mt_run_left == 0, "microtask runs nested");
    loop->mt_run_left = m->count;
    /* Free the marker first: once something else is queued, a microtask starts a new run
     * at the queue's tail (these entries come before it in the ring). */
    loop->mt_markers--;
    if (m == &loop->mt_marker)
        loop->mt_marker_queued = 0;
    else
        vow__pool_put(&loop->pools[VOW__POOL_MICROTASK], m);
    loop->mt_running = how == VOW__JOB_RUN;
    while (loop->mt_run_left > 0) {
        loop->mt_run_left--;
        vow__mt e = loop->mt_ring[loop->mt_head];
        loop->mt_head = (loop->mt_head + 1) & (loop->mt_cap - 1);
        loop->mt_len--;
        if (how == VOW__JOB_RUN) e.fn(loop, e.arg); /* dropped: the arg stays the caller's */
    }
    loop->mt_running = 0;
    if (loop->mt_len == 0 && loop->mt_cap > MT_RING_KEEP) { /* a burst is over */
        vow__free(loop->mt_ring);
        loop->mt_ring = NULL;
        loop->mt_cap = loop->mt_head = 0;
    }
}

int vow_microtask(vow_loop_t *loop, vow_microtask_fn fn, void *arg) {
    if (loop == NULL || fn == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    if (loop->mt_len == loop->mt_cap && mt_grow(loop) != 0) return VOW_ENOMEM;
    vow__job *tail = loop->jobs.tail;
    if (tail == NULL && loop->mt_running) {
        loop->mt_run_left++; /* the running run grows (see marker_job) */
    } else if (tail != NULL && tail->fn == marker_job) {
        ((vow__mt_marker *)tail)->count++; /* the run at the tail grows */
        vow__mq_note_work(loop);
    } else {
        vow__mt_marker *m = &loop->mt_marker;
        if (loop->mt_marker_queued) {
            m = vow__pool_alloc(&loop->pools[VOW__POOL_MICROTASK]);
            if (m == NULL) return VOW_ENOMEM;
        } else {
            loop->mt_marker_queued = 1;
        }
        m->count = 1;
        m->job.fn = marker_job;
        loop->mt_markers++;
        vow__job_push(loop, &m->job);
    }
    loop->mt_ring[(loop->mt_head + loop->mt_len) & (loop->mt_cap - 1)] = (vow__mt){fn, arg};
    loop->mt_len++;
    return 0;
}

void vow__microtasks_free(vow_loop_t *loop) {
    vow__assert(loop->mt_len == 0 && loop->mt_markers == 0, "microtasks left at teardown");
    vow__free(loop->mt_ring);
    loop->mt_ring = NULL;
    loop->mt_cap = loop->mt_head = 0;
}

/* ---- the queue ------------------------------------------------------------------------------ */

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
    loop->held = 0; /* (vow__callback_begin's mark: this is the drain it promised) */
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
    /* A polled vow__loop_run_until's condition, met by what this drain ran: its ev_run
     * returns at the end of this turn (the callbacks still pending in it run first, as
     * with EVRUN_ONCE). */
    if (loop->run_polled && loop->run_done(loop->run_arg)) ev_break(loop->evl, EVBREAK_ONE);
}

int vow_loop_drain(vow_loop_t *loop) {
    if (loop == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    /* From a coroutine: a reaction run here could await and suspend the coroutine in the
     * middle of the drain, leaving the loop marked draining for good. */
    if (loop->draining || vow__fiber_current() != NULL) return VOW_EREENTRANT;
    vow__drain(loop);
    return 0;
}

void vow__jobs_discard(vow_loop_t *loop) {
    vow__job *j;
    while ((j = job_pop(loop)) != NULL) j->fn(loop, j, VOW__JOB_DROP);
}

/* The queue's links, length and markers (vow_loop_verify). */
void vow__jobs_verify(const vow_loop_t *loop) {
    size_t n = 0, markers = 0, marked = 0;
    const vow__job *last = NULL;
    for (const vow__job *j = loop->jobs.head; j != NULL; j = j->next) {
        vow__assert(j->fn != NULL, "queued job without a function");
        if (j->fn == marker_job) {
            markers++;
            marked += ((const vow__mt_marker *)j)->count;
        }
        last = j;
        if (++n > loop->jobs_len) break;
    }
    vow__assert(n == loop->jobs_len, "job queue length");
    vow__assert(last == loop->jobs.tail, "job queue tail");
    vow__assert(markers == loop->mt_markers, "microtask markers in the queue");
    vow__assert(marked + loop->mt_run_left == loop->mt_len,
                "microtasks in the ring = what the markers and the running run count");
    vow__assert(loop->mt_len <= loop->mt_cap, "microtask ring length");
}
