/* src/pool.c - per-loop pools of fixed-size objects (promises, then nodes, reaction records).
 *
 * A pool hands out slots of one size from chunks it takes from vow's allocator. A freed
 * slot goes on the pool's free list and is the next one handed out, so a steady loop
 * recycles the same few cache lines; a fresh chunk is handed out by bumping a pointer.
 * Chunks grow geometrically from 64 slots to 2 MiB. (Advising big chunks as transparent
 * huge pages was tried and dropped: with the kernel's default defrag=madvise a fault in
 * such a chunk may compact memory synchronously, and after other processes had run the
 * 1,000,000-step chain of bench/ took twice as long; bench/README.md has the figures.)
 *
 * Memory goes back: when a pool's last live slot is freed, every chunk but the first
 * (the smallest) is released; the first goes with the loop struct. So after a burst of a
 * million promises a quiet loop holds one small chunk per pool, and a test that counts
 * allocations sees at most that one chunk per pool mid-run (all of it after vow_loop_free).
 *
 * VOW_POOL=off in the environment (read when a loop is created) turns a loop's pools into
 * plain vow__malloc / vow__free per object, GLib's G_SLICE=always-malloc idea: every object
 * is then its own allocation for valgrind, the allocator-failure sweeps and the like.
 * Under AddressSanitizer free slots and the unused tail of a chunk are poisoned, so a use
 * after free of a pooled object is still reported.
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"

enum { FIRST_SLOTS = 64, MAX_CHUNK = 2u << 20 };

struct vow__chunk {
    struct vow__chunk *next; /* older chunk */
    size_t bytes;            /* the whole allocation, header included */
};

/* Slots start this far into a chunk (keeps max_align_t alignment). */
#define HEADER_BYTES ((sizeof(struct vow__chunk) + 15u) & ~(size_t)15u)

