/* src/error.c - the error table (vow_strerror, vow_err_name) and vow_error_t.
 *
 * vow_error_t is reference counted and immutable once shared. Constructors never return
 * NULL: out of memory they return a static, immortal ENOMEM error, so that a rejection
 * can always be expressed, even when nothing else can be allocated. */
#include <stdarg.h>
#include <string.h>

#include "internal.h"

const char *vow_strerror(int code) {
    switch (code) {
    case 0: return "success";
#define VOW__ERRNO_STR(name, msg)                                                                  \
    case VOW_##name: return msg;
        VOW_ERRNO_MAP(VOW__ERRNO_STR)
#undef VOW__ERRNO_STR
#define VOW__OWN_STR(name, val, msg)                                                               \
    case VOW_##name: return msg;
        VOW_OWN_ERR_MAP(VOW__OWN_STR)
#undef VOW__OWN_STR
    default: return "unknown error";
    }
}

const char *vow_err_name(int code) {
    switch (code) {
    case 0: return "OK";
#define VOW__ERRNO_NAME(name, msg)                                                                 \
    case VOW_##name: return #name;
        VOW_ERRNO_MAP(VOW__ERRNO_NAME)
#undef VOW__ERRNO_NAME
#define VOW__OWN_NAME(name, val, msg)                                                              \
    case VOW_##name: return #name;
        VOW_OWN_ERR_MAP(VOW__OWN_NAME)
#undef VOW__OWN_NAME
    default: return "UNKNOWN";
    }
}

struct vow_error {
    size_t refcnt;
    int code;
    int immortal;
    const char *message;
    vow_error_t *cause;
    void *payload;
    void (*payload_free)(void *);
    size_t n_inner;
    vow_error_t **inner;
    char text[]; /* the message, allocated with the struct */
};

static vow_error_t vow__oom_error = {
    .refcnt = 1, .code = VOW_ENOMEM, .immortal = 1, .message = "out of memory"};

static vow_error_t *error_alloc(int code, const char *message) {
    if (message == NULL) message = vow_strerror(code);
    size_t n = strlen(message) + 1;
    vow_error_t *e = vow__malloc(sizeof *e + n);
    if (e == NULL) return NULL;
    memset(e, 0, sizeof *e);
    e->refcnt = 1;
    e->code = code;
    memcpy(e->text, message, n);
    e->message = e->text;
    return e;
}

vow_error_t *vow_error_new(int code, const char *message) {
    vow_error_t *e = error_alloc(code, message);
    return e != NULL ? e : &vow__oom_error;
}

vow_error_t *vow_error_newf(int code, const char *fmt, ...) {
    if (fmt == NULL) return vow_error_new(code, NULL); /* no format: no message */
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return vow_error_new(code, NULL);
    if ((size_t)n < sizeof buf) return vow_error_new(code, buf);
    char *big = vow__malloc((size_t)n + 1);
    if (big == NULL) return &vow__oom_error;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    vow_error_t *e = vow_error_new(code, big);
    vow__free(big);
    return e;
}

vow_error_t *vow_error_wrap(int code, const char *message, vow_error_t *cause) {
    vow_error_t *e = error_alloc(code, message);
    if (e == NULL) {
        vow_error_unref(cause);
        return &vow__oom_error;
    }
    e->cause = cause;
    return e;
}

