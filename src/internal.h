/* src/internal.h - what the reactor's source files share, and what it offers the layers
 * above it. Never installed.
 *
 * The reactor (src/) knows nothing of promises: it includes only the public headers of
 * its own concepts (loop, timer, error) and never names a symbol of promise/. A layer
 * above it (promise/) uses what this header declares: the allocator, pools, the job
 * queue (an intrusive node the layer embeds in its own records), timers with a release
 * function, and the layer table through which the loop calls the layer back at the end
 * of a drain, at forced teardown and when the loop's memory goes (vow__loop_add_layer).
 *
 * Symbols shared between .c files are vow__* (double underscore); file-local helpers are
 * static.
 */
#ifndef VOW_SRC_INTERNAL_H
#define VOW_SRC_INTERNAL_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vow/common.h"
#include "vow/error.h"
#include "vow/loop.h"
#include "vow/timer.h"
#include "queue.h"

/* ---- assertions: codes for users, asserts for ourselves ------------------------------ */
#define vow__assert(cond, msg)                                                                     \
    do {                                                                                           \
        if (!(cond)) vow__assert_fail(#cond, (msg), __FILE__, __LINE__);                           \
    } while (0)
void vow__assert_fail(const char *cond, const char *msg, const char *file, int line)
    __attribute__((noreturn));

#define vow__container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Thread-local variables of the library: initial-exec, a fixed offset from the thread
 * pointer rather than a __tls_get_addr call per access (libvow is built position
 * independent, whose default is the dynamic model: 3 calls per await in libvow.so, 6 per
 * then step). The cost: a libvow.so loaded with dlopen takes these few bytes from glibc's
 * reserve of static TLS, which exists for this. */
#if defined(__GNUC__)
#define VOW__TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define VOW__TLS _Thread_local
#endif

/* ---- allocation: every byte vow allocates goes through these ------------------------- */
void *vow__malloc(size_t n);
void *vow__calloc(size_t c, size_t n);
void *vow__realloc(void *p, size_t n);
void vow__free(void *p);
/* Faults in the whole pages inside [p, p + n) with one madvise(MADV_POPULATE_WRITE)
 * (Linux 5.14 and later; an older kernel refuses it and nothing happens; elsewhere a
 * no-op). Memory the caller is about to fill anyway: it saves a trap per page. */
void vow__prefault(void *p, size_t n);
/* How much the pools and the timer slab fault in at a time, once they are that big. */
#define VOW__PREFAULT_WINDOW (256u << 10)

/* ---- AddressSanitizer: poisoning for memory vow recycles itself (src/pool.c) ----------- */
#if defined(__SANITIZE_ADDRESS__)
#define VOW__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VOW__ASAN 1
#endif
#endif
#ifdef VOW__ASAN
#include <sanitizer/asan_interface.h>
#define VOW__POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define VOW__UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define VOW__POISON(p, n) ((void)(p), (void)(n))
#define VOW__UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* ---- per-loop object pools (src/pool.c) ----------------------------------------------
 * Fixed-size slots for the objects of a loop (the reactor's queued microtasks, and whatever
 * the layers above register: promises, then nodes, reaction records): a free list,
 * then a bump range in the newest chunk. Objects of a pool belong to one loop and are
 * allocated and freed on its thread. When the last live slot comes back, every chunk but
 * the first is released; the rest goes at vow__pool_destroy. */
struct vow__chunk;
typedef struct vow__pool {
    void *free;                /* free slots, linked through their first word */
    char *bump, *bump_end;     /* the open window of the newest chunk's never-used tail */
    struct vow__chunk *chunks; /* newest first */
    size_t size;               /* slot bytes (a multiple of the pointer size) */
    size_t live;               /* slots handed out */
    size_t next_bytes;         /* size of the next chunk (0: the first) */
    int passthrough;           /* VOW_POOL=off: one vow__malloc per object */
    int hold;                  /* vow__pool_walk running: release no chunk */
    struct vow__pt_hdr *pt;    /* passthrough: the live objects (for vow__pool_walk) */
} vow__pool;

void vow__pool_init(vow__pool *pl, size_t size, int passthrough);
/* Frees every chunk; asserts that no slot is live. */
void vow__pool_destroy(vow__pool *pl);
void *vow__pool_alloc_slow(vow__pool *pl);
void vow__pool_put_slow(vow__pool *pl, void *p);
/* Calls fn(slot, arg) for every live slot of the pool: a slot handed out counts as live
 * unless the byte at `mark_offset` in it equals `free_mark` (the owner writes the mark
 * before vow__pool_put; the pool's free-list link takes the first pointer's bytes, so the
 * mark must lie beyond them). fn may free the slot it is given, and nothing else of the
 * pool. No chunk is released while the walk runs. */
void vow__pool_walk(vow__pool *pl, size_t mark_offset, unsigned char free_mark,
                    void (*fn)(void *slot, void *arg), void *arg);
/* Checks that every slot handed out is live or free (vow_loop_verify). */
void vow__pool_verify(const vow__pool *pl);
/* How many chunks the pool holds (tests). */
size_t vow__pool_chunks(const vow__pool *pl);

/* A slot of pl->size bytes, uninitialised (NULL: out of memory). */
static inline void *vow__pool_alloc(vow__pool *pl) {
    char *p = pl->free;
    if (p != NULL) {
        VOW__UNPOISON(p, pl->size);
        pl->free = *(void **)p;
        pl->live++;
        return p;
    }
    if (pl->bump != pl->bump_end) {
        p = pl->bump;
        pl->bump += pl->size;
        VOW__UNPOISON(p, pl->size);
        pl->live++;
        return p;
    }
    return vow__pool_alloc_slow(pl);
}

static inline void vow__pool_put_slot(vow__pool *pl, void *p) {
    *(void **)p = pl->free;
    pl->free = p;
    VOW__POISON(p, pl->size);
}

/* Returns a slot that vow__pool_alloc on the same pool gave. */
static inline void vow__pool_put(vow__pool *pl, void *p) {
    if (--pl->live == 0 || pl->passthrough)
        vow__pool_put_slow(pl, p);
    else
        vow__pool_put_slot(pl, p);
}

/* ---- the job queue (microtasks) -----------------------------------------------------------
 * One FIFO of intrusive nodes. A layer embeds a vow__job at the head of its own record (a
 * promise reaction is one), so queueing a job allocates nothing and never fails; the
 * reactor knows a job only by its node. The node's function runs the job (VOW__JOB_RUN)
 * or, at forced teardown, drops it (VOW__JOB_DROP: free the record, run no user code but
 * destructors).
 *
 * vow_microtask's (fn, arg) pairs wait in a ring of their own; a run of consecutive ones
 * is one marker node in the queue that says how many ring entries to run at that point
 * (a microtask queued while the queue's tail is a marker only counts one more), so FIFO
 * order holds between microtasks and everything else, and a user microtask costs a ring
 * slot, as before issue 12 (bench/README.md measures both). */
enum { VOW__JOB_RUN = 0, VOW__JOB_DROP = 1 };
typedef struct vow__job vow__job;
typedef void (*vow__job_fn)(vow_loop_t *loop, vow__job *job, int how);
struct vow__job {
    vow__job *next; /* the queue's link (while queued) */
    vow__job_fn fn; /* set by whoever queues it */
};

/* A run of user microtasks in the job queue. */
typedef struct vow__mt_marker {
    vow__job job;
    size_t count; /* ring entries to run when the marker's turn comes */
} vow__mt_marker;

/* A user microtask waiting in the ring. */
typedef struct vow__mt {
    vow_microtask_fn fn;
    void *arg;
} vow__mt;

/* Notes that work was queued (keeps the application's ev_run going until prepare drains). */
void vow__mq_note_work(vow_loop_t *loop);
/* Drains the job queue to empty (iteratively; a nested call returns at once), then runs
 * the after_drain of each layer that asked for it, repeating while either queued more. */
void vow__drain(vow_loop_t *loop);
/* Drops every queued job (VOW__JOB_DROP), FIFO, until none is left (forced teardown). */
void vow__jobs_discard(vow_loop_t *loop);
/* Checks the queue (vow_loop_verify). */
void vow__jobs_verify(const vow_loop_t *loop);
/* At forced teardown: frees the microtask ring (after vow__jobs_discard emptied it). */
void vow__microtasks_free(vow_loop_t *loop);

/* ---- timers ------------------------------------------------------------------------------ */
#define VOW__NIL UINT32_MAX

enum { VOW__T_FREE = 0, VOW__T_TIMEOUT, VOW__T_INTERVAL, VOW__T_IMMEDIATE };
enum { VOW__TS_QUEUED = 0, VOW__TS_RUNNING, VOW__TS_CLEARED };

/* What freeing an internal timer does with its argument (vow_sleep's timer holds its
 * promise): a byte in the node names a release function the layer registered on the
 * loop (vow__loop_set_release) rather than a function pointer, which keeps a node at 48
 * bytes. 0: nothing (user timers). */
#define VOW__RELEASES 16
typedef void (*vow__release_fn)(void *arg);

typedef struct vow__tnode {
    uint64_t start; /* loop time when (re)armed */
    vow_timer_cb cb;
    void *arg;
    struct vow__tlist *list; /* timeouts and intervals */
    uint32_t next, prev;     /* neighbours in its list; `next` links the free stack */
    uint32_t gen;            /* bumped on free: stale ids never match */
    uint8_t kind;
    uint8_t state;
    uint8_t in_run_list; /* immediates: in the batch being run */
    uint8_t release;     /* index into loop->releases; 0: none */
} vow__tnode;
_Static_assert(sizeof(vow__tnode) <= 48, "a timer node stays at 48 bytes");

typedef struct vow__tlist {
    uint64_t ms;     /* the duration every timer in this list has */
    uint64_t expiry; /* deadline of its head */
    uint64_t seq;    /* tie-break between lists with equal expiry */
    uint32_t head, tail;
    size_t heap_idx;
    int running; /* being processed: emptied lists are freed by the processor */
} vow__tlist;

typedef struct vow__timers {
    vow__tnode *nodes;
    uint32_t cap, free_head;
    uint32_t fresh;    /* slots below it have been handed out at least once */
    uint32_t faulted;  /* slots below it are faulted in (see node_alloc) */
    size_t active;     /* timeouts + intervals in lists or running */
    size_t immediates; /* immediates queued (either list) */
    vow__tlist **heap;
    size_t heap_len, heap_cap;
    vow__tlist **map; /* open addressing on ms, linear probing */
    size_t map_cap, map_len;
    uint64_t list_seq;
    uint32_t imm_head, imm_tail; /* queued for the next check phase */
    uint32_t run_head, run_tail; /* the batch being run */
} vow__timers;

/* Starts a timer (VOW__T_TIMEOUT / INTERVAL / IMMEDIATE) calling cb(loop, arg); when the
 * node is freed (fired, cleared, forced teardown) the release function registered under
 * `release` (0: none) gets `arg`. 0 or VOW_ENOMEM (then nothing is released: the caller
 * still owns arg). */
int vow__timer_start(vow_loop_t *loop, int kind, uint64_t ms, vow_timer_cb cb, void *arg,
                     int release, vow_timer_t *id);
/* want_immediate: 1 an immediate's id, 0 a timer's, -1 either. */
int vow__timer_clear(vow_loop_t *loop, vow_timer_t id, int want_immediate);
void vow__timers_init(vow_loop_t *loop);
void vow__timers_free(vow_loop_t *loop);
/* Calls fn(arg, ctx) with the argument of every live timer (not fired, not cleared) whose
 * release kind is `release` (a layer's own), in slot order: how a layer finds the work it
 * keeps the loop alive with. fn must not start, clear or free timers (collect, then act). */
void vow__timers_each(vow_loop_t *loop, int release, void (*fn)(void *arg, void *ctx), void *ctx);
void vow__timers_check(vow_loop_t *loop); /* run this turn's immediates */
/* Checks the timers' invariants (vow_loop_verify): heap order, map, counts. */
void vow__timers_verify(const vow_loop_t *loop);

/* ---- layers --------------------------------------------------------------------------------
 * A layer above the reactor (promise/) registers what the loop must call back, the way
 * libuv keeps its handle types behind one interface: the loop names no field or function
 * of a layer. Every function may be NULL. */
typedef struct vow__layer {
    const char *name;
    /* After a drain of the job queue, when the layer asked for it since the last call
     * (vow__loop_want_after_drain): may queue more jobs (the drain then repeats), and may
     * ask again. A drain that nobody asked anything of costs no call. */
    void (*after_drain)(vow_loop_t *loop, void *state);
    /* Forced teardown (vow_loop_free), after the timers are gone and the queued jobs
     * dropped: release everything the layer holds on this loop (destructors may run and
     * queue jobs: those are dropped afterwards). */
    void (*teardown)(vow_loop_t *loop, void *state);
    /* The loop's memory goes (its last handle released): free `state`. */
    void (*destroy)(vow_loop_t *loop, void *state);
    /* vow_loop_verify: check the layer's invariants (vow__assert). */
    void (*verify)(const vow_loop_t *loop, void *state);
} vow__layer;

/* Layer slots. */
#define VOW__LAYERS 4
/* Registers `layer` (static, borrowed) with its per-loop `state` in `slot`: 0, VOW_EINVAL
 * (slot out of range), VOW_EBUSY (slot taken). */
int vow__loop_add_layer(vow_loop_t *loop, int slot, const vow__layer *layer, void *state);
/* Registers the release function of timer release kind `id` (1..VOW__RELEASES-1): 0,
 * VOW_EINVAL, VOW_EBUSY (taken by another function). */
int vow__loop_set_release(vow_loop_t *loop, int id, vow__release_fn fn);
/* Sets up pool `id` (VOW__POOL_FIRST_LAYER.., a layer's) for objects of `size` bytes. */
void vow__loop_pool_init(vow_loop_t *loop, int id, size_t size);

/* Pools of a loop: the reactor's own, then the layers' (a layer numbers its own from
 * VOW__POOL_FIRST_LAYER; promise/internal.h). */
enum { VOW__POOL_MICROTASK = 0, VOW__POOL_FIRST_LAYER = 1, VOW__POOLS = 8 };
/* (VOW__POOL_MICROTASK: markers beyond the loop's own, vow__mt_marker.) */

/* ---- other threads: the mailbox and the workers (src/mailbox.c, src/workers.c) -----------
 * The only things of a loop another thread may touch. A mailbox is a loop's inbox: other
 * threads post intrusive nodes to it (a lock-free stack: a release compare-and-swap; the
 * post that finds it empty sends the ev_async under a mutex the teardown's stop takes too,
 * so a wakeup is never lost and ev_async_send is never the fence); the loop thread takes
 * the whole stack with an acquire exchange on each ev_async wakeup and runs each node's
 * function in the order they were posted (VOW__JOB_RUN), then drains the microtasks. The mailbox is reference counted apart from
 * the loop: a thread holding a reference may post after vow_loop_free, and gets
 * VOW_ECLOSED. At teardown nodes still queued are dropped (VOW__JOB_DROP) on the loop
 * thread. The workers run tasks of a loop's thread pool (made on first use) and post each
 * one, done, to the mailbox; a submit wakes a sleeping worker at once only when all sleep,
 * else before the loop's thread blocks (src/workers.c, its top comment). */
typedef struct vow__xnode vow__xnode;
typedef void (*vow__xnode_fn)(vow_loop_t *loop, vow__xnode *n, int how);
struct vow__xnode {
    vow__xnode *next;
    vow__xnode_fn fn;
};
typedef struct vow__mailbox vow__mailbox;

/* The loop's mailbox, made on first use (loop thread; NULL: out of memory). Borrowed: take
 * a reference (vow__mailbox_ref) to keep it past the loop. */
vow__mailbox *vow__mailbox_get(vow_loop_t *loop);
void vow__mailbox_ref(vow__mailbox *m);   /* any thread */
void vow__mailbox_unref(vow__mailbox *m); /* any thread; the last one frees it */
/* Queues n (fn set) for the loop thread: 0, or VOW_ECLOSED (the loop was freed; n not
 * queued, still the caller's). Any thread. */
int vow__mailbox_post(vow__mailbox *m, vow__xnode *n);
/* The loop is kept alive by one more (less) thing another thread will finish: a task in
 * flight, a thread-safe resolver (loop thread; ev_ref while the count is above 0). */
void vow__loop_keep(vow_loop_t *loop);
void vow__loop_unkeep(vow_loop_t *loop);
/* Teardown (src/loop.c): the workers are told to stop (queued tasks are dropped, running
 * ones see their cancel flag) and joined; then the mailbox is closed and what it holds
 * dropped. */
void vow__threads_teardown(vow_loop_t *loop);

enum { VOW__TASK_QUEUED = 1, VOW__TASK_RUNNING, VOW__TASK_DONE };
typedef struct vow__task vow__task;
struct vow__task {
    vow__xnode x;              /* first: posted when done; its fn finishes the task */
    vow__task *next, *prev;    /* the pool's queue */
    void (*run)(vow__task *t); /* on a worker */
    int state;                 /* VOW__TASK_*, under the pool's lock */
    volatile int cancelled;    /* set by vow__task_cancel (atomic access) */
};
/* Queues t (run, x.fn set) on the loop's pool, started on first use: 0, VOW_ENOMEM,
 * VOW_EAGAIN (no worker thread could be started). */
int vow__task_submit(vow_loop_t *loop, vow__task *t);
/* Loop thread. 1: t was still queued and is taken out (run never runs, x.fn is never
 * called: the caller finishes t); 0: it is running or done (its cancel flag is set; x.fn
 * comes through the mailbox). */
int vow__task_cancel(vow_loop_t *loop, vow__task *t);
/* The pool's size for a loop whose pool has not started: 0, VOW_EINVAL (0 or above 1024),
 * VOW_EBUSY (started). */
int vow__loop_set_threads(vow_loop_t *loop, unsigned n);

/* ---- coroutine stacks and the context switch --------------------------------------------- */
#include "fiber.h"

/* ---- the loop --------------------------------------------------------------------------- */
struct vow_loop {
    struct ev_loop *evl;
    unsigned owns_evl : 1;
    unsigned is_default : 1;
    unsigned closed : 1;       /* freed: handles answer VOW_ECLOSED */
    unsigned tearing_down : 1; /* inside vow_loop_free/close: closed already (src/loop.c) */
    unsigned running : 1;      /* inside vow_loop_run / vow_run */
    unsigned stop : 1;         /* vow_loop_stop was called */
    unsigned draining : 1;
    unsigned kept : 1;             /* ev_ref taken while jobs wait */
    unsigned held : 1;             /* a callback of vow's drains before it returns (below) */
    unsigned pool_passthrough : 1; /* VOW_POOL=off */
    unsigned want_after_drain;     /* bit per layer slot: call its after_drain */
    size_t handles;                /* live objects holding the loop struct (a layer's handles) */
    vow_loop_t *managed_next;      /* the loops that manage a libev loop (src/loop.c) */

    /* the job queue */
    VOW__FIFO(vow__job) jobs;
    size_t jobs_len; /* nodes in the queue (markers included) */
    /* user microtasks: the ring, and the markers of their runs in the queue */
    vow__mt *mt_ring;
    size_t mt_cap, mt_head, mt_len;
    size_t mt_markers;         /* markers in the queue */
    vow__mt_marker mt_marker;  /* the loop's own marker (no allocation while it is free) */
    unsigned mt_marker_queued; /* the own marker is in the queue */
    unsigned mt_running;       /* a marker's entries are running (src/microtask.c) */
    size_t mt_run_left;        /* entries of the running run still to run */

    /* watchers (internal ones unref'd) */
    ev_prepare prepare_w;
    ev_check check_w;
    ev_idle idle_w;
    ev_timer timer_w;
    ev_prepare drain_w; /* never started: fed when work is queued outside a drain (loop.c) */

    uint64_t now_ms;     /* the cached time (vow_loop_now) */
    unsigned now_iter;   /* libev's iteration count when now_ms was read */
    unsigned check_iter; /* libev's iteration count when the check phase last ran (check_cb) */
    /* vow__loop_run_until's condition while it runs the libev loop (src/loop.c) */
    int (*run_done)(void *);
    int run_polled; /* looked at after each drain (vow__loop_run_until's `polled`) */
    void *run_arg;
    vow__timers tm;

    /* the layers above: their callbacks and state, their release functions, their pools */
    struct {
        const vow__layer *layer;
        void *state;
    } layers[VOW__LAYERS];
    vow__release_fn releases[VOW__RELEASES];
    vow__pool pools[VOW__POOLS];

    /* other threads (src/mailbox.c, src/workers.c) */
    struct vow__mailbox *mailbox; /* one reference (NULL until first use) */
    struct vow__workers *workers; /* NULL until first use */
    unsigned threads_wanted;      /* pool size; 0: the default */
    size_t keep;                  /* vow__loop_keep count */

    struct vow__stacks stacks; /* coroutine stacks (src/fiber.c) */
};

/* vow__drain's test for "nothing to do" inline: for callers that usually have none. */
static inline void vow__drain_inline(vow_loop_t *loop) {
    if (VOW__FIFO_EMPTY(&loop->jobs) && loop->want_after_drain == 0 && !loop->kept) return;
    vow__drain(loop);
}

/* Queues a job (FIFO); never fails. The caller has set j->fn. */
static inline void vow__job_push(vow_loop_t *loop, vow__job *j) {
    VOW__FIFO_PUSH(&loop->jobs, j, next);
    loop->jobs_len++;
    if (!loop->kept && !loop->draining && !loop->held) vow__mq_note_work(loop);
}

/* At the start of one of vow's own watcher callbacks that ends with vow__drain(loop): the
 * jobs the callback queues do not feed the drain watcher (vow__mq_note_work), nor take the
 * loop's hold (kept, one ev_ref): the callback's own vow__drain runs them before it
 * returns, before libev could look at its liveness count. The drain clears the mark.
 * Saves libev a feed and an invocation per callback, and an ev_ref and ev_unref. */
static inline void vow__callback_begin(vow_loop_t *loop) {
    if (!loop->kept && !loop->draining && !loop->closed) loop->held = 1;
}

/* The loop this thread is running (inside vow_loop_run, vow_run and the like), or NULL.
 * Only its own thread reads or writes it. */
extern VOW__TLS vow_loop_t *vow__tls_loop_running;
/* Non-zero when the calling thread is running `loop` now: then the loop is alive and this
 * thread its only user, so thread-confined state of the loop may be touched. `loop` is
 * only compared, never read (it may be gone: a value released on another thread, or
 * after its loop was freed). */
static inline int vow__loop_running_here(const vow_loop_t *loop) {
    return vow__tls_loop_running == loop;
}

/* Layer `slot` wants its after_drain called at the end of the current (or next) drain. */
static inline void vow__loop_want_after_drain(vow_loop_t *loop, int slot) {
    loop->want_after_drain |= 1u << slot;
}

/* A layer's state on this loop (NULL: not registered). */
static inline void *vow__loop_layer(const vow_loop_t *loop, int slot) {
    return loop->layers[slot].state;
}

/* Monotonic milliseconds. */
uint64_t vow__clock_ms(void);
uint64_t vow__clock_ns(void); /* CLOCK_MONOTONIC in nanoseconds */
/* Reads the clock into the loop's cached time (vow_loop_now) and returns it. */
static inline uint64_t vow__loop_clock_ms(vow_loop_t *loop) {
    loop->now_iter = ev_iteration(loop->evl);
    return loop->now_ms = vow__clock_ms();
}

/* Frees the loop struct (closed, no handle left): the layers' destroy, the pools. */
void vow__loop_struct_free(vow_loop_t *loop);
/* Releases one handle; the loop struct goes once closed and no handle holds it. */
static inline void vow__loop_handle_release(vow_loop_t *loop) {
    vow__assert(loop->handles > 0, "loop handle count underflow");
    if (--loop->handles == 0 && loop->closed) vow__loop_struct_free(loop);
}
/* Runs the loop until done(arg) is non-zero (0), nothing keeps it alive (VOW_ENEVER),
 * vow_loop_stop (VOW_EINTR); VOW_EREENTRANT / VOW_ECLOSED as vow_loop_run. The turn in
 * which done becomes true must end libev's run: `polled`, done is looked at after each
 * drain that ran something (what makes it true must be a job's work, or queue one); else
 * the caller makes sure vow__loop_run_wake is called then (vow_run: a record on its
 * promise whose job calls it). */
int vow__loop_run_until(vow_loop_t *loop, int (*done)(void *), void *arg, int polled);
/* Ends the ev_run of vow__loop_run_until with this turn (nothing outside one). */
static inline void vow__loop_run_wake(vow_loop_t *loop) {
    if (loop->run_done != NULL) ev_break(loop->evl, EVBREAK_ONE);
}
/* The check watcher (the check phase: immediates), started exactly while immediates wait
 * (src/timer.c); it costs libev a queueing and an invocation in every turn it is on. */
void vow__loop_check_start(vow_loop_t *loop);
void vow__loop_check_stop(vow_loop_t *loop);

/* The reactor's loop constructors, with no layer registered (the public vow_loop_new,
 * vow_loop_wrap and vow_loop_default, which register the library's layers, live with the
 * layers: promise/loop.c). Same arguments and codes as the public ones. A loop made here
 * is used, closed and freed with the public vow_loop_* calls. */
int vow__loop_new(vow_loop_t **out, unsigned backend);
int vow__loop_wrap(vow_loop_t **out, struct ev_loop *evl);
/* The default loop, made on first use (*created says whether this call made it). */
vow_loop_t *vow__loop_default(int *created);
/* Undoes vow__loop_new / wrap / default on a loop nothing has used yet (a layer's
 * registration failed). */
void vow__loop_discard(vow_loop_t *loop);

#endif /* VOW_SRC_INTERNAL_H */
