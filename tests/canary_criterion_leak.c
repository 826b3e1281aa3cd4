/* canary_criterion_leak - a planted leak inside a Criterion test. Built only with
 * VOW_SANITIZE. Criterion 2.4 reports this test as passing, exit status 0, although
 * LeakSanitizer prints a report (STYLE.md section 12). The ctest entry passes only when
 * the report reaches ctest's captured output: that is what every real test's
 * FAIL_REGULAR_EXPRESSION relies on to turn such a run red. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void *volatile sink;

__attribute__((noinline)) static void lose_memory(void) {
    for (int i = 0; i < 8; i++) {
        sink = malloc(40);
        memset(sink, 0xa5, 40);
    }
    sink = NULL;
}

Test(canary, leaks_inside_a_criterion_test) {
    lose_memory();
    cr_assert(1, "the leak is the defect; the assertion passes");
}
