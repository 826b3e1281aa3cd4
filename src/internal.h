/* src/internal.h - what vow's own source files share. Never installed.
 *
 * Symbols shared between .c files are vow__* (double underscore); file-local helpers are
 * static. promise/ reaches the loop's fields through this header only; src/ calls back
 * into promise/ only through the few vow__promise_* hooks declared at the end.
 */
#ifndef VOW_SRC_INTERNAL_H
#define VOW_SRC_INTERNAL_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

/* ---- assertions: codes for users, asserts for ourselves ------------------------------ */
#define vow__assert(cond, msg)                                                              \
    do {                                                                                    \
        if (!(cond)) vow__assert_fail(#cond, (msg), __FILE__, __LINE__);                    \
    } while (0)
void vow__assert_fail(const char *cond, const char *msg, const char *file, int line)
    __attribute__((noreturn));

#define vow__container_of(ptr, type, member)                                               \
    ((type *)((char *)(ptr)-offsetof(type, member)))

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
 * Fixed-size slots for the loop's promises, then nodes and reaction records: a free list,
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

/* ---- microtask ring --------------------------------------------------------------------
 * A power-of-two ring of (fn, arg), grown by doubling up to VOW__MQ_RING_MAX jobs. Jobs
 * that find it full (at its cap, or unable to grow) join an intrusive overflow list
 * instead (loop->overflow_*), which the drain runs after the ring: a promise reaction
 * through its record's own link (queueing a reaction never fails), a vow_microtask in a
 * pooled record of its own (VOW_ENOMEM only if that record cannot be had). While the
 * overflow list is not empty every new job joins it, so FIFO order holds. The cap keeps
 * the ring small and hot: a burst of a million settlements (bench/'s W2) no longer grows a
 * 16 MiB ring, copying it at each doubling; its records are the queue. */
#define VOW__MQ_RING_MAX 4096u
typedef struct vow__job {
    vow_microtask_fn fn;
    void *arg;
} vow__job;

/* vow__mq_push (below the loop struct) when the ring is full or the overflow list in use:
 * 0, or VOW_ENOMEM when the job must join the overflow list. */
int vow__mq_push_slow(vow_loop_t *loop, vow_microtask_fn fn, void *arg);
/* Notes that work was queued outside the ring (keeps the application's ev_run going). */
void vow__mq_note_work(vow_loop_t *loop);
/* Drains the microtask queue to empty (iteratively; a nested call returns at once), then
 * processes unhandled rejections, repeating while either queued more work. */
void vow__drain(vow_loop_t *loop);

/* ---- timers ------------------------------------------------------------------------------ */
#define VOW__NIL UINT32_MAX

enum { VOW__T_FREE = 0, VOW__T_TIMEOUT, VOW__T_INTERVAL, VOW__T_IMMEDIATE };
enum { VOW__TS_QUEUED = 0, VOW__TS_RUNNING, VOW__TS_CLEARED };

/* What freeing an internal timer does with its argument (vow_sleep's timer holds its
 * promise): a byte in the node rather than a function pointer keeps a node at 48 bytes. */
enum { VOW__TR_NONE = 0, VOW__TR_UNREF, VOW__TR_TASK_START };
/* Carries out a VOW__TR_* release other than NONE (promise/: the promise layer's kinds). */
void vow__timer_arg_release(int how, void *arg);

typedef struct vow__tnode {
    uint64_t start;          /* loop time when (re)armed */
    vow_timer_cb cb;
    void *arg;
    struct vow__tlist *list; /* timeouts and intervals */
    uint32_t next, prev;     /* neighbours in its list; `next` links the free stack */
    uint32_t gen;            /* bumped on free: stale ids never match */
    uint8_t kind;
    uint8_t state;
    uint8_t in_run_list;     /* immediates: in the batch being run */
    uint8_t release;         /* VOW__TR_*: internal users only */
} vow__tnode;

typedef struct vow__tlist {
    uint64_t ms;     /* the duration every timer in this list has */
    uint64_t expiry; /* deadline of its head */
    uint64_t seq;    /* tie-break between lists with equal expiry */
    uint32_t head, tail;
    size_t heap_idx;
    int running;     /* being processed: emptied lists are freed by the processor */
} vow__tlist;

typedef struct vow__timers {
    vow__tnode *nodes;
    uint32_t cap, free_head;
    uint32_t fresh;         /* slots below it have been handed out at least once */
    uint32_t faulted;       /* slots below it are faulted in (see node_alloc) */
    size_t active;          /* timeouts + intervals in lists or running */
    size_t immediates;      /* immediates queued (either list) */
    vow__tlist **heap;
    size_t heap_len, heap_cap;
    vow__tlist **map;       /* open addressing on ms, linear probing */
    size_t map_cap, map_len;
    uint64_t list_seq;
    uint32_t imm_head, imm_tail; /* queued for the next check phase */
    uint32_t run_head, run_tail; /* the batch being run */
} vow__timers;

int vow__timer_start(vow_loop_t *loop, int kind, uint64_t ms, vow_timer_cb cb, void *arg,
                     int release, vow_timer_t *id);
/* want_immediate: 1 an immediate's id, 0 a timer's, -1 either. */
int vow__timer_clear(vow_loop_t *loop, vow_timer_t id, int want_immediate);
void vow__timers_init(vow_loop_t *loop);
void vow__timers_free(vow_loop_t *loop);
void vow__timers_check(vow_loop_t *loop); /* run this turn's immediates */

/* The loop's pools (sizes set by promise/ through vow__promise_pool_sizes). */
enum { VOW__POOL_PROMISE, VOW__POOL_NODE, VOW__POOL_REACTION, VOW__POOLS };
/* Slot sizes of the promise layer's pools, indexed by VOW__POOL_*. */
void vow__promise_pool_sizes(size_t sizes[VOW__POOLS]);

/* ---- the loop --------------------------------------------------------------------------- */
struct vow_loop {
    struct ev_loop *evl;
    unsigned owns_evl : 1;
    unsigned is_default : 1;
    unsigned closed : 1;       /* freed: handles answer VOW_ECLOSED */
    unsigned running : 1;      /* inside vow_loop_run / vow_run */
    unsigned stop : 1;         /* vow_loop_stop was called */
    unsigned draining : 1;
    unsigned kept : 1;         /* ev_ref taken while microtasks wait */
    size_t handles;            /* live objects holding the loop struct (promises) */

    /* microtasks */
    vow__job *mq;
    size_t mq_cap, mq_head, mq_len;
    struct vow__reaction *overflow_head, *overflow_tail; /* promise/: see the ring above */
    size_t overflow_len;

    /* watchers (internal ones unref'd) */
    ev_prepare prepare_w;
    ev_check check_w;
    ev_idle idle_w;
    ev_timer timer_w;

    uint64_t now_ms;
    vow__timers tm;

    /* promise layer (promise/) */
    struct vow *unhandled, *unhandled_tail;       /* rejected with no handler, to report
                                                     after the drain (FIFO, referenced) */
    struct vow *handled_late, *handled_late_tail; /* reported ones that got a handler */
    vow_rejection_hook hook;
    void *hook_ctx;
    vow_unhandled_mode_t mode;
    uint32_t rejection_ids;    /* numbers reported rejections, as Node's rejection id */
    vow__pool pools[VOW__POOLS]; /* promise/: objects by size (VOW__POOL_*) */
};

/* Queues fn(loop, arg) on the ring: 0, or VOW_ENOMEM when the ring is at its cap or cannot
 * grow, or the overflow list is in use (the caller then uses the overflow list). */
static inline int vow__mq_push(vow_loop_t *loop, vow_microtask_fn fn, void *arg) {
    if (loop->overflow_head != NULL || loop->mq_len == loop->mq_cap)
        return vow__mq_push_slow(loop, fn, arg);
    vow__job *j = &loop->mq[(loop->mq_head + loop->mq_len) & (loop->mq_cap - 1)];
    j->fn = fn;
    j->arg = arg;
    loop->mq_len++;
    if (!loop->kept && !loop->draining) vow__mq_note_work(loop);
    return 0;
}

/* Monotonic milliseconds. */
uint64_t vow__clock_ms(void);
uint64_t vow__clock_ns(void); /* CLOCK_MONOTONIC in nanoseconds */
/* Releases the loop struct once closed and no handle holds it. */
void vow__loop_handle_release(vow_loop_t *loop);
/* Runs the loop until done(arg) is non-zero (0), nothing keeps it alive (VOW_ENEVER),
 * vow_loop_stop (VOW_EINTR); VOW_EREENTRANT / VOW_ECLOSED as vow_loop_run. */
int vow__loop_run_until(vow_loop_t *loop, int (*done)(void *), void *arg);

/* ---- hooks into promise/ ------------------------------------------------------------ */
/* After each drain: report unhandled and handled-late rejections. */
void vow__promise_after_drain(vow_loop_t *loop);
/* At forced teardown: drop a queued job that belongs to promise/ (frees its record). */
int vow__promise_discard_job(vow_loop_t *loop, vow_microtask_fn fn, void *arg);
/* Runs the first job of the overflow list. */
void vow__promise_overflow_run_one(vow_loop_t *loop);
/* At forced teardown: drops the first job of the overflow list (frees its record). */
void vow__promise_overflow_discard_one(vow_loop_t *loop);
/* Queues a user microtask on the overflow list (in a pooled record): 0 or VOW_ENOMEM. */
int vow__promise_overflow_microtask(vow_loop_t *loop, vow_microtask_fn fn, void *arg);
/* At forced teardown: strip every promise of what it holds, breaking cycles. */
void vow__promise_teardown(vow_loop_t *loop);

#endif /* VOW_SRC_INTERNAL_H */
