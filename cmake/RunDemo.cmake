# Run by the `demo` target (examples/CMakeLists.txt):
#   cmake -DSOURCE_DIR=.. -DBUILD_DIR=.. -DEXAMPLES_DIR=.. -DEXAMPLES=a,b -DPYTHON=python3 -P RunDemo.cmake
# With examples/check.py: python3 examples/check.py --demo BUILD_DIR (it compares each
# example with its Python counterpart). Without: runs each example in turn; any failure
# fails the target.
if(EXISTS "${SOURCE_DIR}/examples/check.py")
    execute_process(
        COMMAND ${PYTHON} ${SOURCE_DIR}/examples/check.py --demo ${BUILD_DIR}
        WORKING_DIRECTORY ${SOURCE_DIR}
        RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "demo: examples/check.py failed (${rc})")
    endif()
    return()
endif()

string(REPLACE "," ";" examples "${EXAMPLES}")
if(NOT examples)
    message(FATAL_ERROR "demo: no examples (examples/*.c)")
endif()
foreach(name IN LISTS examples)
    execute_process(COMMAND ${CMAKE_COMMAND} -E echo "==> ${name}")
    execute_process(
        COMMAND ${EXAMPLES_DIR}/${name}
        WORKING_DIRECTORY ${SOURCE_DIR}
        RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "demo: ${name} failed (${rc})")
    endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -E echo "==> all examples ran")
