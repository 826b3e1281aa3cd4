/* promise/resolve_stub.c - TEMPORARY: weak stand-ins for the resolver (vow_getaddrinfo,
 * vow_set_resolver) until promise/resolve.c lands; delete this file then. vow_tcp_connect
 * with a name answers VOW_ENOTSUP meanwhile. */
#include "internal.h"

__attribute__((weak)) vow_t *vow_getaddrinfo(vow_loop_t *loop, const char *host,
                                             const char *service, const struct addrinfo *hints) {
    (void)host;
    (void)service;
    (void)hints;
    if (loop == NULL || loop->closed) return NULL;
    return vow_rejected(loop, vow_error_new(VOW_ENOTSUP, "no resolver yet"));
}

__attribute__((weak)) int vow_set_resolver(vow_loop_t *loop, vow_resolver_fn fn,
                                           vow_resolver_free_fn free_fn, void *ctx) {
    (void)fn;
    (void)free_fn;
    (void)ctx;
    if (loop == NULL) return VOW_EINVAL;
    return VOW_ENOTSUP;
}
