# tests/compare_proof.cmake - "Proof I": differential testing against Node.js, and a
# fuzzer (proof/README.md). Included by tests/CMakeLists.txt with the other
# tests/compare*.cmake.
#
# Executables:
#   vow_proof_run           the C interpreter over a batch of programs (proof/run.c)
#   vow_proof_run_plant_div the same on a library built with -DVOW_PLANT_DIVERGENCE
#   vow_proof_run_plant_await  the interpreter built with -DPROOF_PLANT_AWAIT_DETOUR (an
#                           await of a settled promise takes one job too many)
#   vow_proof_run_plant_io  the interpreter built with -DPROOF_PLANT_IO_SHORT_READ (a read of
#                           exactly n > 1 bytes takes n - 1)
#   vow_proof_fuzz          libFuzzer target (clang), on a library built with
#                           -fsanitize=fuzzer-no-link,address,undefined
#   vow_proof_fuzz_plant_double   the same with -DVOW_PLANT_DOUBLE_REACTION
# Tests (ctest -R proof):
#   proof_difftest@<backend>    the fixed seeds 0-399 against node: no divergence
#   proof_regressions@<backend> proof/regressions/*.prog against node
#   proof_generator             the generator's coverage table meets its floor
#   proof_planted_divergence    the tester finds the planted divergence, shrinks it to
#                               <= 10 ops
#   proof_fuzz                  60 s of fuzzing from proof/corpus: nothing found
#   proof_fuzz_planted_double   the fuzzer finds the planted double reaction within 60 s
# Coroutines (issue 16: async functions, await, try/catch, throw; judged by node):
#   proof_coro_difftest@<backend>   gen.py --coro seeds 0-299 against node: no divergence,
#                                   and each behaviour of difftest.CORO_RAN in >= 5% of traces
#   proof_coro_corpus@<backend>     the hand-written proof/coro/*.prog against node, each
#                                   on a loop of its own (--seq)
#   proof_coro_generator            gen.py --coro's coverage table meets its floor
#   proof_coro_planted              with the planted await detour a divergence is found and
#                                   shrunk to <= 6 ops
# Sockets (issue 17: a loopback TCP pair per program, writes, reads, half-close, close;
# judged by node):
#   proof_io_difftest@<backend>     gen.py --io seeds 0-299 against node: no divergence, and
#                                   each behaviour of difftest.IO_RAN in >= 5% of traces
#   proof_io_corpus@<backend>       the hand-written proof/io/*.prog against node
#   proof_io_generator              gen.py --io's coverage table meets its floor
#   proof_io_planted                with the planted short read a divergence is found and
#                                   shrunk to <= 7 ops
# The Python judge (issue 6: asyncio's constructs, final outcomes; proof/README.md):
#   proof_py_difftest@<backend>     the fixed seeds 0-299 of gen_tasks.py against Python
#                                   3.11 asyncio: no divergence
#   proof_py_regressions@<backend>  proof/regressions-py/*.prog against Python
#   proof_py_generator              gen_tasks.py's coverage table meets its floor
#   proof_py_planted                with emit_py.py's deliberately wrong emission (no
#                                   asyncio.shield where vow's upstream rule keeps an
#                                   input running) a divergence is found, shrunk to <= 8 ops
# The fuzz tests exist when the C compiler is clang, or when a clang is found beside a
# gcc build (the fuzzer is then compiled by that clang through a custom command).

find_package(Python3 COMPONENTS Interpreter)
set(vow_proof_dir ${PROJECT_SOURCE_DIR}/proof)

# A copy of the library with extra compile definitions and options.
function(vow_proof_library name)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "DEFINITIONS;OPTIONS")
    add_library(${name} STATIC EXCLUDE_FROM_ALL ${VOW_SOURCES})
    target_compile_definitions(${name} PRIVATE VOW_BUILDING ${arg_DEFINITIONS})
    target_compile_options(${name} PRIVATE ${arg_OPTIONS})
    target_include_directories(${name}
        PUBLIC ${PROJECT_SOURCE_DIR}/include
        PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/promise ${EV_INCLUDE_DIR})
    target_link_libraries(${name} PUBLIC vow::libev Threads::Threads)
    if(VOW_LIBM)
        target_link_libraries(${name} PUBLIC m)
    endif()
