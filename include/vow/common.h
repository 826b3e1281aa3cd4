/* vow/common.h - export macro, version, the allocator hook. Included by every header. */
#ifndef VOW_COMMON_H
#define VOW_COMMON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VOW_VERSION_MAJOR 0
#define VOW_VERSION_MINOR 1
#define VOW_VERSION_PATCH 0
#define VOW_VERSION_STRING "0.1.0"

#if defined(VOW_BUILDING) && defined(__GNUC__)
#define VOW_EXTERN __attribute__((visibility("default")))
#else
#define VOW_EXTERN
#endif

#if defined(__GNUC__)
#define VOW_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define VOW_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define VOW_PRINTF(fmt, args)
#define VOW_WARN_UNUSED
#endif

typedef void *(*vow_malloc_fn)(size_t size);
typedef void *(*vow_realloc_fn)(void *ptr, size_t size);
typedef void *(*vow_calloc_fn)(size_t count, size_t size);
typedef void (*vow_free_fn)(void *ptr);

/* Replaces the allocator behind every allocation vow itself makes (libev's own
 * allocations are not routed here: libev aborts on failure by design). Call it before
 * any other vow call, or when no vow object is live: memory must be freed by the
 * allocator that made it. All four functions are required; they must behave as the C
 * library's (malloc(0) may return NULL or a unique pointer). Returns 0, or VOW_EINVAL
 * when one is NULL (nothing changes). Not thread-safe with concurrent vow calls.
 *
 * Promises, then steps and reaction records do not take one allocation each: every loop
 * keeps pools of them, in chunks of 64 objects growing to 2 MiB, and reuses freed ones.
 * When a pool's last object goes, all its chunks but the first are freed; the rest goes
 * with the loop. VOW_POOL=off in the environment (read when a loop is created) makes
 * every object its own allocation again, for valgrind or allocation-failure testing. */
VOW_EXTERN int vow_replace_allocator(vow_malloc_fn malloc_fn, vow_realloc_fn realloc_fn,
                                     vow_calloc_fn calloc_fn, vow_free_fn free_fn);

/* Restores the C library's allocator (a no-op when it is in use). The rule of
 * vow_replace_allocator holds: call it only when no vow object is live. That is not
 * checked (vow keeps no count of its objects across loops): memory freed by another
 * allocator than the one that made it is undefined behaviour. */
VOW_EXTERN void vow_reset_allocator(void);

#ifdef __cplusplus
}
#endif
#endif /* VOW_COMMON_H */
