/* promise/value.c - values (vow_value_t and its shared box) and results (vow_result_t):
 * what a promise settles with and what a reaction returns. */
#include "internal.h"

/* ---- values ------------------------------------------------------------------------- */

/* Values and results are built whole (compound literals), not zeroed and then patched:
 * a 16-byte copy of a struct that was written as a 16-byte store plus smaller stores into
 * it cannot take its data from the store buffer, and `perf annotate` showed that stall as
 * a tenth of W3 in vow_int alone. (vow_value_t has no padding.) */
vow_value_t vow_none(void) { return (vow_value_t){.kind = VOW_VAL_NONE}; }

vow_value_t vow_int(int64_t i) { return (vow_value_t){.kind = VOW_VAL_INT, .u.i = i}; }

vow_value_t vow_double(double d) { return (vow_value_t){.kind = VOW_VAL_DOUBLE, .u.d = d}; }

vow_value_t vow_ptr(void *p, void (*dtor)(void *)) {
    return (vow_value_t){.kind = VOW_VAL_PTR, .u.p = p, .own.dtor = dtor};
}

vow_value_t vow_value_share(const vow_value_t *v) {
    if (v == NULL) return vow__none();
    vow_value_t s = *v;
    if (s.boxed) {
        s.own.box->refcnt++;
    } else {
        /* An unboxed value with a destructor is not a shared thing: sharing it would make
         * a second owner. Give a borrowed view instead. */
        s.own.dtor = NULL;
    }
    return s;
}

void vow_value_release(vow_value_t *v) {
    if (v == NULL) return;
    if (v->boxed) {
        struct vow__box *b = v->own.box;
        if (--b->refcnt == 0) {
            int frees_itself = b->frees_itself;
            if (b->dtor != NULL) b->dtor(b->p);
            if (!frees_itself) vow__free(b);
        }
    } else if (v->kind == VOW_VAL_PTR && v->own.dtor != NULL) {
        v->own.dtor(v->u.p);
    }
    *v = vow__none();
}

vow_value_kind_t vow_value_kind(const vow_value_t *v) {
    return v != NULL ? (vow_value_kind_t)v->kind : VOW_VAL_NONE;
}

int64_t vow_value_int(const vow_value_t *v) {
    if (v == NULL) return 0;
    if (v->kind == VOW_VAL_INT) return v->u.i;
    if (v->kind == VOW_VAL_DOUBLE) {
        /* Converting a double outside int64's range is undefined in C: saturate, and give
         * NaN 0 (as JavaScript's ToIntegerOrInfinity gives NaN 0). 2^63 is exact in a
         * double. */
        double d = v->u.d;
        if (d != d) return 0;
        if (d >= 9223372036854775808.0) return INT64_MAX;
        if (d < -9223372036854775808.0) return INT64_MIN;
        return (int64_t)d;
    }
    return 0;
}

double vow_value_double(const vow_value_t *v) {
    if (v == NULL) return 0.0;
    if (v->kind == VOW_VAL_DOUBLE) return v->u.d;
    if (v->kind == VOW_VAL_INT) return (double)v->u.i;
    return 0.0;
}

void *vow_value_ptr(const vow_value_t *v) {
    return v != NULL && v->kind == VOW_VAL_PTR ? v->u.p : NULL;
}

/* vow__value_store's slow path: a pointer with a destructor gets its box. */
int vow__value_store_box(vow_value_t *v) {
    struct vow__box *b = vow__malloc(sizeof *b);
    if (b == NULL) {
        v->own.dtor(v->u.p);
        *v = vow__none();
        return VOW_ENOMEM;
    }
    b->refcnt = 1;
    b->p = v->u.p;
    b->dtor = v->own.dtor;
    b->inert = 0; /* the user's destructor may do anything */
    b->frees_itself = 0;
    b->owner = NULL;
    v->own.box = b;
    v->boxed = 1;
    return 0;
}

/* ---- results ------------------------------------------------------------------------ */

vow_result_t vow_ok(vow_value_t v) { return (vow_result_t){.kind = VOW_RESULT_VALUE, .value = v}; }
vow_result_t vow_ok_none(void) { return vow_ok(vow__none()); }
vow_result_t vow_ok_int(int64_t i) { return vow_ok(vow_int(i)); }
vow_result_t vow_ok_double(double d) { return vow_ok(vow_double(d)); }

vow_result_t vow_fail(vow_error_t *err) {
    if (err == NULL) err = vow_error_new(VOW_ETYPE, "rejected with no error");
    return (vow_result_t){.kind = VOW_RESULT_ERROR, .error = err};
}

vow_result_t vow_fail_code(int code, const char *message) {
    return vow_fail(vow_error_new(code, message));
}

vow_result_t vow_follow(vow_t *p) {
    if (p == NULL) return vow_fail(vow_error_new(VOW_ENOMEM, NULL));
    return (vow_result_t){.kind = VOW_RESULT_FOLLOW, .promise = p};
}

void vow__result_release(vow_result_t *res) {
    switch (res->kind) {
    case VOW_RESULT_VALUE: vow_value_release(&res->value); break;
    case VOW_RESULT_ERROR: vow_error_unref(res->error); break;
    case VOW_RESULT_FOLLOW: vow__unref(res->promise); break;
    case VOW_RESULT_THENABLE: vow__thenable_free(res->thenable); break;
    }
    *res = vow__result_empty(VOW_RESULT_VALUE);
}
