/* tests/counted.h - heap objects whose frees are counted, for the tests that check that a
 * value's destructor runs exactly once whatever path its promise takes.
 *
 *   obj_new()      a new object with the next id (obj_made counts them)
 *   obj_free       its destructor: counts obj_freed[id], frees it
 *   give_obj       a reaction that fulfils with a new object whose id is (intptr_t)ctx
 *   expect_every_obj_freed_once()
 *   ctx_free_count a ctx destructor that only counts its calls in ctx_free_calls
 * Reset obj_made and obj_freed in a test's own setup when it counts. */
#ifndef VOW_TEST_COUNTED_H
#define VOW_TEST_COUNTED_H

#include <stdint.h>
#include <stdlib.h>

#include "helpers.h"

enum { OBJ_MAX = 64 };

typedef struct obj {
    int id;
} obj;

static int obj_freed[OBJ_MAX];
static int obj_made;

static inline void obj_free(void *p) {
    obj *o = p;
    cr_assert(o->id >= 0 && o->id < OBJ_MAX, "object id %d", o->id);
    obj_freed[o->id]++;
    free(o);
}

static inline obj *obj_new(void) {
    obj *o = malloc(sizeof *o);
    cr_assert_not_null(o);
    cr_assert_lt(obj_made, OBJ_MAX);
    o->id = obj_made++;
    return o;
}

static inline vow_result_t give_obj(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    obj *o = malloc(sizeof *o);
    cr_assert_not_null(o);
    o->id = (int)(intptr_t)ctx;
    return vow_ok(vow_ptr(o, obj_free));
}

static inline void expect_every_obj_freed_once(void) {
    for (int i = 0; i < obj_made; i++)
        cr_assert_eq(obj_freed[i], 1, "object %d freed %d times", i, obj_freed[i]);
}

/* A ctx destructor that frees nothing and counts its calls. */
static int ctx_free_calls;
static inline void ctx_free_count(void *ctx) {
    (void)ctx;
    ctx_free_calls++;
}

#endif /* VOW_TEST_COUNTED_H */
