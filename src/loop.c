#define _POSIX_C_SOURCE 200809L
/* src/loop.c - vow_loop_t around a libev loop, and the microtask queue.
 *
 * One turn of the loop (libev's ev_run iteration, with vow's watchers):
 *   1. poll, with a timeout of zero while immediates wait (an ev_idle is active then);
 *   2. pending callbacks by priority: vow's single ev_timer (EV_MAXPRI) runs the due
 *      timers in deadline order; I/O watchers (priority 0); the check watcher (EV_MINPRI,
 *      unref'd, started only while immediates wait) runs the immediates queued before
 *      this check phase.
 *   This reproduces Node's order timers -> I/O -> immediates within a turn. libev would
 *   otherwise invoke pending watchers of equal priority last-queued-first.
 *   Microtasks never wait for a phase: work queued by a callback is drained right after
 *   that callback (vow's own callbacks drain at their end; any other's feeds the drain
 *   watcher, which libev invokes next), and work queued outside ev_run feeds the drain
 *   watcher too, which libev invokes first thing when ev_run is entered, before it polls
 *   (vow_loop_run and vow_run drain before they enter it anyway). So vow needs no prepare
 *   phase (it had one, which drained and read the clock every turn: 340 instructions of
 *   a W12a round trip's two turns), and its check callback drains only if something is
 *   left.
 *
 * The cached time (vow_loop_now) is the clock read at the first look after each poll
 * (libev's iteration count tells a new turn), when a timer is set and before timer
 * callbacks run: reading it in every turn whether anyone looks or not cost two clock
 * reads a turn.
 *
 * Two re-entrancy rules (STYLE.md 9):
 *   - Microtasks (the job queue, src/microtask.c), by ECMAScript's rules, drain to empty:
 *     jobs queued during a drain run in the same drain, iteratively (constant C stack for
 *     any chain length). The queue is drained after every callback vow invokes, by the fed
 *     drain watcher after any other, and in the check phase if anything is left.
 *   - Macrotask queues (immediates) snapshot their batch before a pass: immediates
 *     queued during a pass wait for the next turn.
 *
 * Liveness: check is unref'd (and prepare, only ever started by foreign_watchers); the
 * ev_timer is active (and ref'd) only while a timer is pending, the ev_idle only while
 * immediates wait. While microtasks wait outside a drain, the loop holds one ev_ref
 * (`kept`), so the application's own ev_run on a wrapped loop does not return before the
 * drain watcher has drained them.
 *
 * Layers: the loop knows the layers above it (promise/) only through the table they
 * register (vow__loop_add_layer): after each drain, at forced teardown and when the loop's
 * memory goes it calls what they registered, in slot order.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "io.h"

static vow_loop_t *default_loop;

/* Every libev loop a vow loop manages (made or wrapped), so that one is never managed
 * twice: a second vow loop on it would install a second set of watchers, and freeing one
 * would destroy (or strip) it under the other. Loops live on many threads: a mutex. */
static pthread_mutex_t managed_lock = PTHREAD_MUTEX_INITIALIZER;
static vow_loop_t *managed;

/* Adds loop (its evl set) unless a live vow loop manages its evl already: 0 or VOW_EBUSY. */
static int manage(vow_loop_t *loop) {
    int rc = 0;
    pthread_mutex_lock(&managed_lock);
    for (vow_loop_t *l = managed; l != NULL; l = l->managed_next)
        if (l->evl == loop->evl) rc = VOW_EBUSY;
    if (rc == 0) {
        loop->managed_next = managed;
        managed = loop;
    }
    pthread_mutex_unlock(&managed_lock);
    return rc;
}

static void unmanage(vow_loop_t *loop) {
    pthread_mutex_lock(&managed_lock);
    for (vow_loop_t **pp = &managed; *pp != NULL; pp = &(*pp)->managed_next)
        if (*pp == loop) {
            *pp = loop->managed_next;
            break;
        }
    pthread_mutex_unlock(&managed_lock);
}

uint64_t vow__clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t vow__clock_ms(void) { return vow__clock_ns() / 1000000u; }

