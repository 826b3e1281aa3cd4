#define _POSIX_C_SOURCE 200809L
/* src/loop.c - vow_loop_t around a libev loop, and the microtask queue.
 *
 * One turn of the loop (libev's ev_run iteration, with vow's watchers):
 *   1. prepare (unref'd): refresh the cached time, drain microtasks that foreign
 *      callbacks queued, so nothing vow owes runs late once the loop blocks;
 *   2. poll, with a timeout of zero while immediates wait (an ev_idle is active then);
 *   3. pending callbacks by priority: vow's single ev_timer (EV_MAXPRI) runs the due
 *      timers in deadline order; I/O watchers (priority 0); the check watcher (EV_MINPRI,
 *      unref'd) runs the immediates queued before this check phase.
 *   This reproduces Node's order timers -> I/O -> immediates within a turn. libev would
 *   otherwise invoke pending watchers of equal priority last-queued-first.
 *
 * Two re-entrancy rules (STYLE.md 9):
 *   - Microtasks, by ECMAScript's rules, drain to empty: jobs queued during a drain run
 *     in the same drain, iteratively (constant C stack for any chain length). The queue
 *     is drained after every callback vow invokes and once per turn in prepare.
 *   - Macrotask queues (immediates) snapshot their batch before a pass: immediates
 *     queued during a pass wait for the next turn.
 *
 * Liveness: prepare and check are unref'd; the ev_timer is active (and ref'd) only while
 * a timer is pending, the ev_idle only while immediates wait. While microtasks wait
 * outside a drain, the loop holds one ev_ref (`kept`), so the application's own ev_run on
 * a wrapped loop does not return before prepare has drained them.
 */
#include <string.h>
#include <time.h>

#include "internal.h"

static vow_loop_t *default_loop;

uint64_t vow__clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t vow__clock_ms(void) { return vow__clock_ns() / 1000000u; }

/* ---- microtask ring ---------------------------------------------------------------- */

static int mq_grow(vow_loop_t *loop, size_t need) {
    size_t cap = loop->mq_cap ? loop->mq_cap : 16;
    while (cap < need) {
        if (cap > SIZE_MAX / 2 / sizeof(vow__job)) return VOW_ENOMEM;
        cap *= 2;
    }
    vow__job *ring = vow__malloc(cap * sizeof *ring);
    if (ring == NULL) return VOW_ENOMEM;
    for (size_t i = 0; i < loop->mq_len; i++)
        ring[i] = loop->mq[(loop->mq_head + i) & (loop->mq_cap - 1)];
    vow__free(loop->mq);
    loop->mq = ring;
    loop->mq_cap = cap;
    loop->mq_head = 0;
    return 0;
}

void vow__mq_note_work(vow_loop_t *loop) {
    if (!loop->kept && !loop->draining) {
        loop->kept = 1;
        ev_ref(loop->evl);
    }
}

int vow__mq_push_slow(vow_loop_t *loop, vow_microtask_fn fn, void *arg) {
    if (loop->overflow_head != NULL) return VOW_ENOMEM; /* keep FIFO: join the overflow */
    if (loop->mq_len == loop->mq_cap &&
        (loop->mq_cap >= VOW__MQ_RING_MAX || mq_grow(loop, loop->mq_len + 1) != 0))
        return VOW_ENOMEM; /* at the cap, or it cannot grow: the overflow list */
    vow__job *j = &loop->mq[(loop->mq_head + loop->mq_len) & (loop->mq_cap - 1)];
    j->fn = fn;
    j->arg = arg;
    loop->mq_len++;
    vow__mq_note_work(loop);
    return 0;
}

