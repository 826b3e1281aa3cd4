/* promise/list.c - the list value that all, allSettled and a task group fulfil with
 * (vow_list_t): n outcomes in input order, read through the vow_list_* accessors.
 *
 * An item is a union of a fulfilled input's value (24 bytes) and a rejected input's error;
 * which one, or "not settled yet", is in a byte array after the items, so no private
 * marker ever goes into a public vow_value_t. One allocation per list. */
#include <string.h>

#include "internal.h"

enum { ITEM_PENDING = 0, ITEM_FULFILLED, ITEM_REJECTED };

typedef union {
    vow_value_t value;  /* ITEM_FULFILLED (owned) */
    vow_error_t *error; /* ITEM_REJECTED (owned) */
} list_item;

struct vow_list {
    size_t n;
    uint8_t *state; /* n bytes after the items: ITEM_* */
    list_item items[];
};

static void list_free(void *p) {
    struct vow_list *l = p;
    for (size_t i = 0; i < l->n; i++) {
        if (l->state[i] == ITEM_REJECTED)
            vow_error_unref(l->items[i].error);
        else if (l->state[i] == ITEM_FULFILLED)
            vow_value_release(&l->items[i].value);
    }
    vow__free(l);
}

void vow__list_free(struct vow_list *l) {
    if (l != NULL) list_free(l);
}

struct vow_list *vow__list_new(size_t n) {
    if (n > (SIZE_MAX - sizeof(struct vow_list)) / (sizeof(list_item) + 1)) return NULL;
    struct vow_list *l = vow__malloc(sizeof *l + n * (sizeof(list_item) + 1));
    if (l == NULL) return NULL;
    l->n = n;
    l->state = (uint8_t *)(l->items + n);
    /* A big list is written whole (an item per input): fault its items in with one call
     * rather than a trap a page (src/alloc.c), as the combinator's records are. */
    if (n * sizeof(list_item) >= VOW__PREFAULT_WINDOW)
        vow__prefault(l->items, n * sizeof(list_item));
    memset(l->state, ITEM_PENDING, n);
    return l;
}

void vow__list_set_value(struct vow_list *l, size_t i, vow_value_t v) {
    l->items[i].value = v;
    l->state[i] = ITEM_FULFILLED;
}

void vow__list_set_error(struct vow_list *l, size_t i, vow_error_t *err) {
    l->items[i].error = err;
    l->state[i] = ITEM_REJECTED;
}

vow_value_t vow__list_value(struct vow_list *l) { return vow_ptr(l, list_free); }

vow_value_t vow__list_from_outcomes(vow_outcome_t *outs, size_t n, int *oom) {
    struct vow_list *l = vow__list_new(n);
    *oom = l == NULL;
    if (l == NULL) {
        for (size_t i = 0; i < n; i++) vow_outcome_release(&outs[i]);
        vow__free(outs);
        return vow__none();
    }
    for (size_t i = 0; i < n; i++) { /* moved in */
        if (outs[i].state == VOW_FULFILLED)
            vow__list_set_value(l, i, outs[i].value);
        else if (outs[i].state == VOW_REJECTED)
            vow__list_set_error(l, i, outs[i].error);
    }
    vow__free(outs);
    return vow__list_value(l);
}

/* ---- the accessors ------------------------------------------------------------------------ */

const vow_list_t *vow_list_of(const vow_value_t *v) {
    if (v == NULL || v->kind != VOW_VAL_PTR || !v->boxed || v->own.box->dtor != list_free)
        return NULL;
    return v->u.p;
}

size_t vow_list_len(const vow_list_t *l) { return l != NULL ? l->n : 0; }

vow_state_t vow_list_state(const vow_list_t *l, size_t i) {
    if (l == NULL || i >= l->n || l->state[i] == ITEM_PENDING) return VOW_PENDING;
    return l->state[i] == ITEM_REJECTED ? VOW_REJECTED : VOW_FULFILLED;
}

const vow_value_t *vow_list_value(const vow_list_t *l, size_t i) {
    return vow_list_state(l, i) == VOW_FULFILLED ? &l->items[i].value : NULL;
}

vow_error_t *vow_list_error(const vow_list_t *l, size_t i) {
    return vow_list_state(l, i) == VOW_REJECTED ? l->items[i].error : NULL;
}