/* ---- watchers ------------------------------------------------------------------------ */

/* The prepare watcher is started only by foreign_watchers (below), whose invoke-pending
 * callback breaks the loop before any callback runs; should libev ever call this one,
 * it drains, as the prepare phase did. */
static void prepare_cb(struct ev_loop *evl, ev_prepare *w, int revents) {
    (void)evl;
    (void)revents;
    vow__drain(w->data);
}

/* Started only while immediates wait (vow__loop_check_start), unref'd: the check phase. */
static void check_cb(struct ev_loop *evl, ev_check *w, int revents) {
    (void)revents;
    vow_loop_t *loop = w->data;
    loop->check_iter = ev_iteration(evl); /* this turn's check phase: see check_start */
    vow__drain_inline(loop);
    if (loop->tm.imm_head != VOW__NIL) vow__timers_check(loop);
}

void vow__loop_check_start(vow_loop_t *loop) {
    if (ev_is_active(&loop->check_w)) return;
    ev_check_start(loop->evl, &loop->check_w);
    ev_unref(loop->evl);
    /* Started by a callback of this turn (a timer's, an I/O watcher's): libev queued the
     * turn's check watchers before it invoked them, so this one is fed to run after them,
     * as this turn's check phase (Node runs an immediate queued by an I/O callback in the
     * same turn). Pending already (fed before libev queued it): libev merges the two. Not
     * once this turn's check phase has run (the last immediate's microtasks, its
     * destructor): fed then, libev would invoke the watcher again in this same turn, and an
     * immediate queued by an immediate's work must wait for the next turn (vow/timer.h);
     * a chain of them would never let libev poll again. */
    if (ev_depth(loop->evl) > 0 && loop->check_iter != ev_iteration(loop->evl))
        ev_feed_event(loop->evl, &loop->check_w, EV_CHECK);
}

void vow__loop_check_stop(vow_loop_t *loop) {
    if (!ev_is_active(&loop->check_w)) return;
    ev_ref(loop->evl);
    ev_check_stop(loop->evl, &loop->check_w);
}

/* Fed (never started) when work is queued outside a drain (vow__mq_note_work). libev's
 * ev_feed_event puts it on top of the EV_MAXPRI pending stack and restarts its priority
 * scan, so ev_invoke_pending calls it next, right after the callback that queued the
 * work: the application's own watchers get Node's microtask checkpoint without a
 * replaced invoke-pending callback (the application may have its own). */
static void drain_cb(struct ev_loop *evl, ev_prepare *w, int revents) {
    (void)evl;
    (void)revents;
    vow__drain(w->data);
}

static void idle_cb(struct ev_loop *evl, ev_idle *w, int revents) {
    (void)evl;
    (void)w;
    (void)revents; /* only there to keep the poll from blocking while immediates wait */
}

/* Sets up a loop struct; keeps managed_next (manage() may have linked it already). */
static void loop_init(vow_loop_t *loop, struct ev_loop *evl, int owns) {
    vow_loop_t *managed_next = loop->managed_next;
    memset(loop, 0, sizeof *loop);
    loop->managed_next = managed_next;
    loop->evl = evl;
    loop->owns_evl = owns ? 1 : 0;
    vow__loop_clock_ms(loop);

    ev_prepare_init(&loop->prepare_w, prepare_cb);
    loop->prepare_w.data = loop;

    ev_check_init(&loop->check_w, check_cb);
    ev_set_priority(&loop->check_w, EV_MINPRI);
    loop->check_w.data = loop;

    ev_prepare_init(&loop->drain_w, drain_cb);
    ev_set_priority(&loop->drain_w, EV_MAXPRI);
    loop->drain_w.data = loop;

    ev_idle_init(&loop->idle_w, idle_cb);
    ev_set_priority(&loop->idle_w, EV_MINPRI);
    loop->idle_w.data = loop;

    vow__timers_init(loop);

    const char *pool_env = getenv("VOW_POOL");
    loop->pool_passthrough = pool_env != NULL && strcmp(pool_env, "off") == 0;
    vow__pool_init(&loop->pools[VOW__POOL_MICROTASK], sizeof(vow__mt_marker),
                   loop->pool_passthrough);
}

