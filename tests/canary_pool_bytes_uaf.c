/* canary_pool_bytes_uaf - a planted defect: a small read's bytes read after the value's
 * last reference went, during the loop's run. The block went back to its loop's cache of
 * small blocks (promise/net.c), so only the cache's own poisoning can make AddressSanitizer
 * see the use after free, as for the loop's pools (canary_pool_uaf). Built only with
 * VOW_SANITIZE; the ctest entry passes only when ASan reports a use-after-poison. */
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vow.h"

static const vow_bytes_t *kept; /* borrowed from the read's value, kept past its end */

static vow_result_t on_read(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    kept = vow_value_bytes(v);
    return vow_ok_none(); /* the read's promise, and its value, go after this */
}

static vow_result_t use_after(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    int c = kept->data[0]; /* the defect */
    printf("canary_pool_bytes_uaf: read %d from released bytes (ASan should have stopped us)\n", c);
    return vow_ok_none();
}

int main(void) {
    vow_loop_t *loop = NULL;
    int fds[2];
    vow_sock_t *a = NULL, *b = NULL;
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return 1;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 1;
    if (vow_sock_wrap(loop, fds[0], &a) != 0 || vow_sock_wrap(loop, fds[1], &b) != 0) return 1;
    if (write(fds[0], "xyz", 3) != 3) return 1;
    vow_t *p = vow_then_ok(vow_then_ok(vow_sock_read(b, 100), on_read, NULL), use_after, NULL);
    vow_outcome_t out;
    int rc = vow_run(loop, p, &out);
    if (rc == 0) vow_outcome_release(&out);
    vow_sock_unref(a);
    vow_sock_unref(b);
    vow_loop_free(loop);
    return 0;
}