endfunction()

add_executable(vow_proof_run ${vow_proof_dir}/run.c ${vow_proof_dir}/interp.c)
target_link_libraries(vow_proof_run PRIVATE vow_static)

vow_proof_library(vow_plant_div DEFINITIONS VOW_PLANT_DIVERGENCE)
add_executable(vow_proof_run_plant_div ${vow_proof_dir}/run.c ${vow_proof_dir}/interp.c)
target_link_libraries(vow_proof_run_plant_div PRIVATE vow_plant_div)

add_executable(vow_proof_run_plant_await ${vow_proof_dir}/run.c ${vow_proof_dir}/interp.c)
target_compile_definitions(vow_proof_run_plant_await PRIVATE PROOF_PLANT_AWAIT_DETOUR)
target_link_libraries(vow_proof_run_plant_await PRIVATE vow_static)

add_executable(vow_proof_run_plant_io ${vow_proof_dir}/run.c ${vow_proof_dir}/interp.c)
target_compile_definitions(vow_proof_run_plant_io PRIVATE PROOF_PLANT_IO_SHORT_READ)
target_link_libraries(vow_proof_run_plant_io PRIVATE vow_static)

if(NOT Python3_Interpreter_FOUND)
    message(WARNING "vow: python3 not found: the proof/ differential tests are not registered")
    return()
endif()

set(vow_proof_py ${Python3_EXECUTABLE} ${vow_proof_dir}/difftest.py)

# Against node, once per backend: the fixed seed set, then the regression programs.
vow_test_register(proof_difftest
    COMMAND ${vow_proof_py} --runner $<TARGET_FILE:vow_proof_run> --seeds 0-399 --quiet
    LABELS compare proof)
vow_test_register(proof_regressions
    COMMAND ${vow_proof_py} --runner $<TARGET_FILE:vow_proof_run>
            --files ${vow_proof_dir}/regressions --quiet
    LABELS compare proof)

add_test(NAME proof_generator
    COMMAND ${Python3_EXECUTABLE} ${vow_proof_dir}/gen.py --coverage --seeds 0-399 --check)
set_tests_properties(proof_generator PROPERTIES TIMEOUT 120 LABELS proof)

add_test(NAME proof_planted_divergence
    COMMAND ${vow_proof_py} --runner $<TARGET_FILE:vow_proof_run_plant_div> --seeds 0-399
            --expect-divergence --max-ops 10)
set_tests_properties(proof_planted_divergence PROPERTIES
    TIMEOUT 300 LABELS "proof;compare"
    FAIL_REGULAR_EXPRESSION "${VOW_TEST_FAIL_REGEX}")

# ---- coroutines (issue 16), against node -------------------------------------------------
vow_test_register(proof_coro_difftest
    COMMAND ${vow_proof_py} --runner $<TARGET_FILE:vow_proof_run> --coro --seeds 0-299
            --batch 100 --check-ran --quiet
    LABELS compare proof)
vow_test_register(proof_coro_corpus
    COMMAND ${vow_proof_py} --runner $<TARGET_FILE:vow_proof_run>
            --files ${vow_proof_dir}/coro --seq --quiet
    LABELS compare proof)
add_test(NAME proof_coro_generator
    COMMAND ${Python3_EXECUTABLE} ${vow_proof_dir}/gen.py --coro --coverage --seeds 0-299 --check)
set_tests_properties(proof_coro_generator PROPERTIES TIMEOUT 120 LABELS proof)
add_test(NAME proof_coro_planted
    COMMAND ${vow_proof_py} --runner $<TARGET_FILE:vow_proof_run_plant_await> --coro
            --seeds 0-299 --expect-divergence --max-ops 6)
set_tests_properties(proof_coro_planted PROPERTIES
    TIMEOUT 300 LABELS "proof;compare"
    FAIL_REGULAR_EXPRESSION "${VOW_TEST_FAIL_REGEX}")