void vow__loop_pool_init(vow_loop_t *loop, int id, size_t size) {
    vow__assert(id >= VOW__POOL_FIRST_LAYER && id < VOW__POOLS, "pool id out of range");
    vow__assert(loop->pools[id].size == 0, "pool set up twice");
    vow__pool_init(&loop->pools[id], size, loop->pool_passthrough);
}

int vow__loop_add_layer(vow_loop_t *loop, int slot, const vow__layer *layer, void *state) {
    if (slot < 0 || slot >= VOW__LAYERS || layer == NULL) return VOW_EINVAL;
    if (loop->layers[slot].layer != NULL) return VOW_EBUSY;
    loop->layers[slot].layer = layer;
    loop->layers[slot].state = state;
    return 0;
}

int vow__loop_set_release(vow_loop_t *loop, int id, vow__release_fn fn) {
    if (id <= 0 || id >= VOW__RELEASES || fn == NULL) return VOW_EINVAL;
    if (loop->releases[id] != NULL && loop->releases[id] != fn) return VOW_EBUSY;
    loop->releases[id] = fn;
    return 0;
}

void vow__loop_struct_free(vow_loop_t *loop) {
    for (int i = 0; i < VOW__LAYERS; i++) {
        const vow__layer *ly = loop->layers[i].layer;
        if (ly != NULL && ly->destroy != NULL) ly->destroy(loop, loop->layers[i].state);
    }
    for (int i = 0; i < VOW__POOLS; i++)
        if (loop->pools[i].size != 0) vow__pool_destroy(&loop->pools[i]);
    vow__free(loop);
}

static int backend_from_name(const char *name, unsigned *out) {
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"select", VOW_BACKEND_SELECT},
                 {"poll", VOW_BACKEND_POLL},
                 {"epoll", VOW_BACKEND_EPOLL},
                 {"kqueue", VOW_BACKEND_KQUEUE}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].bit;
            return 0;
        }
    return VOW_EINVAL;
}

/* The libev flags for a requested backend (AUTO: the VOW_BACKEND variable, if set). */
static int backend_flags(unsigned backend, unsigned *flags, unsigned *want) {
    if (backend == VOW_BACKEND_AUTO) {
        const char *env = getenv("VOW_BACKEND");
        if (env != NULL && *env != '\0' && backend_from_name(env, &backend) != 0) return VOW_EINVAL;
    }
    *want = backend;
    if (backend == VOW_BACKEND_AUTO) {
        *flags = EVFLAG_AUTO;
        return 0;
    }
    if ((backend & (backend - 1)) != 0 ||
        (backend & ~(unsigned)(VOW_BACKEND_SELECT | VOW_BACKEND_POLL | VOW_BACKEND_EPOLL |
                               VOW_BACKEND_KQUEUE)) != 0)
        return VOW_EINVAL;
    if ((ev_supported_backends() & backend) == 0) return VOW_ENOTSUP;
    *flags = backend | EVFLAG_NOENV;
    return 0;
}

int vow__loop_new(vow_loop_t **out, unsigned backend) {
    if (out == NULL) return VOW_EINVAL;
    *out = NULL;
    unsigned flags, want;
    int rc = backend_flags(backend, &flags, &want);
    if (rc != 0) return rc;
    vow_loop_t *loop = vow__calloc(1, sizeof *loop);
    if (loop == NULL) return VOW_ENOMEM;
    struct ev_loop *evl = ev_loop_new(flags);
    if (evl == NULL || (want != 0 && ev_backend(evl) != want)) {
        if (evl != NULL) ev_loop_destroy(evl);
        vow__free(loop);
        return VOW_ENOTSUP;
    }
    loop_init(loop, evl, 1);
    (void)manage(loop); /* a libev loop just made: nobody manages it yet */
    *out = loop;
    return 0;
}

