/* canary_ub - a planted defect: signed integer overflow. Built only with VOW_SANITIZE;
 * the ctest entry passes only when UBSan reports it ("runtime error: signed integer
 * overflow"). With -fno-sanitize-recover=all the program stops there. */
#include <limits.h>
#include <stdio.h>

int main(void) {
    /* volatile: the value is unknown to the compiler, so the addition is not folded. */
    volatile int big = INT_MAX;
    int sum = big + 1;
    printf("canary_ub: INT_MAX + 1 = %d (UBSan should have stopped us)\n", sum);
    return 0;
}
