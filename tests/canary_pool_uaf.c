/* canary_pool_uaf - a planted defect: a promise read after its last reference went. Its
 * memory stays in the loop's pool (src/pool.c), so only the pool's own poisoning can make
 * AddressSanitizer see the use after free. Built only with VOW_SANITIZE; the ctest entry
 * passes only when ASan reports a use-after-poison. */
#include <stdio.h>

#include "vow.h"

int main(void) {
    vow_loop_t *loop = NULL;
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return 1;
    vow_t *keep = vow_new(loop); /* the pool stays non-empty: no chunk is released */
    vow_t *p = vow_new(loop);
    vow_unref(p);
    int state = (int)vow_state(p); /* the defect */
    printf("canary_pool_uaf: read state %d of a freed promise (ASan should have stopped us)\n",
           state);
    vow_unref(keep);
    vow_loop_free(loop);
    return 0;
}
