#define _GNU_SOURCE /* glibc's EAI_NODATA */
/* promise/resolve.c - name resolution off the loop: vow_set_resolver and vow_getaddrinfo
 * (vow/net.h), a job on the loop's pool (promise/work.c).
 *
 * A lookup is a vow_work job whose argument (struct lookup) holds copies of what the
 * caller passed and the resolver the loop had when the lookup started. The worker only
 * calls the resolver and wraps what it answers: the promise, its cancellation (a queued
 * job never runs; a running one finishes and what it returns is released), vow_run_main's
 * shut-down and vow_loop_free's are vow_work's.
 *
 * The value is the struct addrinfo list, and its destructor must free it. getaddrinfo's
 * list goes with freeaddrinfo, which needs nothing more. A hook's list goes with the hook's
 * free_fn(res, ctx), but a value's destructor gets only the pointer: so the value points
 * at the head of a `struct held`, a copy of the list's first node (its ai_next, ai_addr
 * and ai_canonname still point into the hook's list) followed by what free_fn needs. The
 * list reads the same from there, and the destructor finds the rest. The record is
 * allocated on the loop's thread with the lookup (so the worker allocates nothing), and
 * handed to the value by the worker.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "internal.h"
#include "vow/net.h"
#include "vow/thread.h"

/* A hook's answer, as the value holds it. `head` first: the value's pointer is its
 * address. */
struct held {
    struct addrinfo head; /* a copy of res's first node */
    struct addrinfo *res; /* the hook's list */
    vow_resolver_free_fn free_fn;
    void *ctx;
};

struct lookup {
    vow_resolver_fn fn; /* NULL: getaddrinfo */
    vow_resolver_free_fn free_fn;
    void *ctx;
    struct held *held;          /* a hook's: the value's record until handed over (then NULL) */
    const char *host, *service; /* in names[], or NULL */
    int has_hints;
    struct addrinfo hints; /* the four fields getaddrinfo reads; the rest 0 */
    char names[];
};

int vow_set_resolver(vow_loop_t *loop, vow_resolver_fn fn, vow_resolver_free_fn free_fn,
                     void *ctx) {
    if (loop == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    if (fn != NULL && free_fn == NULL) return VOW_EINVAL;
    struct vow__promise_layer *pl = vow__pl(loop);
    pl->resolver.fn = fn;
    pl->resolver.free_fn = fn != NULL ? free_fn : NULL;
    pl->resolver.ctx = fn != NULL ? ctx : NULL;
    return 0;
}

static void free_gai(void *res) { freeaddrinfo(res); }

static void free_held(void *p) {
    struct held *h = p; /* p is &h->head, its first member */
    h->free_fn(h->res, h->ctx);
    vow__free(h);
}

/* The rejection for getaddrinfo's code rc (errno `err` for EAI_SYSTEM), as vow/net.h maps
 * them; the message is gai_strerror's. On a worker: it touches no loop. */
static vow_error_t *lookup_error(int rc, int err) {
    int code;
    switch (rc) {
    case EAI_NONAME:
#if defined(EAI_NODATA) && EAI_NODATA != EAI_NONAME
    case EAI_NODATA:
#endif
        code = VOW_ENOENT;
        break;
    case EAI_AGAIN: code = VOW_EAGAIN; break;
    case EAI_MEMORY: code = VOW_ENOMEM; break;
    case EAI_SYSTEM:
        /* errno names the error; a resolver that forgot to set it answers EINVAL. */
        if (err > 0) return vow_error_newf(-err, "%s: %s", gai_strerror(rc), vow_err_name(-err));
        code = VOW_EINVAL;
        break;
    default: code = VOW_EINVAL; break;
    }
    return vow_error_new(code, gai_strerror(rc));
}

/* On a worker. */
static vow_result_t lookup_run(vow_work_t *job, void *arg) {
    struct lookup *lk = arg;
    (void)job;
    const struct addrinfo *hints = lk->has_hints ? &lk->hints : NULL;
    struct addrinfo *res = NULL;
    errno = 0;
    int rc = lk->fn != NULL ? lk->fn(lk->host, lk->service, hints, &res, lk->ctx)
                            : getaddrinfo(lk->host, lk->service, hints, &res);
    int err = errno;
    if (rc != 0) return vow_fail(lookup_error(rc, err));
    if (res == NULL) /* a hook's "success" with no address: there is nothing to connect to */
        return vow_fail(vow_error_new(VOW_ENOENT, "the resolver answered no address"));
    if (lk->fn == NULL) return vow_ok(vow_ptr(res, free_gai));
    struct held *h = lk->held;
    lk->held = NULL; /* the value's now (arg_free runs on the loop's thread, after us) */
    h->head = *res;
    h->res = res;
    h->free_fn = lk->free_fn;
    h->ctx = lk->ctx;
    return vow_ok(vow_ptr(&h->head, free_held));
}

/* On the loop's thread: after the job, or instead of it. */
static void lookup_free(void *arg) {
    struct lookup *lk = arg;
    vow__free(lk->held);
    vow__free(lk);
}

vow_t *vow_getaddrinfo(vow_loop_t *loop, const char *host, const char *service,
                       const struct addrinfo *hints) {
    if (loop == NULL || loop->closed) return NULL;
    if (host == NULL && service == NULL)
        return vow_rejected(loop, vow_error_new(VOW_EINVAL, "neither a host nor a service"));
    size_t hlen = host != NULL ? strlen(host) + 1 : 0;
    size_t slen = service != NULL ? strlen(service) + 1 : 0;
    struct lookup *lk = vow__malloc(sizeof *lk + hlen + slen);
    if (lk == NULL) return NULL;
    memset(lk, 0, sizeof *lk);
    struct vow__promise_layer *pl = vow__pl(loop);
    lk->fn = pl->resolver.fn;
    lk->free_fn = pl->resolver.free_fn;
    lk->ctx = pl->resolver.ctx;
    if (lk->fn != NULL && (lk->held = vow__malloc(sizeof *lk->held)) == NULL) {
        vow__free(lk);
        return NULL;
    }
    if (host != NULL) lk->host = memcpy(lk->names, host, hlen);
    if (service != NULL) lk->service = memcpy(lk->names + hlen, service, slen);
    if (hints != NULL) {
        lk->has_hints = 1;
        lk->hints.ai_flags = hints->ai_flags;
        lk->hints.ai_family = hints->ai_family;
        lk->hints.ai_socktype = hints->ai_socktype;
        lk->hints.ai_protocol = hints->ai_protocol;
    }
    return vow_work(loop, lookup_run, lk, lookup_free); /* NULL: lookup_free ran */
}
