#define _POSIX_C_SOURCE 200809L
/* src/mailbox.c - a loop's inbox for other threads (src/internal.h, "other threads").
 *
 * A lock-free LIFO of intrusive nodes (a Treiber stack): a post pushes with one
 * compare-and-swap (release), the loop thread takes the whole stack with one exchange
 * (acquire) on each wakeup and reverses it, so nodes run in the order they were posted.
 * The release/acquire pair, not ev_async_send, orders a node's contents before its use.
 * Taking all at once is what makes the stack safe without ABA tags: nothing is ever popped
 * from the middle.
 *
 * Wakeups: only the post that finds the stack empty sends one (ev_async_send). Every other
 * post finds a node that a sender put there and that the loop has not taken yet: the
 * loop's callback, which that send (or an earlier one whose callback has not taken the
 * stack yet) guarantees, takes it too. So coalesced wakeups lose nothing, and a batch costs
 * one mutex round and one send rather than one per node.
 *
 * Closing: the loop thread's teardown sets `closed` and stops the watcher under the mutex,
 * then swaps in CLOSED, a mark a post cannot push onto (it answers VOW_ECLOSED, the node
 * still the caller's). A sender takes the mutex and sends only while not closed, so a post
 * never touches a stopped watcher or a destroyed libev loop; a node pushed just before the
 * mark is taken with the rest and dropped.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "internal.h"

struct vow__mailbox {
    _Atomic(vow__xnode *) top; /* the newest posted node, NULL, or CLOSED */
    pthread_mutex_t mu;        /* a send against the teardown's stop */
    int closed;                /* under mu */
    atomic_size_t refs;
    vow_loop_t *loop; /* loop thread only */
    ev_async w;
};

static vow__xnode closed_mark;
#define CLOSED (&closed_mark)

/* Takes the stack (replacing it with `with`) and returns it oldest first. */
static vow__xnode *take_all(vow__mailbox *m, vow__xnode *with) {
    vow__xnode *n = atomic_exchange_explicit(&m->top, with, memory_order_acquire), *list = NULL;
    if (n == CLOSED) return NULL;
    while (n != NULL) {
        vow__xnode *next = n->next;
        n->next = list;
        list = n;
        n = next;
    }
    return list;
}

static void run_list(vow_loop_t *loop, vow__xnode *n, int how) {
    while (n != NULL) {
        vow__xnode *next = n->next;
        n->fn(loop, n, how);
        n = next;
    }
}

static void async_cb(struct ev_loop *evl, ev_async *w, int revents) {
    (void)evl, (void)revents;
    vow__mailbox *m = w->data;
    run_list(m->loop, take_all(m, NULL), VOW__JOB_RUN);
    vow__drain(m->loop); /* as after every callback */
}

vow__mailbox *vow__mailbox_get(vow_loop_t *loop) {
    if (loop->mailbox != NULL) return loop->mailbox;
    vow__mailbox *m = vow__malloc(sizeof *m);
    if (m == NULL) return NULL;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        vow__free(m);
        return NULL;
    }
    atomic_init(&m->top, NULL);
    m->closed = 0;
    atomic_init(&m->refs, 1); /* the loop's */
    m->loop = loop;
    ev_async_init(&m->w, async_cb);
    m->w.data = m;
    ev_async_start(loop->evl, &m->w);
    ev_unref(loop->evl); /* only vow__loop_keep keeps the loop alive */
    loop->mailbox = m;
    return m;
}

void vow__mailbox_ref(vow__mailbox *m) { atomic_fetch_add(&m->refs, 1); }

void vow__mailbox_unref(vow__mailbox *m) {
    if (atomic_fetch_sub(&m->refs, 1) != 1) return;
    pthread_mutex_destroy(&m->mu);
    vow__free(m);
}

int vow__mailbox_post(vow__mailbox *m, vow__xnode *n) {
    vow__xnode *top = atomic_load_explicit(&m->top, memory_order_relaxed);
    do {
        if (top == CLOSED) return VOW_ECLOSED;
        n->next = top;
    } while (!atomic_compare_exchange_weak_explicit(&m->top, &top, n, memory_order_release,
                                                    memory_order_relaxed));
    if (top == NULL) { /* the first of a batch: the loop must hear of it */
        pthread_mutex_lock(&m->mu);
        if (!m->closed) ev_async_send(m->loop->evl, &m->w);
        pthread_mutex_unlock(&m->mu);
    }
    return 0;
}

void vow__loop_keep(vow_loop_t *loop) {
    if (loop->keep++ == 0) ev_ref(loop->evl);
}

void vow__loop_unkeep(vow_loop_t *loop) {
    vow__assert(loop->keep > 0, "keep count underflow");
    if (--loop->keep == 0) ev_unref(loop->evl);
}

/* src/workers.c: stops and joins the workers, dropping the queued tasks. */
void vow__workers_teardown(vow_loop_t *loop);

void vow__threads_teardown(vow_loop_t *loop) {
    vow__workers_teardown(loop); /* their last posts are in the mailbox now */
    vow__mailbox *m = loop->mailbox;
    if (m == NULL) return;
    pthread_mutex_lock(&m->mu);
    m->closed = 1;
    ev_ref(loop->evl);
    ev_async_stop(loop->evl, &m->w);
    pthread_mutex_unlock(&m->mu);
    vow__xnode *list = take_all(m, CLOSED);
    if (loop->keep > 0) { /* nothing will come to release them now */
        loop->keep = 0;
        ev_unref(loop->evl);
    }
    run_list(loop, list, VOW__JOB_DROP);
    loop->mailbox = NULL;
    vow__mailbox_unref(m);
}
