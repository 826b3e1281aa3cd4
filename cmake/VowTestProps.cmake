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

set(VOW_TEST_ENV "")
if(VOW_SANITIZE)
    list(APPEND VOW_TEST_ENV
        "ASAN_OPTIONS=detect_leaks=1"
        "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
