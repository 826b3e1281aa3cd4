/* promise/remote.c - remote resolvers and posters: what another thread may do to a loop
 * (vow/thread.h), through the loop's mailbox (src/mailbox.c).
 *
 * A remote resolver sends at most one message: the settlement, or (freed unsettled) a
 * drop; an atomic state decides which. Its references (atomic): the user's handle, and the
 * loop thread's, which holds the promise and the loop's keep count until the message runs
 * or the loop is torn down (the layer's list of live remotes reaches them then). A thread
 * that settles after vow_loop_free finds the mailbox closed and touches nothing of the
 * loop. A poster holds a mailbox reference and a message reserved for its free (so that
 * vow_poster_free, from any thread, cannot fail to give the loop's keep count back).
 */
#include <stdatomic.h>

#include "internal.h"
#include "vow/thread.h"

enum { R_OPEN = 0, R_SETTLED, R_DROPPED };

struct vow_remote {
    vow__xnode x; /* first: its one message */
    atomic_int state;
    atomic_int refs;  /* the user's handle; the loop thread's */
    vow__mailbox *mb; /* one reference */
    vow_loop_t *loop; /* loop thread only, from here on */
    vow_t *p;         /* the loop thread's reference (NULL once released) */
    vow_result_t
        result; /* written before the post, read after it (the mailbox's release/acquire) */
    vow_remote_t *next, *prev; /* the loop's live remotes (loop thread) */
};

static void remote_unref(vow_remote_t *r) {
    if (atomic_fetch_sub(&r->refs, 1) != 1) return;
    vow__mailbox_unref(r->mb);
    vow__free(r);
}

/* ---- the loop thread's side ----------------------------------------------------------- */
/* The loop thread lets go of r: its promise, its keep, its reference. */
static void loop_release(vow_remote_t *r, int unkeep) {
    VOW__DLIST_UNLINK(&vow__pl(r->loop)->remotes, r);
    if (unkeep) vow__loop_unkeep(r->loop);
    vow_t *p = r->p;
    r->p = NULL;
    vow__unref(p);
    remote_unref(r);
}

static void remote_message(vow_loop_t *loop, vow__xnode *x, int how) {
    (void)loop;
    vow_remote_t *r = (vow_remote_t *)x;
    if (atomic_load(&r->state) == R_SETTLED) {
        vow_t *p = r->p;
        if (how == VOW__JOB_RUN && p->state == VOW_PENDING && !vow__closed(p))
            vow__resolve_with(p, &r->result, NULL);
        else
            vow__result_release(&r->result);
    }
    loop_release(r, how == VOW__JOB_RUN);
}

/* Forced teardown (promise/loop.c): the remotes whose message never came. */
void vow__remotes_teardown(vow_loop_t *loop) {
    struct vow__promise_layer *pl = vow__pl(loop);
    while (pl->remotes.head != NULL) loop_release(pl->remotes.head, 0);
}

vow_remote_t *vow_remote_new(vow_loop_t *loop, vow_t **promise) {
    if (promise != NULL) *promise = NULL;
    if (loop == NULL || loop->closed || promise == NULL) return NULL;
    vow__mailbox *mb = vow__mailbox_get(loop);
    vow_remote_t *r = mb != NULL ? vow__malloc(sizeof *r) : NULL;
    vow_t *p = r != NULL ? vow__promise_new(loop, VOW__F_SETTLEABLE | VOW__F_SYNC) : NULL;
    if (p == NULL) {
        vow__free(r);
        return NULL;
    }
    *r = (vow_remote_t){.x = {.fn = remote_message}, .mb = mb, .loop = loop, .p = p};
    atomic_init(&r->state, R_OPEN);
    atomic_init(&r->refs, 2);
    vow__mailbox_ref(mb);
    struct vow__promise_layer *pl = vow__pl(loop);
    VOW__DLIST_PUSH(&pl->remotes, r);
    vow__loop_keep(loop);
    *promise = vow__ref(p);
    return r;
}

