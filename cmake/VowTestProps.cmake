# Test properties shared by tests/ and examples/ (included by the top-level CMakeLists.txt).

set(VOW_TEST_TIMEOUT 300 CACHE STRING "ctest TIMEOUT (seconds) for each test")

# Criterion 2.4 reports PASS, with exit status 0, for a LeakSanitizer report, a recoverable
# UBSan error and a valgrind error (STYLE.md section 12). So every test fails when its
# output carries any sanitizer or valgrind report, whatever its exit status says.
set(VOW_TEST_FAIL_REGEX
    "ERROR: AddressSanitizer"
    "ERROR: LeakSanitizer"
    "runtime error:"
    "SUMMARY: UndefinedBehaviorSanitizer"
    "WARNING: ThreadSanitizer"
    "==[0-9]+== Invalid"
    "==[0-9]+== Conditional jump"
    "==[0-9]+== Syscall param"
    "==[0-9]+== Mismatched free"
    "definitely lost: [1-9]"
    "indirectly lost: [1-9]")

# Each Criterion executable runs its cases one at a time (ctest -j2 already runs two
# executables at once on our 2 cores). Two reasons: no oversubscription, so timer tests see
# a calm machine; and Criterion 2.4.1's runner itself leaks 48 bytes when it runs cases in
# parallel and one case sets its own .timeout, which LeakSanitizer rightly reports (and a
# suppression cannot single out: libcriterion has no frame pointers to unwind through).
set(VOW_CRITERION_JOBS 1 CACHE STRING "CRITERION_JOBS for each test executable")
set(VOW_TEST_ENV "CRITERION_JOBS=${VOW_CRITERION_JOBS}")
if(VOW_SANITIZE)
    list(APPEND VOW_TEST_ENV
        "ASAN_OPTIONS=detect_leaks=1"
        "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
