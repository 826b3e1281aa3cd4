/* src/pool.c - per-loop pools of fixed-size objects (promises, then nodes, reaction records).
 *
 * A pool hands out slots of one size from chunks it takes from vow's allocator (or, for
 * chunks of 2 MiB and more while the default allocator is in place, straight from mmap,
 * aligned and advised as transparent huge pages where the system has them). A freed slot
 * goes on the pool's free list and is the next one handed out, so a steady loop recycles
 * the same few cache lines; a fresh chunk is handed out by bumping a pointer. Chunks grow
 * geometrically from 64 slots to 2 MiB.
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

enum { FIRST_SLOTS = 64 };

struct vow__chunk {
    struct vow__chunk *next; /* older chunk */
    size_t bytes;            /* the whole allocation, header included */
    int mapped;              /* from mmap (else vow__malloc) */
};

/* Slots start this far into a chunk (keeps max_align_t alignment). */
#define HEADER_BYTES ((sizeof(struct vow__chunk) + 15u) & ~(size_t)15u)

void vow__pool_init(vow__pool *pl, size_t size, int passthrough) {
    memset(pl, 0, sizeof *pl);
    pl->size = (size + 15u) & ~(size_t)15u;
    pl->passthrough = passthrough;
}

static void chunk_release(struct vow__chunk *c) {
    VOW__UNPOISON(c, c->bytes);
    if (c->mapped)
        vow__unmap_huge(c, c->bytes);
    else
        vow__free(c);
}

/* Adds a chunk and points the bump range at it: 0, or VOW_ENOMEM. */
static int pool_grow(vow__pool *pl) {
    size_t bytes = pl->next_bytes;
    if (bytes == 0) bytes = HEADER_BYTES + FIRST_SLOTS * pl->size;
    struct vow__chunk *c = NULL;
    int mapped = 0;
    if (bytes >= VOW__HUGE_PAGE && vow__allocator_is_default()) {
        bytes = VOW__HUGE_PAGE;
        c = vow__map_huge(bytes);
        mapped = c != NULL;
    }
    if (c == NULL) c = vow__malloc(bytes);
    if (c == NULL) return VOW_ENOMEM;
    c->next = pl->chunks;
    c->bytes = bytes;
    c->mapped = mapped;
    pl->chunks = c;
    pl->bump = (char *)c + HEADER_BYTES;
    pl->bump_end = pl->bump + (bytes - HEADER_BYTES) / pl->size * pl->size;
    VOW__POISON(pl->bump, (size_t)(pl->bump_end - pl->bump));
    if (bytes < VOW__HUGE_PAGE)
        pl->next_bytes = bytes * 2 < VOW__HUGE_PAGE ? bytes * 2 : VOW__HUGE_PAGE;
    return 0;
}

void *vow__pool_alloc_slow(vow__pool *pl) {
    if (pl->passthrough) {
        void *p = vow__malloc(pl->size);
        if (p != NULL) pl->live++;
        return p;
    }
    if (pool_grow(pl) != 0) return NULL;
    return vow__pool_alloc(pl);
}

/* Releases every chunk but the first (oldest, smallest) and empties the free list. */
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
    pl->bump = (char *)c + HEADER_BYTES;
    pl->bump_end = pl->bump + (c->bytes - HEADER_BYTES) / pl->size * pl->size;
    VOW__POISON(pl->bump, (size_t)(pl->bump_end - pl->bump));
    pl->next_bytes = c->bytes * 2;
}

void vow__pool_put_slow(vow__pool *pl, void *p) {
    if (pl->passthrough) {
        vow__free(p);
        return;
    }
    /* The last live slot came back: release what a burst left behind. */
    if (pl->chunks != NULL && pl->chunks->next != NULL) pool_shrink(pl);
    else vow__pool_put_slot(pl, p);
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

int vow__pool_owns(const vow__pool *pl, const void *p) {
    for (const struct vow__chunk *c = pl->chunks; c != NULL; c = c->next)
        if ((const char *)p >= (const char *)c && (const char *)p < (const char *)c + c->bytes)
            return 1;
    return 0;
}

size_t vow__pool_mapped_chunks(const vow__pool *pl) {
    size_t n = 0;
    for (const struct vow__chunk *c = pl->chunks; c != NULL; c = c->next) n += c->mapped != 0;
    return n;
}
