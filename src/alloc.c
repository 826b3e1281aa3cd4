/* src/alloc.c - the replaceable allocator behind every allocation vow makes
 * (libuv's uv_replace_allocator). libev keeps its own allocator, which aborts on
 * failure; vow leaves it alone. */

#include "internal.h"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14's uapi value; older headers lack the name */
#endif
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

void *vow__malloc(size_t n) { return vow__alloc.malloc_fn(n ? n : 1); }
void *vow__calloc(size_t c, size_t n) { return vow__alloc.calloc_fn(c ? c : 1, n ? n : 1); }

/* Never frees on size 0 (realloc's C23 ambiguity): callers always ask for > 0. */
void *vow__realloc(void *p, size_t n) { return vow__alloc.realloc_fn(p, n ? n : 1); }

void vow__free(void *p) {
    if (p != NULL) vow__alloc.free_fn(p);
}

void vow__prefault(void *p, size_t n) {
#if defined(__linux__)
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t b = ((uintptr_t)p + page - 1) & ~(page - 1), e = ((uintptr_t)p + n) & ~(page - 1);
    if (e > b) (void)madvise((void *)b, e - b, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)n;
#endif
}

void vow__assert_fail(const char *cond, const char *msg, const char *file, int line) {
    fprintf(stderr, "vow: internal error at %s:%d: %s (%s)\n", file, line, msg, cond);
    abort();
}
