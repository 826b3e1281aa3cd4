# The chapter's examples: examples/check.py runs each C example beside its Python 3.11
# original (examples/py/) and compares their output; its self-test proves the comparison
# can fail. Registered once per backend, as every test is.
if(VOW_BUILD_EXAMPLES)
    find_package(Python3 COMPONENTS Interpreter)
    set(vow_check_python python3)
    if(Python3_Interpreter_FOUND)
        set(vow_check_python "${Python3_EXECUTABLE}")
    endif()
    vow_test_register(examples_check
        COMMAND ${vow_check_python} ${PROJECT_SOURCE_DIR}/examples/check.py
                ${PROJECT_BINARY_DIR}/examples
        LABELS examples)
    add_test(NAME examples_check_selftest
             COMMAND ${vow_check_python} ${PROJECT_SOURCE_DIR}/examples/check.py --self-test)
endif()
