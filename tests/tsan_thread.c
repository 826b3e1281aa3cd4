/* tests/tsan_thread.c - the scenarios of tests/thread_scenarios.h as a plain program, for
 * ThreadSanitizer (scripts/tsan.sh builds it with -fsanitize=thread; Criterion's binaries
 * cannot run under TSan: Criterion#274). Prints "N passed, M failed"; exits 1 on a failure. */
#include "thread_scenarios.h"

int main(void) {
    int passed = 0, failed = 0;
    for (int i = 0; i < N_THREAD_SCENARIOS; i++) {
        int fails = thread_scenarios[i].run();
        printf("%s %s\n", fails == 0 ? "ok  " : "FAIL", thread_scenarios[i].name);
        if (fails == 0)
            passed++;
        else
            failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
