/* tests/helpers.h - the test fixture every Criterion test uses.
 *
 * - A counting allocator installed through vow_replace_allocator: it counts vow's live
 *   allocations and can fail the Nth one (for the out-of-memory tests).
 * - vow_test_loop(): a loop on the backend the environment asks for (VOW_BACKEND, set by
 *   ctest once per backend); the test fails unless the loop really uses it.
 * - VOW_TEST_END(loop): closes the loop (it must close cleanly: nothing left running) and
 *   asserts that no vow allocation is live, inside the test body, because Criterion 2.4
 *   reports PASS for a failed assert in .fini (STYLE.md section 12).
 *
 * Use: TestSuite(name, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 10);
 */
#ifndef VOW_TEST_HELPERS_H
#define VOW_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vow.h"

/* ---- counting allocator ---------------------------------------------------------- */
#define VOW_TEST_HDR 16 /* keeps max_align_t alignment */

static atomic_long vow_test_live;       /* live allocations */
static atomic_long vow_test_total;      /* allocations since setup */
static atomic_long vow_test_fail_n;     /* fail the allocation with this ordinal (1-based); 0 = never */
static atomic_long vow_test_failed;     /* how many allocations were failed */

static inline int vow_test__should_fail(void) {
    long n = atomic_fetch_add(&vow_test_total, 1) + 1;
    long f = atomic_load(&vow_test_fail_n);
    if (f != 0 && n == f) {
        atomic_fetch_add(&vow_test_failed, 1);
        return 1;
    }
    return 0;
}

static inline void *vow_test__malloc(size_t n) {
    if (vow_test__should_fail()) return NULL;
    unsigned char *b = malloc(n + VOW_TEST_HDR);
    if (b == NULL) return NULL;
    memcpy(b, &n, sizeof n);
    atomic_fetch_add(&vow_test_live, 1);
    return b + VOW_TEST_HDR;
}

static inline void vow_test__free(void *p) {
    if (p == NULL) return;
    atomic_fetch_sub(&vow_test_live, 1);
    free((unsigned char *)p - VOW_TEST_HDR);
}

static inline void *vow_test__realloc(void *p, size_t n) {
    if (p == NULL) return vow_test__malloc(n);
    if (vow_test__should_fail()) return NULL;
    unsigned char *b = realloc((unsigned char *)p - VOW_TEST_HDR, n + VOW_TEST_HDR);
    if (b == NULL) return NULL;
    memcpy(b, &n, sizeof n);
    return b + VOW_TEST_HDR;
}

static inline void *vow_test__calloc(size_t c, size_t n) {
    if (n != 0 && c > SIZE_MAX / n) return NULL;
    void *p = vow_test__malloc(c * n);
    if (p != NULL) memset(p, 0, c * n);
    return p;
}

static inline long vow_test_live_allocs(void) { return atomic_load(&vow_test_live); }
static inline long vow_test_alloc_total(void) { return atomic_load(&vow_test_total); }
static inline long vow_test_failed_allocs(void) { return atomic_load(&vow_test_failed); }
/* Fail the n-th allocation counted from the last vow_test_reset_counts (1-based); 0: off. */
static inline void vow_test_fail_at(long n) { atomic_store(&vow_test_fail_n, n); }
static inline void vow_test_reset_counts(void) {
    atomic_store(&vow_test_total, 0);
    atomic_store(&vow_test_failed, 0);
    atomic_store(&vow_test_fail_n, 0);
}

static inline void vow_test_setup(void) {
    vow_test_reset_counts();
    atomic_store(&vow_test_live, 0);
    cr_assert_eq(vow_replace_allocator(vow_test__malloc, vow_test__realloc, vow_test__calloc,
                                       vow_test__free),
                 0);
}

static inline void vow_test_teardown(void) {
    /* Nothing to check here: .fini failures are not reported by Criterion 2.4. */
}

/* The backend bit the environment asks for, or 0 when VOW_BACKEND is unset. */
static inline unsigned vow_test_expected_backend(void) {
    const char *b = getenv("VOW_BACKEND");
    if (b == NULL || *b == '\0') return 0;
    if (strcmp(b, "select") == 0) return VOW_BACKEND_SELECT;
    if (strcmp(b, "poll") == 0) return VOW_BACKEND_POLL;
    if (strcmp(b, "epoll") == 0) return VOW_BACKEND_EPOLL;
    if (strcmp(b, "kqueue") == 0) return VOW_BACKEND_KQUEUE;
    return 0xffffffffu;
}

/* A new loop on the backend VOW_BACKEND names; fails the test unless it is that one. */
static inline vow_loop_t *vow_test_loop(void) {
    vow_loop_t *loop = NULL;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    cr_assert_eq(rc, 0, "vow_loop_new: %s", vow_strerror(rc));
    unsigned want = vow_test_expected_backend();
    if (want != 0)
        cr_assert_eq(vow_loop_backend(loop), want, "backend %u, asked for %u",
                     vow_loop_backend(loop), want);
    return loop;
}

/* vow_test_loop with VOW_POOL=off (read when a loop is made): every promise and record of
 * that loop is an allocation of its own. */
static inline vow_loop_t *vow_test_loop_without_pools(void) {
    cr_assert_eq(setenv("VOW_POOL", "off", 1), 0);
    vow_loop_t *loop = vow_test_loop();
    unsetenv("VOW_POOL");
    return loop;
}

/* Runs a scenario whose loops are made with VOW_POOL=off. */
static inline void vow_test_without_pools(void (*scenario)(void)) {
    cr_assert_eq(setenv("VOW_POOL", "off", 1), 0);
    scenario();
    unsetenv("VOW_POOL");
}

/* The loop must close cleanly (nothing left running) and no vow allocation may be live. */
#define VOW_TEST_END(loop)                                                                 \
    do {                                                                                   \
        int vow_test_end_rc_ = vow_loop_close(loop);                                       \
        cr_assert_eq(vow_test_end_rc_, 0, "vow_loop_close: %s",                            \
                     vow_strerror(vow_test_end_rc_));                                      \
        cr_assert_eq(vow_test_live_allocs(), 0, "%ld vow allocation(s) still live",        \
                     vow_test_live_allocs());                                              \
    } while (0)

/* For tests that end with promises still pending on purpose: forced teardown. */
#define VOW_TEST_END_FORCED(loop)                                                          \
    do {                                                                                   \
        cr_assert_eq(vow_loop_free(loop), 0);                                              \
        cr_assert_eq(vow_test_live_allocs(), 0, "%ld vow allocation(s) still live",        \
                     vow_test_live_allocs());                                              \
    } while (0)

#endif /* VOW_TEST_HELPERS_H */