int vow__loop_wrap(vow_loop_t **out, struct ev_loop *evl) {
    if (out == NULL) return VOW_EINVAL;
    *out = NULL;
    if (evl == NULL) return VOW_EINVAL;
    vow_loop_t *loop = vow__calloc(1, sizeof *loop);
    if (loop == NULL) return VOW_ENOMEM;
    loop->evl = evl;
    if (manage(loop) != 0) { /* vow manages this libev loop already */
        vow__free(loop);
        return VOW_EBUSY;
    }
    loop_init(loop, evl, 0);
    *out = loop;
    return 0;
}

vow_loop_t *vow__loop_default(int *created) {
    *created = 0;
    if (default_loop != NULL) return default_loop;
#if EV_CHILD_ENABLE
    /* libev's default loop watches SIGCHLD (its child watchers): while another loop watches
     * it (vow_signal), making it would trip libev's one-loop-per-signal assert. */
    if (ev_default_loop_uc_() == NULL && vow__signal_owner(SIGCHLD) != NULL) return NULL;
#endif
    unsigned flags, want;
    if (backend_flags(VOW_BACKEND_AUTO, &flags, &want) != 0) return NULL;
    vow_loop_t *loop = vow__calloc(1, sizeof *loop);
    if (loop == NULL) return NULL;
    struct ev_loop *evl = ev_default_loop(flags);
    loop->evl = evl;
    if (evl == NULL || (want != 0 && ev_backend(evl) != want) || manage(loop) != 0) {
        vow__free(loop); /* (or the application wrapped libev's default loop already) */
        return NULL;
    }
    loop_init(loop, evl, 1);
    loop->is_default = 1;
    default_loop = loop;
    *created = 1;
    return loop;
}

static void prepare_stop(vow_loop_t *loop) {
    if (!ev_is_active(&loop->prepare_w)) return;
    ev_ref(loop->evl);
    ev_prepare_stop(loop->evl, &loop->prepare_w);
}

void vow__loop_discard(vow_loop_t *loop) {
    unmanage(loop);
    prepare_stop(loop);
    vow__loop_check_stop(loop);
    ev_clear_pending(loop->evl, &loop->drain_w);
    if (loop->owns_evl) ev_loop_destroy(loop->evl);
    if (loop->is_default) default_loop = NULL;
    loop->closed = 1;
    loop->handles++;
    vow__loop_handle_release(loop);
}

struct ev_loop *vow_loop_ev(vow_loop_t *loop) {
    return loop != NULL && !loop->closed ? loop->evl : NULL;
}

unsigned vow_loop_backend(const vow_loop_t *loop) {
    return loop != NULL && !loop->closed ? ev_backend(loop->evl) : 0;
}

uint64_t vow_loop_now(const vow_loop_t *loop) {
    if (loop == NULL || loop->closed) return 0;
    /* The first look since libev polled reads the clock (the struct is never const: the
     * handle's const says the call changes nothing the caller can see but the cache). */
    if (ev_iteration(loop->evl) != loop->now_iter) return vow__loop_clock_ms((vow_loop_t *)loop);
    return loop->now_ms;
}

uint64_t vow_loop_update_time(vow_loop_t *loop) {
    if (loop == NULL || loop->closed) return 0;
    return vow__loop_clock_ms(loop);
}

static int in_loop(const vow_loop_t *loop) {
    /* On a coroutine's stack: a teardown would free the stack it runs on. */
    return loop->running || loop->draining || ev_depth(loop->evl) > 0 ||
           vow__fiber_current() != NULL;
}