void vow__pool_init(vow__pool *pl, size_t size, int passthrough) {
    memset(pl, 0, sizeof *pl);
    /* Promises and records need no more than pointer alignment (8-byte multiples: a slot
     * size that is not a multiple of 16 is not rounded up to one). */
    pl->size = (size + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
    pl->passthrough = passthrough;
}

/* The end of chunk c's whole slots. */
static char *slots_end(const vow__pool *pl, struct vow__chunk *c) {
    return (char *)c + HEADER_BYTES + (c->bytes - HEADER_BYTES) / pl->size * pl->size;
}

/* Opens the bump range of the newest chunk up to its next window of VOW__PREFAULT_WINDOW
 * bytes (or to its end, for a small chunk), faulting a big chunk's window in with one call
 * rather than a trap per page: in bench/'s W5 (100,000 sleeps) that took 1.5-2 ms off the
 * creation time. Window by window, so that the pages of a chunk's unused tail are never
 * touched. */
static void open_window(vow__pool *pl, struct vow__chunk *c) {
    const size_t window = VOW__PREFAULT_WINDOW;
    char *from = pl->bump_end, *end = slots_end(pl, c);
    if (c->bytes >= window && (size_t)(end - from) > window)
        end = from + window / pl->size * pl->size;
    if (c->bytes >= window) vow__prefault(from, (size_t)(end - from));
    pl->bump_end = end;
}

/* Hands out chunk c from its first slot on (all of it poisoned until handed out). */
static void bump_into(vow__pool *pl, struct vow__chunk *c) {
    pl->bump = pl->bump_end = (char *)c + HEADER_BYTES;
    VOW__POISON(pl->bump, c->bytes - HEADER_BYTES); /* the slots and the tail past them */
    open_window(pl, c);
}

static void chunk_release(struct vow__chunk *c) {
    VOW__UNPOISON(c, c->bytes);
    vow__free(c);
}

/* Adds a chunk and points the bump range at it: 0, or VOW_ENOMEM. */
static int pool_grow(vow__pool *pl) {
    size_t bytes = pl->next_bytes;
    if (bytes == 0) bytes = HEADER_BYTES + FIRST_SLOTS * pl->size;
    struct vow__chunk *c = vow__malloc(bytes);
    if (c == NULL) return VOW_ENOMEM;
    c->next = pl->chunks;
    c->bytes = bytes;
    pl->chunks = c;
    bump_into(pl, c);
    pl->next_bytes = bytes * 2 < MAX_CHUNK ? bytes * 2 : MAX_CHUNK;
    return 0;
}

/* VOW_POOL=off: each object is an allocation of its own behind this header, which links
 * it into its pool's list of live objects (for vow__pool_walk). */
struct vow__pt_hdr {
    struct vow__pt_hdr *next, *prev;
};
#define PT_HDR ((sizeof(struct vow__pt_hdr) + 15u) & ~(size_t)15u)

void *vow__pool_alloc_slow(vow__pool *pl) {
    if (pl->passthrough) {
        struct vow__pt_hdr *h = vow__malloc(PT_HDR + pl->size);
        if (h == NULL) return NULL;
        h->prev = NULL;
        h->next = pl->pt;
        if (pl->pt != NULL) pl->pt->prev = h;
        pl->pt = h;
        pl->live++;
        return (char *)h + PT_HDR;
    }
    /* The newest chunk has slots past its open window, or a new chunk is needed. */
    if (pl->chunks != NULL && pl->bump_end != slots_end(pl, pl->chunks)) {
        open_window(pl, pl->chunks);
    } else if (pool_grow(pl) != 0) {
        return NULL;
    }
    return vow__pool_alloc(pl);
}

/* With no slot live: releases every chunk but the first (oldest, smallest) and hands that
 * one out afresh (the free list is forgotten). */
static void pool_shrink(vow__pool *pl) {
    struct vow__chunk *c = pl->chunks;
    if (c == NULL) return;
    while (c->next != NULL) {
        struct vow__chunk *older = c->next;
        chunk_release(c);
        c = older;
    }
    pl->chunks = c;
    pl->free = NULL;
    bump_into(pl, c);
    pl->next_bytes = c->bytes * 2;
}

/* Whether a shrink would release a chunk (it keeps the first). */
static int pool_releasable(const vow__pool *pl) {
    return pl->chunks != NULL && pl->chunks->next != NULL;
}

void vow__pool_put_slow(vow__pool *pl, void *p) {
    if (pl->passthrough) {
        struct vow__pt_hdr *h = (struct vow__pt_hdr *)((char *)p - PT_HDR);
        if (h->prev != NULL)
            h->prev->next = h->next;
        else
            pl->pt = h->next;
        if (h->next != NULL) h->next->prev = h->prev;
        vow__free(h);
        return;
    }
    /* The last live slot came back: release what a burst left behind (not under a walk),
     * when there is something to release: a pool of one chunk stays as it is (a chain of one object at a time would otherwise reset the
     * pool at every step). */
    if (!pl->hold && pool_releasable(pl))
        pool_shrink(pl);
    else
        vow__pool_put_slot(pl, p);
}

void vow__pool_destroy(vow__pool *pl) {
    vow__assert(pl->live == 0, "pool destroyed with live objects");
    struct vow__chunk *c = pl->chunks;
    while (c != NULL) {
        struct vow__chunk *older = c->next;
        chunk_release(c);
        c = older;
    }
    pl->chunks = NULL;
    pl->free = pl->bump = pl->bump_end = NULL;
}

void vow__pool_walk(vow__pool *pl, size_t mark_offset, unsigned char free_mark,
                    void (*fn)(void *slot, void *arg), void *arg) {
    vow__assert(mark_offset >= sizeof(void *) && mark_offset < pl->size, "bad free mark");
    pl->hold++;
    if (pl->passthrough) {
        /* fn may free its own object only: keep the next one first. */
        for (struct vow__pt_hdr *h = pl->pt, *next; h != NULL; h = next) {
            next = h->next;
            fn((char *)h + PT_HDR, arg);
        }
    } else {
        for (struct vow__chunk *c = pl->chunks; c != NULL; c = c->next) {
            char *slot = (char *)c + HEADER_BYTES;
            /* The newest chunk was handed out up to the bump pointer; older ones whole. */
            char *end = c == pl->chunks ? pl->bump : slots_end(pl, c);
            for (; slot < end; slot += pl->size) {
                VOW__UNPOISON(slot, pl->size); /* a free slot is poisoned whole */
                if (((unsigned char *)slot)[mark_offset] == free_mark) {
                    VOW__POISON(slot, pl->size);
                    continue;
                }
                fn(slot, arg);
            }
        }
    }
    if (--pl->hold == 0 && pl->live == 0) pool_shrink(pl);
}

size_t vow__pool_chunks(const vow__pool *pl) {
    size_t n = 0;
    for (const struct vow__chunk *c = pl->chunks; c != NULL; c = c->next) n++;
    return n;
}

/* Every slot handed out from the chunks is either live or on the free list (vow_loop_verify). */
void vow__pool_verify(const vow__pool *pl) {
    size_t handed = 0, listed = 0;
    if (pl->passthrough) {
        for (const struct vow__pt_hdr *h = pl->pt; h != NULL; h = h->next)
            vow__assert(++handed <= pl->live, "passthrough pool's list longer than its count");
        vow__assert(handed == pl->live, "passthrough pool's count");
        return;
    }
    for (const struct vow__chunk *c = pl->chunks; c != NULL; c = c->next) {
        const char *start = (const char *)c + HEADER_BYTES;
        const char *end = c == pl->chunks ? pl->bump : slots_end(pl, (struct vow__chunk *)c);
        vow__assert(start <= end && (size_t)(end - start) % pl->size == 0, "pool bump range");
        handed += (size_t)(end - start) / pl->size;
    }
    for (char *p = pl->free; p != NULL;) {
        int inside = 0;
        for (const struct vow__chunk *c = pl->chunks; c != NULL && !inside; c = c->next) {
            const char *start = (const char *)c + HEADER_BYTES;
            inside =
                p >= start && p < (const char *)c + c->bytes && (size_t)(p - start) % pl->size == 0;
        }
        vow__assert(inside, "pool free list points outside its chunks");
        vow__assert(++listed <= handed, "pool free list loops");
        VOW__UNPOISON(p, sizeof(void *));
        char *next = *(char **)p;
        VOW__POISON(p, sizeof(void *));
        p = next;
    }
    vow__assert(listed + pl->live == handed, "pool: slots handed out = live + free");
}