int vow_microtask(vow_loop_t *loop, vow_microtask_fn fn, void *arg) {
    if (loop == NULL || fn == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    if (vow__mq_push(loop, fn, arg) == 0) return 0;
    return vow__promise_overflow_microtask(loop, fn, arg);
}

void vow__drain(vow_loop_t *loop) {
    if (loop->draining || loop->closed) return;
    loop->draining = 1;
    do {
        for (;;) {
            if (loop->mq_len > 0) {
                vow__job j = loop->mq[loop->mq_head];
                loop->mq_head = (loop->mq_head + 1) & (loop->mq_cap - 1);
                loop->mq_len--;
                j.fn(loop, j.arg);
            } else if (loop->overflow_head != NULL) {
                vow__promise_overflow_run_one(loop); /* jobs that found the ring full */
            } else {
                break;
            }
        }
        vow__promise_after_drain(loop);
    } while (loop->mq_len > 0 || loop->overflow_head != NULL);
    loop->draining = 0;
    if (loop->kept) {
        loop->kept = 0;
        ev_unref(loop->evl);
    }
}

/* ---- watchers ------------------------------------------------------------------------ */

static void prepare_cb(struct ev_loop *evl, ev_prepare *w, int revents) {
    (void)evl;
    (void)revents;
    vow_loop_t *loop = w->data;
    loop->now_ms = vow__clock_ms();
    vow__drain(loop);
}

static void check_cb(struct ev_loop *evl, ev_check *w, int revents) {
    (void)evl;
    (void)revents;
    vow_loop_t *loop = w->data;
    loop->now_ms = vow__clock_ms();
    vow__drain(loop);
    vow__timers_check(loop);
}

static void idle_cb(struct ev_loop *evl, ev_idle *w, int revents) {
    (void)evl;
    (void)w;
    (void)revents; /* only there to keep the poll from blocking while immediates wait */
}

static void loop_init(vow_loop_t *loop, struct ev_loop *evl, int owns) {
    memset(loop, 0, sizeof *loop);
    loop->evl = evl;
    loop->owns_evl = owns ? 1 : 0;
    loop->now_ms = vow__clock_ms();
    loop->mode = VOW_UNHANDLED_WARN;

    ev_prepare_init(&loop->prepare_w, prepare_cb);
    loop->prepare_w.data = loop;
    ev_prepare_start(evl, &loop->prepare_w);
    ev_unref(evl);

    ev_check_init(&loop->check_w, check_cb);
    ev_set_priority(&loop->check_w, EV_MINPRI);
    loop->check_w.data = loop;
    ev_check_start(evl, &loop->check_w);
    ev_unref(evl);

    ev_idle_init(&loop->idle_w, idle_cb);
    ev_set_priority(&loop->idle_w, EV_MINPRI);
    loop->idle_w.data = loop;

    vow__timers_init(loop);

    const char *pool_env = getenv("VOW_POOL");
    int passthrough = pool_env != NULL && strcmp(pool_env, "off") == 0;
    size_t sizes[VOW__POOLS];
    vow__promise_pool_sizes(sizes);
    for (int i = 0; i < VOW__POOLS; i++) vow__pool_init(&loop->pools[i], sizes[i], passthrough);
}

static void loop_struct_free(vow_loop_t *loop) {
    for (int i = 0; i < VOW__POOLS; i++) vow__pool_destroy(&loop->pools[i]);
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
        if (env != NULL && *env != '\0' && backend_from_name(env, &backend) != 0)
            return VOW_EINVAL;
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

int vow_loop_new(vow_loop_t **out, unsigned backend) {
    if (out == NULL) return VOW_EINVAL;
    *out = NULL;
    unsigned flags, want;
    int rc = backend_flags(backend, &flags, &want);
    if (rc != 0) return rc;
    vow_loop_t *loop = vow__malloc(sizeof *loop);
    if (loop == NULL) return VOW_ENOMEM;
    struct ev_loop *evl = ev_loop_new(flags);
    if (evl == NULL || (want != 0 && ev_backend(evl) != want)) {
        if (evl != NULL) ev_loop_destroy(evl);
        vow__free(loop);
        return VOW_ENOTSUP;
    }
    loop_init(loop, evl, 1);
    *out = loop;
    return 0;
}

int vow_loop_wrap(vow_loop_t **out, struct ev_loop *evl) {
    if (out == NULL) return VOW_EINVAL;
    *out = NULL;
    if (evl == NULL) return VOW_EINVAL;
    vow_loop_t *loop = vow__malloc(sizeof *loop);
    if (loop == NULL) return VOW_ENOMEM;
    loop_init(loop, evl, 0);
    *out = loop;
    return 0;
}

vow_loop_t *vow_loop_default(void) {
    if (default_loop != NULL) return default_loop;
    unsigned flags, want;
    if (backend_flags(VOW_BACKEND_AUTO, &flags, &want) != 0) return NULL;
    vow_loop_t *loop = vow__malloc(sizeof *loop);
    if (loop == NULL) return NULL;
    struct ev_loop *evl = ev_default_loop(flags);
    if (evl == NULL || (want != 0 && ev_backend(evl) != want)) {
        vow__free(loop);
        return NULL;
    }
    loop_init(loop, evl, 1);
    loop->is_default = 1;
    default_loop = loop;
    return loop;
}

struct ev_loop *vow_loop_ev(vow_loop_t *loop) {
    return loop != NULL && !loop->closed ? loop->evl : NULL;
}

unsigned vow_loop_backend(const vow_loop_t *loop) {
    return loop != NULL && !loop->closed ? ev_backend(loop->evl) : 0;
}

uint64_t vow_loop_now(const vow_loop_t *loop) { return loop != NULL ? loop->now_ms : 0; }

uint64_t vow_loop_update_time(vow_loop_t *loop) {
    if (loop == NULL) return 0;
    return loop->now_ms = vow__clock_ms();
}

static int in_loop(const vow_loop_t *loop) {
    return loop->running || loop->draining || ev_depth(loop->evl) > 0;
}

int vow_loop_alive(const vow_loop_t *loop) {
    if (loop == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    size_t n = loop->tm.active + loop->tm.immediates + loop->mq_len + loop->overflow_len;
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

int vow_loop_run(vow_loop_t *loop, vow_run_mode_t mode) {
    if (loop == NULL || (mode != VOW_RUN_DEFAULT && mode != VOW_RUN_ONCE &&
                         mode != VOW_RUN_NOWAIT))
        return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    if (in_loop(loop)) return VOW_EREENTRANT;
    int flags = mode == VOW_RUN_ONCE ? EVRUN_ONCE : mode == VOW_RUN_NOWAIT ? EVRUN_NOWAIT : 0;
    loop->running = 1;
    loop->stop = 0;
    vow__drain(loop);
    do {
        if (loop->stop) break;
        ev_run(loop->evl, flags);
        vow__drain(loop);
    } while (mode == VOW_RUN_DEFAULT && !loop->stop && vow_loop_alive(loop) > 0);
    loop->running = 0;
    loop->stop = 0;
    return vow_loop_alive(loop) > 0 ? 1 : 0;
}

int vow__loop_run_until(vow_loop_t *loop, int (*done)(void *), void *arg) {
    if (loop->closed) return VOW_ECLOSED;
    if (in_loop(loop)) return VOW_EREENTRANT;
    int rc = 0;
    loop->running = 1;
    loop->stop = 0;
    vow__drain(loop);
    while (!done(arg)) {
        if (loop->stop) {
            rc = VOW_EINTR;
            break;
        }
        int active = ev_run(loop->evl, EVRUN_ONCE);
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
    loop->running = 0;
    loop->stop = 0;
    return rc;
}

void vow_loop_stop(vow_loop_t *loop) {
    if (loop == NULL || loop->closed) return;
    loop->stop = 1;
    if (ev_depth(loop->evl) > 0) ev_break(loop->evl, EVBREAK_ONE);
}

void vow__loop_handle_release(vow_loop_t *loop) {
    vow__assert(loop->handles > 0, "loop handle count underflow");
    if (--loop->handles == 0 && loop->closed) loop_struct_free(loop);
}

/* At forced teardown, every queued job in FIFO order, ring then overflow list: promise
 * jobs free their records (whose destructors may queue more: dropped too); user microtasks
 * are dropped. */
static void discard_jobs(vow_loop_t *loop) {
    for (;;) {
        if (loop->mq_len > 0) {
            vow__job j = loop->mq[loop->mq_head];
            loop->mq_head = (loop->mq_head + 1) & (loop->mq_cap - 1);
            loop->mq_len--;
            vow__promise_discard_job(loop, j.fn, j.arg);
        } else if (loop->overflow_head != NULL) {
            vow__promise_overflow_discard_one(loop);
        } else {
            return;
        }
    }
}

static void teardown(vow_loop_t *loop) {
    /* Keep the struct alive while promises are released below. */
    loop->handles++;
    vow__timers_free(loop);
    discard_jobs(loop);
    vow__promise_teardown(loop);
    /* A destructor run above may have queued more (a microtask, a settlement's reactions):
     * dropped the same way. */
    discard_jobs(loop);
    if (loop->kept) {
        loop->kept = 0;
        ev_unref(loop->evl);
    }
    ev_ref(loop->evl);
    ev_prepare_stop(loop->evl, &loop->prepare_w);
    ev_ref(loop->evl);
    ev_check_stop(loop->evl, &loop->check_w);
    ev_idle_stop(loop->evl, &loop->idle_w);
    ev_timer_stop(loop->evl, &loop->timer_w);
    if (loop->owns_evl) ev_loop_destroy(loop->evl);
    loop->evl = NULL;
    vow__free(loop->mq);
    loop->mq = NULL;
    loop->mq_cap = loop->mq_len = 0;
    if (loop->is_default) default_loop = NULL;
    loop->closed = 1;
    vow__loop_handle_release(loop);
}

int vow_loop_close(vow_loop_t *loop) {
    if (loop == NULL || loop->closed) return VOW_EINVAL;
    if (in_loop(loop)) return VOW_EREENTRANT;
    if (vow_loop_alive(loop) > 0) return VOW_EBUSY;
    teardown(loop);
    return 0;
}

int vow_loop_free(vow_loop_t *loop) {
    if (loop == NULL || loop->closed) return VOW_EINVAL;
    if (in_loop(loop)) return VOW_EREENTRANT;
    teardown(loop);
    return 0;
}