/* ---- any thread ----------------------------------------------------------------------- */
int vow_remote_resolve(vow_remote_t *r, vow_result_t result) {
    if (r == NULL || (result.kind != VOW_RESULT_VALUE && result.kind != VOW_RESULT_ERROR)) {
        /* A promise or a thenable belongs to a loop's thread: not touched here. */
        if (result.kind == VOW_RESULT_VALUE || result.kind == VOW_RESULT_ERROR)
            vow__result_release(&result);
        return VOW_EINVAL;
    }
    int open = R_OPEN;
    if (!atomic_compare_exchange_strong(&r->state, &open, R_SETTLED)) {
        vow__result_release(&result);
        return VOW_ESETTLED;
    }
    r->result = result;
    if (vow__mailbox_post(r->mb, &r->x) != 0) {
        vow__result_release(&r->result); /* the loop is gone, and its side of r with it */
        return VOW_ECLOSED;
    }
    return 0;
}

int vow_remote_reject(vow_remote_t *r, vow_error_t *err) {
    return vow_remote_resolve(r, vow_fail(err));
}

void vow_remote_free(vow_remote_t *r) {
    if (r == NULL) return;
    int open = R_OPEN;
    if (atomic_compare_exchange_strong(&r->state, &open, R_DROPPED))
        (void)vow__mailbox_post(r->mb, &r->x); /* closed: the teardown let go already */
    remote_unref(r);
}

/* ---- posters -------------------------------------------------------------------------- */
struct post {
    vow__xnode x; /* first */
    vow_post_fn fn;
    void *arg;
    void (*arg_free)(void *);
};

struct vow_poster {
    vow__mailbox *mb;  /* one reference */
    struct post *drop; /* the message of vow_poster_free */
};

static void post_message(vow_loop_t *loop, vow__xnode *x, int how) {
    struct post *m = (struct post *)x;
    if (how == VOW__JOB_RUN && m->fn != NULL) m->fn(loop, m->arg);
    if (how == VOW__JOB_RUN && m->fn == NULL) vow__loop_unkeep(loop); /* a poster's drop */
    if (m->arg_free != NULL) m->arg_free(m->arg);
    vow__free(m);
}

vow_poster_t *vow_poster_new(vow_loop_t *loop) {
    if (loop == NULL || loop->closed) return NULL;
    vow__mailbox *mb = vow__mailbox_get(loop);
    vow_poster_t *h = mb != NULL ? vow__malloc(sizeof *h) : NULL;
    struct post *drop = h != NULL ? vow__calloc(1, sizeof *drop) : NULL;
    if (drop == NULL) {
        vow__free(h);
        return NULL;
    }
    drop->x.fn = post_message;
    vow__mailbox_ref(mb);
    *h = (vow_poster_t){mb, drop};
    vow__loop_keep(loop);
    return h;
}

int vow_post(vow_poster_t *h, vow_post_fn fn, void *arg, void (*arg_free)(void *)) {
    int rc = 0;
    struct post *m = NULL;
    if (h == NULL || fn == NULL)
        rc = VOW_EINVAL;
    else if ((m = vow__malloc(sizeof *m)) == NULL)
        rc = VOW_ENOMEM;
    else {
        *m = (struct post){.x = {.fn = post_message}, .fn = fn, .arg = arg, .arg_free = arg_free};
        rc = vow__mailbox_post(h->mb, &m->x);
    }
    if (rc != 0) {
        vow__free(m);
        if (arg_free != NULL) arg_free(arg);
    }
    return rc;
}

void vow_poster_free(vow_poster_t *h) {
    if (h == NULL) return;
    if (vow__mailbox_post(h->mb, &h->drop->x) != 0) vow__free(h->drop); /* the loop is gone */
    vow__mailbox_unref(h->mb);
    vow__free(h);
}