# ---- sockets (issue 17), against node ------------------------------------------------------
vow_test_register(proof_io_difftest
    COMMAND ${vow_proof_py} --runner $<TARGET_FILE:vow_proof_run> --io --seeds 0-299
            --batch 100 --check-ran --quiet
    LABELS compare proof)
vow_test_register(proof_io_corpus
    COMMAND ${vow_proof_py} --runner $<TARGET_FILE:vow_proof_run>
            --files ${vow_proof_dir}/io --quiet
    LABELS compare proof)
add_test(NAME proof_io_generator
    COMMAND ${Python3_EXECUTABLE} ${vow_proof_dir}/gen.py --io --coverage --seeds 0-299 --check)
set_tests_properties(proof_io_generator PROPERTIES TIMEOUT 120 LABELS proof)
add_test(NAME proof_io_planted
    COMMAND ${vow_proof_py} --runner $<TARGET_FILE:vow_proof_run_plant_io> --io
            --seeds 0-299 --batch 100 --expect-divergence --max-ops 7)
set_tests_properties(proof_io_planted PROPERTIES
    TIMEOUT 300 LABELS "proof;compare"
    FAIL_REGULAR_EXPRESSION "${VOW_TEST_FAIL_REGEX}")

# ---- the Python judge (asyncio's constructs) ---------------------------------------------
# Python 3.11 or later (asyncio.TaskGroup); difftest.py fails, never skips, without it.
set(vow_proof_pyjudge ${vow_proof_py} --judge python --python ${Python3_EXECUTABLE}
    --runner $<TARGET_FILE:vow_proof_run> --batch 100)
vow_test_register(proof_py_difftest
    COMMAND ${vow_proof_pyjudge} --seeds 0-299 --quiet
    LABELS compare proof)
vow_test_register(proof_py_regressions
    COMMAND ${vow_proof_pyjudge} --files ${vow_proof_dir}/regressions-py --quiet
    LABELS compare proof)
add_test(NAME proof_py_generator
    COMMAND ${Python3_EXECUTABLE} ${vow_proof_dir}/gen_tasks.py --coverage --seeds 0-299 --check)
set_tests_properties(proof_py_generator PROPERTIES TIMEOUT 120 LABELS proof)
add_test(NAME proof_py_planted
    COMMAND ${vow_proof_pyjudge} --seeds 0-299 --plant no-shield
            --expect-divergence --max-ops 8)
set_tests_properties(proof_py_planted PROPERTIES
    TIMEOUT 300 LABELS "proof;compare"
    FAIL_REGULAR_EXPRESSION "${VOW_TEST_FAIL_REGEX}")

# ---- the fuzzer -----------------------------------------------------------------------
set(vow_fuzz_srcs ${vow_proof_dir}/fuzz.c ${vow_proof_dir}/interp.c)
set(vow_fuzz_flags -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                   -fno-omit-frame-pointer -g -O1)
set(vow_fuzz_exe "")
set(vow_fuzz_exe_double "")