int vow_loop_alive(const vow_loop_t *loop) {
    if (loop == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    size_t n = loop->tm.active + loop->tm.immediates + loop->jobs_len - loop->mt_markers +
               loop->mt_len + loop->keep;
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

VOW__TLS vow_loop_t *vow__tls_loop_running;

/* The loop this thread runs now (vow__loop_running_here), around each run. */
static vow_loop_t *run_enter(vow_loop_t *loop) {
    vow_loop_t *outer = vow__tls_loop_running;
    vow__tls_loop_running = loop;
    loop->running = 1;
    loop->stop = 0;
    return outer;
}

static void run_leave(vow_loop_t *loop, vow_loop_t *outer) {
    loop->running = 0;
    loop->stop = 0;
    vow__tls_loop_running = outer;
}

int vow_loop_run(vow_loop_t *loop, vow_run_mode_t mode) {
    if (loop == NULL || (mode != VOW_RUN_DEFAULT && mode != VOW_RUN_ONCE && mode != VOW_RUN_NOWAIT))
        return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    if (in_loop(loop)) return VOW_EREENTRANT;
    int flags = mode == VOW_RUN_ONCE ? EVRUN_ONCE : mode == VOW_RUN_NOWAIT ? EVRUN_NOWAIT : 0;
    vow_loop_t *outer = run_enter(loop);
    vow__drain(loop);
    do {
        if (loop->stop) break;
        ev_run(loop->evl, flags);
        vow__drain(loop);
    } while (mode == VOW_RUN_DEFAULT && !loop->stop && vow_loop_alive(loop) > 0);
    run_leave(loop, outer);
    return vow_loop_alive(loop) > 0 ? 1 : 0;
}

int vow__loop_run_until(vow_loop_t *loop, int (*done)(void *), void *arg, int polled) {
    if (loop->closed) return VOW_ECLOSED;
    if (in_loop(loop)) return VOW_EREENTRANT;
    int rc = 0;
    vow_loop_t *outer = run_enter(loop);
    vow__drain(loop);
    while (!done(arg)) {
        if (loop->stop) {
            rc = VOW_EINTR;
            break;
        }
        /* As many turns as it takes, not one turn per ev_run (EVRUN_ONCE): each entry of
         * ev_run costs libev a pass over its pending queues, and vow a drain and a look at
         * the condition. The turn that makes the condition true breaks the loop (a drain,
         * polled; else vow__loop_run_wake): it ends with the callbacks still pending in
         * it, as EVRUN_ONCE's would. (A check watcher in every turn did this before, for about
         * 170 instructions a turn.) */
        loop->run_done = done;
        loop->run_arg = arg;
        loop->run_polled = polled;
        int active = ev_run(loop->evl, 0);
        loop->run_done = NULL;
        loop->run_polled = 0;
        vow__drain(loop);
        if (done(arg)) break;
        if (!active && vow_loop_alive(loop) == 0) {
            /* Work queued by the drain may have started a raw libev watcher: look once
             * more without blocking before declaring the promise unsettleable. */
            active = ev_run(loop->evl, EVRUN_NOWAIT);
            vow__drain(loop);
            if (done(arg)) break;
            if (!active && vow_loop_alive(loop) == 0) {
                rc = VOW_ENEVER;
                break;
            }
        }
    }
    run_leave(loop, outer);
    return rc;
}

void vow_loop_stop(vow_loop_t *loop) {
    if (loop == NULL || loop->closed) return;
    loop->stop = 1;
    if (ev_depth(loop->evl) > 0) ev_break(loop->evl, EVBREAK_ONE);
}

static void teardown(vow_loop_t *loop) {
    /* Closed from the start: a destructor run below (a reaction's ctx_free, a value's
     * destructor, an arg_free) that calls back into this loop gets VOW_ECLOSED (or NULL)
     * and schedules nothing; vow_loop_free / vow_loop_close get VOW_EREENTRANT. */
    loop->closed = 1;
    loop->tearing_down = 1;
    /* Keep the struct alive while promises are released below. */
    loop->handles++;
    vow__timers_free(loop);
    vow__threads_teardown(loop); /* joins the workers; drops what other threads posted */
    vow__jobs_discard(loop);
    for (int i = 0; i < VOW__LAYERS; i++) {
        const vow__layer *ly = loop->layers[i].layer;
        if (ly != NULL && ly->teardown != NULL) ly->teardown(loop, loop->layers[i].state);
    }
    /* A destructor run above may have queued more (a microtask, a settlement's reactions):
     * dropped the same way. */
    vow__jobs_discard(loop);
    vow__microtasks_free(loop);
    vow__fiber_stacks_free(loop); /* the layers released every fiber */
    if (loop->kept) {
        loop->kept = 0;
        ev_unref(loop->evl);
    }
    prepare_stop(loop);
    vow__loop_check_stop(loop);
    ev_idle_stop(loop->evl, &loop->idle_w);
    ev_timer_stop(loop->evl, &loop->timer_w);
    ev_clear_pending(loop->evl, &loop->drain_w);
    unmanage(loop);
    if (loop->owns_evl) ev_loop_destroy(loop->evl);
    loop->evl = NULL;
    if (loop->is_default) default_loop = NULL;
    loop->tearing_down = 0;
    vow__loop_handle_release(loop);
}

static void break_at_once(struct ev_loop *evl) { ev_break(evl, EVBREAK_ONE); }

/* How many watchers of the application's keep the libev loop alive: active and not
 * unref'd, libev's own count (vow's watchers are all inactive or unref'd once
 * vow_loop_alive is 0). libev has no getter for it; ev_run returns it. So: ev_run with an
 * invoke-pending callback that breaks the loop. libev calls it in the prepare phase (vow's
 * prepare watcher is started for it), before it polls, updates the time or queues a
 * timer, and ev_run stops right there: no callback runs, nothing is polled, no timer is
 * stopped. What it queued stays pending, but for vow's own watcher, stopped again: the
 * application's prepare watchers, if any, get one extra call when ev_run is next entered
 * (libev invokes what is pending first). */
static int foreign_watchers(vow_loop_t *loop) {
    ev_prepare_start(loop->evl, &loop->prepare_w);
    ev_unref(loop->evl);
    ev_set_invoke_pending_cb(loop->evl, break_at_once);
    int n = ev_run(loop->evl, EVRUN_NOWAIT);
    ev_set_invoke_pending_cb(loop->evl, ev_invoke_pending);
    prepare_stop(loop); /* (clears its pending event too) */
    return n;
}

int vow_loop_close(vow_loop_t *loop) {
    if (loop != NULL && loop->tearing_down) return VOW_EREENTRANT;
    if (loop == NULL || loop->closed) return VOW_EINVAL;
    if (in_loop(loop)) return VOW_EREENTRANT;
    if (vow_loop_alive(loop) > 0) return VOW_EBUSY;
    /* Suspended coroutines (libuv's rule: a handle still open). */
    if (vow__fiber_live(loop) > 0) return VOW_EBUSY;
    /* An owned libev loop would be destroyed under the application's own watchers. */
    if (loop->owns_evl && foreign_watchers(loop) > 0) return VOW_EBUSY;
    teardown(loop);
    return 0;
}

int vow_loop_free(vow_loop_t *loop) {
    if (loop != NULL && loop->tearing_down) return VOW_EREENTRANT;
    if (loop == NULL || loop->closed) return VOW_EINVAL;
    if (in_loop(loop)) return VOW_EREENTRANT;
    teardown(loop);
    return 0;
}

/* ---- invariants ------------------------------------------------------------------------- */

int vow_loop_verify(const vow_loop_t *loop) {
    if (loop == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    vow__jobs_verify(loop);
    vow__timers_verify(loop);
    vow__assert(loop->tm.heap_len == 0 || ev_is_active(&loop->timer_w),
                "the timer watcher is armed while timers wait");
    vow__assert(!!ev_is_active(&loop->idle_w) == (loop->tm.immediates > 0),
                "the idle watcher runs exactly while immediates wait");
    vow__assert(!!ev_is_active(&loop->check_w) == (loop->tm.immediates > 0),
                "the check watcher runs exactly while immediates wait");
    for (int i = 0; i < VOW__POOLS; i++)
        if (loop->pools[i].size != 0) vow__pool_verify(&loop->pools[i]);
    for (int i = 0; i < VOW__LAYERS; i++) {
        const vow__layer *ly = loop->layers[i].layer;
        if (ly != NULL && ly->verify != NULL) ly->verify(loop, loop->layers[i].state);
    }
    return 0;
}
