/* canary_oob - a planted defect: a heap read one byte past the end of a block. Built only
 * with VOW_SANITIZE; the ctest entry passes only when AddressSanitizer reports a
 * heap-buffer-overflow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    char *buf = malloc(16);
    if (buf == NULL) return 1;
    memset(buf, 'x', 16);
    volatile size_t index = 16; /* one past the end, unknown to the compiler */
    char c = buf[index];
    printf("canary_oob: read %d past the end (ASan should have stopped us)\n", c);
    free(buf);
    return 0;
}