vow_error_t *vow_error_aggregate(const char *message, vow_error_t **inner, size_t n) {
    if (inner == NULL) n = 0; /* nothing to hold (or to release) */
    /* No array of n pointers can exist past SIZE_MAX / sizeof: `inner` is not one, and is
     * not touched. */
    if (n > SIZE_MAX / sizeof(vow_error_t *)) return &vow__oom_error;
    vow_error_t *e = error_alloc(VOW_EAGGREGATE, message);
    vow_error_t **list = NULL;
    if (e != NULL && n > 0) {
        list = vow__malloc(n * sizeof *list);
        if (list == NULL) {
            vow__free(e);
            e = NULL;
        }
    }
    if (e == NULL) {
        for (size_t i = 0; i < n; i++) vow_error_unref(inner[i]);
        return &vow__oom_error;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (inner[i] != NULL) list[k++] = inner[i];
    e->inner = list;
    e->n_inner = k;
    return e;
}

int vow_error_set_payload(vow_error_t *err, void *payload, void (*dtor)(void *)) {
    int rc = 0;
    if (err == NULL)
        rc = VOW_EINVAL;
    else if (err->immortal)
        rc = VOW_ENOMEM;
    else if (err->payload != NULL || err->payload_free != NULL)
        rc = VOW_EBUSY;
    if (rc != 0) {
        if (dtor != NULL) dtor(payload);
        return rc;
    }
    err->payload = payload;
    err->payload_free = dtor;
    return 0;
}

vow_error_t *vow_error_ref(vow_error_t *err) {
    if (err != NULL && !err->immortal) err->refcnt++;
    return err;
}

/* Iterative along the cause chain, so a long chain cannot exhaust the C stack. */
void vow_error_unref(vow_error_t *err) {
    while (err != NULL && !err->immortal) {
        vow__assert(err->refcnt > 0, "error refcount underflow");
        if (--err->refcnt > 0) return;
        vow_error_t *cause = err->cause;
        if (err->payload_free != NULL) err->payload_free(err->payload);
        for (size_t i = 0; i < err->n_inner; i++) vow_error_unref(err->inner[i]);
        vow__free(err->inner);
        vow__free(err);
        err = cause;
    }
}

int vow_error_code(const vow_error_t *err) { return err != NULL ? err->code : VOW_EINVAL; }
const char *vow_error_message(const vow_error_t *err) { return err != NULL ? err->message : ""; }
vow_error_t *vow_error_cause(const vow_error_t *err) { return err != NULL ? err->cause : NULL; }
void *vow_error_payload(const vow_error_t *err) { return err != NULL ? err->payload : NULL; }
size_t vow_error_count(const vow_error_t *err) { return err != NULL ? err->n_inner : 0; }
vow_error_t *vow_error_at(const vow_error_t *err, size_t i) {
    return err != NULL && i < err->n_inner ? err->inner[i] : NULL;
}

typedef struct {
    char *buf;
    size_t len, used;
} fmt_out;

static void put(fmt_out *o, const char *s) {
    size_t n = strlen(s);
    if (o->len > 0 && o->used + 1 < o->len) {
        size_t room = o->len - 1 - o->used;
        memcpy(o->buf + o->used, s, n < room ? n : room);
    }
    o->used += n;
}

static void put_one(fmt_out *o, const vow_error_t *e) {
    for (int first = 1; e != NULL; e = e->cause, first = 0) {
        char num[32];
        const char *name = vow_err_name(e->code);
        if (strcmp(name, "UNKNOWN") == 0) {
            snprintf(num, sizeof num, "ERR(%d)", e->code);
            name = num;
        }
        if (!first) put(o, "; caused by ");
        put(o, name);
        put(o, ": ");
        put(o, e->message);
        if (e->n_inner > 0 || e->code == VOW_EAGGREGATE) {
            put(o, " [");
            for (size_t i = 0; i < e->n_inner; i++) {
                if (i > 0) put(o, ", ");
                put_one(o, e->inner[i]);
            }
            put(o, "]");
        }
    }
}

size_t vow_error_format(const vow_error_t *err, char *buf, size_t len) {
    fmt_out o = {buf, buf != NULL ? len : 0, 0};
    if (err == NULL)
        put(&o, "(null)");
    else
        put_one(&o, err);
    if (o.len > 0) buf[o.used < o.len ? o.used : o.len - 1] = '\0';
    return o.used;
}

int vow_error_print(const vow_error_t *err, FILE *stream) {
    if (err == NULL || stream == NULL) return VOW_EINVAL;
    char small[256];
    size_t n = vow_error_format(err, small, sizeof small);
    if (n < sizeof small) {
        fprintf(stream, "%s\n", small);
        return 0;
    }
    char *big = vow__malloc(n + 1);
    if (big == NULL) {
        fprintf(stream, "%s...\n", small);
        return 0;
    }
    vow_error_format(err, big, n + 1);
    fprintf(stream, "%s\n", big);
    vow__free(big);
    return 0;
}
