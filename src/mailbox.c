#define _POSIX_C_SOURCE 200809L
/* src/mailbox.c - a loop's inbox for other threads (src/internal.h, "other threads").
 *
 * A FIFO of intrusive nodes under a mutex. Posting pushes under the mutex and calls
 * ev_async_send under it too: the loop thread's teardown closes the mailbox and stops the
 * watcher under the same mutex, so a post never touches a stopped watcher or a destroyed
 * libev loop, and once closed a post answers VOW_ECLOSED. The loop thread swaps the whole
 * list out under the mutex on each wakeup and runs it outside: coalesced wakeups lose
 * nothing (whatever was pushed before a send is in the list the callback takes), and the
 * mutex, not ev_async_send, orders the node's contents before its use.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "internal.h"

struct vow__mailbox {
    pthread_mutex_t mu;
    VOW__FIFO(vow__xnode) q; /* under mu */
    int closed;              /* under mu */
    atomic_size_t refs;
    vow_loop_t *loop; /* loop thread only */
    ev_async w;
};

static void take_all(vow__mailbox *m, vow__xnode **list) {
    pthread_mutex_lock(&m->mu);
    *list = m->q.head;
    m->q.head = m->q.tail = NULL;
    pthread_mutex_unlock(&m->mu);
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
    vow__xnode *list;
    take_all(m, &list);
    run_list(m->loop, list, VOW__JOB_RUN);
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
    m->q.head = m->q.tail = NULL;
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
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    if (m->closed) {
        rc = VOW_ECLOSED;
    } else {
        VOW__FIFO_PUSH(&m->q, n, next);
        ev_async_send(m->loop->evl, &m->w);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
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
    vow__xnode *list = m->q.head;
    m->q.head = m->q.tail = NULL;
    pthread_mutex_unlock(&m->mu);
    if (loop->keep > 0) { /* nothing will come to release them now */
        loop->keep = 0;
        ev_unref(loop->evl);
    }
    run_list(loop, list, VOW__JOB_DROP);
    loop->mailbox = NULL;
    vow__mailbox_unref(m);
}
