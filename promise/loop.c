/* promise/loop.c - the loops the library hands out: the reactor's loop (src/loop.c) with
 * the promise layer registered on it, and the layer's part of the loop's life: its state,
 * pools and timer release kinds, its forced teardown, its invariants.
 *
 * vow_loop_new, vow_loop_wrap and vow_loop_default live here, not in src/, because making
 * a loop the library's means registering the layers above the reactor, and the reactor
 * names none of them (src/internal.h). Everything else about a loop (run, stop, close,
 * free, alive, now) is the reactor's.
 */
#include <string.h>

#include "internal.h"

/* ---- the layer's callbacks ------------------------------------------------------------- */

/* The teardown's passes over every live promise (both pools hold promises at offset 0).
 * The loop is closed already (src/loop.c): no destructor run by these passes can settle a
 * promise (and queue the records of a combinator state about to be freed). */
static void hold_one(vow_t *p) { p->refcnt++; }

static void strip_reactions(vow_t *p) { vow__drop_reactions(p); }

static void drop_hold(vow_t *p) { vow__unref(p); }

/* A promise whose count reached 0 is passed over: it is already being freed (a destructor
 * run during its destruction may be what called vow_loop_free) or waits on the free
 * stack, and holding it again would free it twice. */
struct visit {
    void (*fn)(vow_t *);
};

static void visit_live(void *slot, void *arg) {
    vow_t *p = slot;
    if (!(p->flags & VOW__F_DYING)) ((struct visit *)arg)->fn(p);
}

static void each_promise(vow_loop_t *loop, void (*fn)(vow_t *)) {
    struct visit v = {fn};
    size_t mark = offsetof(vow_t, state);
    vow__pool_walk(&loop->pools[VOW__POOL_PROMISE], mark, VOW__S_FREE, visit_live, &v);
    vow__pool_walk(&loop->pools[VOW__POOL_NODE], mark, VOW__S_FREE, visit_live, &v);
}

/* Forced teardown: the reactor has freed the timers (their releases dropped the timers'
 * references) and dropped the queued jobs; strip every promise of what it holds, breaking
 * cycles. */
static void layer_teardown(vow_loop_t *loop, void *state) {
    (void)state;
    /* First the coroutines: their cleanup code runs (their awaits answer at once) while
     * every promise is still whole. */
    vow__coros_teardown(loop);
    vow__remotes_teardown(loop);
    /* Hold every promise so that none is freed while the others are stripped. */
    each_promise(loop, hold_one);
    /* First every reaction record (they point into other promises' combinator states)... */
    each_promise(loop, strip_reactions);
    /* What the destructors queued meanwhile (a microtask) goes before the holdings do. */
    vow__jobs_discard(loop);
    vow__unhandled_clear(loop);
    /* ...then what the promises hold: values, errors, combinator states, cancel callbacks. */
    each_promise(loop, vow__release_holdings);
    /* Drop the holds: promises nobody else references go now; user-held ones stay as
     * closed handles until vow_unref. Stripped promises hold no other promise, so
     * freeing one never frees another. */
    each_promise(loop, drop_hold);
}

static void layer_destroy(vow_loop_t *loop, void *state) {
    (void)loop;
    vow__free(state);
}

/* vow_loop_verify: every pending promise's reaction list is doubly linked and its records
 * wait on it; the unhandled-rejection lists hold listed rejections. */
static void verify_promise(void *slot, void *arg) {
    (void)arg;
    const vow_t *p = slot;
    vow__assert(p->refcnt > 0 || (p->flags & VOW__F_DYING), "live promise with no reference");
    if (p->state != VOW_PENDING || (p->flags & VOW__F_DYING)) return;
    const vow__rec *prev = NULL;
    for (const vow__rec *r = p->r_head; r != NULL; r = r->list.next) {
        vow__assert(r->state == VOW__RS_WAITING && r->owner == p,
                    "reaction list holds a record that does not wait on it");
        vow__assert(r->list.prev == prev, "reaction list links");
        prev = r;
    }
    vow__assert(prev == p->r_tail, "reaction list tail");
}

static void layer_verify(const vow_loop_t *loop, void *state) {
    (void)state;
    vow_loop_t *l = (vow_loop_t *)loop; /* the walk changes nothing */
    size_t mark = offsetof(vow_t, state);
    vow__pool_walk(&l->pools[VOW__POOL_PROMISE], mark, VOW__S_FREE, verify_promise, NULL);
    vow__pool_walk(&l->pools[VOW__POOL_NODE], mark, VOW__S_FREE, verify_promise, NULL);
    vow__unhandled_verify(loop);
    /* Every handle that holds the loop struct is a promise of the layer's pools. */
    vow__assert(loop->handles ==
                    loop->pools[VOW__POOL_PROMISE].live + loop->pools[VOW__POOL_NODE].live,
                "the loop's handle count is not its live promises");
}

static const vow__layer promise_layer = {
    .name = "promise",
    .after_drain = vow__unhandled_report,
    .teardown = layer_teardown,
    .destroy = layer_destroy,
    .verify = layer_verify,
};

/* ---- registration ------------------------------------------------------------------------ */

static void release_unref(void *arg) { vow__unref(arg); }

int vow__promise_layer_init(vow_loop_t *loop) {
    struct vow__promise_layer *pl = vow__calloc(1, sizeof *pl);
    if (pl == NULL) return VOW_ENOMEM;
    pl->mode = VOW_UNHANDLED_WARN;
    int rc = vow__loop_add_layer(loop, VOW__LAYER_PROMISE, &promise_layer, pl);
    vow__assert(rc == 0, "the promise layer's slot is taken");
    vow__loop_pool_init(loop, VOW__POOL_PROMISE, sizeof(vow_t));
    vow__loop_pool_init(loop, VOW__POOL_NODE, vow__then_node_size());
    vow__loop_pool_init(loop, VOW__POOL_REACTION, sizeof(vow__reaction));
    vow__loop_pool_init(loop, VOW__POOL_WAITER, VOW__WAITER_SLOT);
    vow__loop_pool_init(loop, VOW__POOL_WAITER_BIG, VOW__WAITER_BIG);
    rc = vow__loop_set_release(loop, VOW__REL_UNREF, release_unref);
    if (rc == 0) rc = vow__loop_set_release(loop, VOW__REL_TASK_START, vow__task_start_free);
    if (rc == 0) rc = vow__loop_set_release(loop, VOW__REL_CORO_START, vow__coro_start_free);
    vow__assert(rc == 0, "the promise layer's release kinds are taken");
    return 0;
}

/* ---- the public constructors ------------------------------------------------------------- */

/* The reactor made *out (rc 0): the layers go on it, or it goes. */
static int with_layers(int rc, vow_loop_t **out) {
    if (rc == 0 && (rc = vow__promise_layer_init(*out)) != 0) {
        vow__loop_discard(*out);
        *out = NULL;
    }
    return rc;
}

int vow_loop_new(vow_loop_t **out, unsigned backend) {
    return with_layers(vow__loop_new(out, backend), out);
}

int vow_loop_wrap(vow_loop_t **out, struct ev_loop *evl) {
    return with_layers(vow__loop_wrap(out, evl), out);
}

vow_loop_t *vow_loop_default(void) {
    int created;
    vow_loop_t *loop = vow__loop_default(&created);
    if (loop != NULL && created && vow__promise_layer_init(loop) != 0) {
        vow__loop_discard(loop);
        return NULL;
    }
    return loop;
}
