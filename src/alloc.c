/* src/alloc.c - the replaceable allocator behind every allocation vow makes
 * (libuv's uv_replace_allocator). libev keeps its own allocator, which aborts on
 * failure; vow leaves it alone. */

#include <string.h>

#include "internal.h"

#if defined(__linux__)
#include <sys/mman.h>
#define VOW__HAVE_MMAP 1
#else
#define VOW__HAVE_MMAP 0
#endif

static struct {
    vow_malloc_fn malloc_fn;
    vow_realloc_fn realloc_fn;
    vow_calloc_fn calloc_fn;
    vow_free_fn free_fn;
} vow__alloc = {malloc, realloc, calloc, free};

int vow_replace_allocator(vow_malloc_fn malloc_fn, vow_realloc_fn realloc_fn,
                          vow_calloc_fn calloc_fn, vow_free_fn free_fn) {
    if (malloc_fn == NULL || realloc_fn == NULL || calloc_fn == NULL || free_fn == NULL)
        return VOW_EINVAL;
    vow__alloc.malloc_fn = malloc_fn;
    vow__alloc.realloc_fn = realloc_fn;
    vow__alloc.calloc_fn = calloc_fn;
    vow__alloc.free_fn = free_fn;
    return 0;
}

void vow_reset_allocator(void) {
    vow__alloc.malloc_fn = malloc;
    vow__alloc.realloc_fn = realloc;
    vow__alloc.calloc_fn = calloc;
    vow__alloc.free_fn = free;
}

int vow__allocator_is_default(void) {
    return vow__alloc.malloc_fn == malloc && vow__alloc.free_fn == free;
}

void *vow__malloc(size_t n) { return vow__alloc.malloc_fn(n ? n : 1); }
void *vow__calloc(size_t c, size_t n) { return vow__alloc.calloc_fn(c ? c : 1, n ? n : 1); }

/* Never frees on size 0 (realloc's C23 ambiguity): callers always ask for > 0. */
void *vow__realloc(void *p, size_t n) { return vow__alloc.realloc_fn(p, n ? n : 1); }

void vow__free(void *p) {
    if (p != NULL) vow__alloc.free_fn(p);
}

/* ---- huge-page mappings and big arrays ------------------------------------------------------
 * Arrays that grow with the work (timer nodes, the microtask ring, a combinator's records
 * and results) and pool chunks of 2 MiB come from aligned anonymous mappings advised as
 * transparent huge pages, while the default allocator is in place: one page fault per
 * 2 MiB instead of 512, which is most of the cost of touching fresh memory on Linux.
 * With a replaced allocator everything goes through it. */

void *vow__map_huge(size_t bytes) {
#if VOW__HAVE_MMAP
    size_t span = bytes + VOW__HUGE_PAGE;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *p = (char *)(((uintptr_t)raw + VOW__HUGE_PAGE - 1) & ~(uintptr_t)(VOW__HUGE_PAGE - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    if (p + bytes < raw + span) munmap(p + bytes, (size_t)(raw + span - (p + bytes)));
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice: without THP it changes nothing */
#endif
    return p;
#else
    (void)bytes;
    return NULL;
#endif
}

void vow__unmap_huge(void *p, size_t bytes) {
#if VOW__HAVE_MMAP
    munmap(p, bytes);
#else
    (void)p;
    (void)bytes;
    vow__assert(0, "no mappings on this system");
#endif
}

/* A big block starts with its mapping's size (0: from vow__malloc). */
#define BIG_HDR ((size_t)16)

void *vow__big_malloc(size_t n) {
    if (n > SIZE_MAX - 2 * VOW__HUGE_PAGE) return NULL;
    char *b = NULL;
    size_t mapped = 0;
    if (n + BIG_HDR >= VOW__HUGE_PAGE && vow__allocator_is_default()) {
        mapped = (n + BIG_HDR + VOW__HUGE_PAGE - 1) & ~(size_t)(VOW__HUGE_PAGE - 1);
        b = vow__map_huge(mapped);
        if (b == NULL) mapped = 0;
    }
    if (b == NULL) b = vow__malloc(n + BIG_HDR);
    if (b == NULL) return NULL;
    memcpy(b, &mapped, sizeof mapped);
    return b + BIG_HDR;
}

void vow__big_free(void *p) {
    if (p == NULL) return;
    char *b = (char *)p - BIG_HDR;
    size_t mapped;
    memcpy(&mapped, b, sizeof mapped);
    if (mapped != 0)
        vow__unmap_huge(b, mapped);
    else
        vow__free(b);
}

void *vow__big_realloc(void *p, size_t old_n, size_t n) {
    if (p == NULL) return vow__big_malloc(n);
    char *b = (char *)p - BIG_HDR;
    size_t mapped;
    memcpy(&mapped, b, sizeof mapped);
    if (mapped == 0 && (n + BIG_HDR < VOW__HUGE_PAGE || !vow__allocator_is_default())) {
        if (n > SIZE_MAX - BIG_HDR) return NULL;
        char *nb = vow__realloc(b, n + BIG_HDR);
        return nb != NULL ? nb + BIG_HDR : NULL;
    }
    if (mapped != 0 && n + BIG_HDR <= mapped) return p;
    void *q = vow__big_malloc(n);
    if (q == NULL) return NULL;
    memcpy(q, p, old_n < n ? old_n : n);
    vow__big_free(p);
    return q;
}

void vow__assert_fail(const char *cond, const char *msg, const char *file, int line) {
    fprintf(stderr, "vow: internal error at %s:%d: %s (%s)\n", file, line, msg, cond);
    abort();
}
