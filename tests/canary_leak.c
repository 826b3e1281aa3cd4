/* canary_leak - a planted defect: memory allocated and lost. Built only with VOW_SANITIZE;
 * the ctest entry passes only when LeakSanitizer reports it. If this test turns red, the
 * sanitizer build no longer catches leaks, and a leak in vow would go unseen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stores through a volatile pointer so the compiler can neither drop the allocation nor
 * prove the block unreachable; the last pointer to it is then overwritten. */
static void *volatile sink;

__attribute__((noinline)) static void lose_memory(void) {
    for (int i = 0; i < 8; i++) {
        sink = malloc(48);
        memset(sink, 0x5a, 48);
    }
    sink = NULL;
}

int main(void) {
    lose_memory();
    printf("canary_leak: lost 8 blocks of 48 bytes; LeakSanitizer must report them\n");
    return 0;
}