# Can this clang link a libFuzzer target (libclang-rt-dev)? Probed once, at configure time.
function(vow_proof_fuzz_probe clang out_var)
    if(DEFINED CACHE{${out_var}})
        return()
    endif()
    set(dir ${CMAKE_CURRENT_BINARY_DIR}/proof_fuzz_probe)
    file(MAKE_DIRECTORY ${dir})
    file(WRITE ${dir}/probe.c "#include <stddef.h>\n#include <stdint.h>\n"
        "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
        "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n")
    execute_process(COMMAND ${clang} -fsanitize=fuzzer,address,undefined ${dir}/probe.c
                            -o ${dir}/probe
                    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(rc EQUAL 0)
        set(${out_var} ON CACHE INTERNAL "clang links libFuzzer targets")
    else()
        set(${out_var} OFF CACHE INTERNAL "clang links libFuzzer targets")
        message(STATUS "vow: ${clang} cannot link -fsanitize=fuzzer (install libclang-rt-dev): "
                       "the fuzzer and its tests are skipped")
    endif()
endfunction()

if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
    vow_proof_fuzz_probe(${CMAKE_C_COMPILER} VOW_PROOF_LIBFUZZER)
endif()
if(CMAKE_C_COMPILER_ID STREQUAL "Clang" AND NOT VOW_PROOF_LIBFUZZER)
    # clang without libFuzzer: nothing to build.
elseif(CMAKE_C_COMPILER_ID STREQUAL "Clang")
    foreach(variant IN ITEMS "" "_plant_double")
        set(defs "")
        if(variant)
            set(defs VOW_PLANT_DOUBLE_REACTION)
        endif()
        vow_proof_library(vow_fuzzlib${variant} DEFINITIONS ${defs} OPTIONS ${vow_fuzz_flags})
        add_executable(vow_proof_fuzz${variant} ${vow_fuzz_srcs})
        target_compile_options(vow_proof_fuzz${variant} PRIVATE ${vow_fuzz_flags})
        target_link_options(vow_proof_fuzz${variant} PRIVATE
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
        target_link_libraries(vow_proof_fuzz${variant} PRIVATE vow_fuzzlib${variant})
    endforeach()
    set(vow_fuzz_exe $<TARGET_FILE:vow_proof_fuzz>)
    set(vow_fuzz_exe_double $<TARGET_FILE:vow_proof_fuzz_plant_double>)
else()
    find_program(VOW_PROOF_CLANG NAMES clang clang-16 clang-15 clang-14)
    if(VOW_PROOF_CLANG)
        vow_proof_fuzz_probe(${VOW_PROOF_CLANG} VOW_PROOF_LIBFUZZER)
    endif()
    if(VOW_PROOF_CLANG AND VOW_PROOF_LIBFUZZER)
        # gcc has no libFuzzer: compile the fuzzer and its library copy with clang, in one
        # command per variant.
        set(incs -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}/src
                 -I${PROJECT_SOURCE_DIR}/promise -I${EV_INCLUDE_DIR})
        foreach(variant IN ITEMS "" "_plant_double")
            set(defs -DVOW_BUILDING -D_DEFAULT_SOURCE)
            if(variant)
                list(APPEND defs -DVOW_PLANT_DOUBLE_REACTION)
            endif()
            set(out ${CMAKE_CURRENT_BINARY_DIR}/vow_proof_fuzz${variant})
            add_custom_command(OUTPUT ${out}
                COMMAND ${VOW_PROOF_CLANG} -std=c11 ${defs} ${incs} ${vow_fuzz_flags}
                        -fsanitize=fuzzer,address,undefined
                        ${VOW_SOURCES} ${vow_fuzz_srcs}
                        ${EV_LIBRARY} -lpthread -lm -o ${out}
                DEPENDS ${VOW_SOURCES} ${vow_fuzz_srcs} ${vow_proof_dir}/interp.h
                COMMENT "clang: building the libFuzzer target vow_proof_fuzz${variant}"
                VERBATIM)
            add_custom_target(vow_proof_fuzz${variant}_clang ALL DEPENDS ${out})
        endforeach()
        set(vow_fuzz_exe ${CMAKE_CURRENT_BINARY_DIR}/vow_proof_fuzz)
        set(vow_fuzz_exe_double ${CMAKE_CURRENT_BINARY_DIR}/vow_proof_fuzz_plant_double)
    else()
        message(STATUS "vow: no clang with libFuzzer: the fuzzer and its tests are skipped")
    endif()
endif()

if(vow_fuzz_exe)
    set(vow_fuzz_work ${CMAKE_CURRENT_BINARY_DIR}/proof_fuzz)
    add_test(NAME proof_fuzz
        COMMAND bash ${vow_proof_dir}/fuzz.sh ${vow_fuzz_exe} ${vow_proof_dir}/corpus
                ${vow_fuzz_work}/clean 60 expect-clean)
    add_test(NAME proof_fuzz_planted_double
        COMMAND bash ${vow_proof_dir}/fuzz.sh ${vow_fuzz_exe_double} ${vow_proof_dir}/corpus
                ${vow_fuzz_work}/double 60 expect-crash)
    set_tests_properties(proof_fuzz proof_fuzz_planted_double PROPERTIES
        TIMEOUT 240 LABELS "proof;fuzz")
endif()
