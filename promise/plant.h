/* promise/plant.h - planted defects, for the proof tools' self-tests only (never installed).
 *
 * The differential tester and the fuzzer (proof/) must show that they catch a real
 * divergence from JavaScript. Their plant builds (tests/compare_proof.cmake) define one of
 * VOW_PLANT_DIVERGENCE or VOW_PLANT_DOUBLE_REACTION; in every other build the hooks below
 * expand to nothing, and the library's source calls them without an #ifdef of its own. */
#ifndef VOW_PROMISE_PLANT_H
#define VOW_PROMISE_PLANT_H

#include "internal.h"

#ifdef VOW_PLANT_DIVERGENCE
/* Following an already-settled promise skips NewPromiseResolveThenableJob (one job too
 * few): the record adopts at once. Non-zero when it did (the caller stops there). */
static inline int vow__plant_divergence(vow_result_t *resp, vow__reaction *r) {
    if (resp->kind != VOW_RESULT_FOLLOW || resp->promise->state == VOW_PENDING) return 0;
    vow_t *q = resp->promise;
    r->rec.kind = VOW__R_ADOPT;
    vow__perform_then(q, &r->rec);
    vow__unref(q);
    return 1;
}
#define VOW__PLANT_DIVERGENCE(resp, r) vow__plant_divergence((resp), (r))
#else
#define VOW__PLANT_DIVERGENCE(resp, r) ((void)(resp), (void)(r), 0)
#endif

#ifdef VOW_PLANT_DOUBLE_REACTION
/* A fulfilment reaction on an integer equal to 3 modulo 8 runs twice. */
static inline void vow__plant_double_reaction(vow_loop_t *loop, vow__reaction *r, vow_t *src) {
    if (src->state == VOW_FULFILLED && r->on_ok != NULL && src->value.kind == VOW_VAL_INT &&
        (src->value.u.i & 7) == 3) {
        vow_result_t extra = r->on_ok(loop, &src->value, r->ctx);
        vow__result_release(&extra);
    }
}
#define VOW__PLANT_DOUBLE_REACTION(loop, r, src) vow__plant_double_reaction((loop), (r), (src))
#else
#define VOW__PLANT_DOUBLE_REACTION(loop, r, src) ((void)(loop), (void)(r), (void)(src))
#endif

#endif /* VOW_PROMISE_PLANT_H */
