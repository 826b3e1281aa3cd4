# vow_detect_backends(OUT_VAR)
#
# Sets OUT_VAR to the list of libev backends the test suite runs on: the names of the
# bits in ev_recommended_backends() on this machine ("select;poll;epoll" on Linux,
# "select;poll;kqueue" on BSD/macOS), found by compiling and running cmake/vow_backends.c.
# The cache variable VOW_TEST_BACKENDS, when set, wins (and is the way out when
# cross-compiling, where the probe cannot run).
set(VOW_TEST_BACKENDS "" CACHE STRING
    "libev backends the tests run on, e.g. 'poll;epoll' (empty: ev_recommended_backends())")

function(vow_detect_backends out_var)
    if(VOW_TEST_BACKENDS)
        set(${out_var} "${VOW_TEST_BACKENDS}" PARENT_SCOPE)
        return()
    endif()

    if(CMAKE_CROSSCOMPILING)
        message(WARNING "vow: cross-compiling, cannot probe libev backends; testing on "
                        "'select;poll' (set VOW_TEST_BACKENDS to choose)")
        set(${out_var} "select;poll" PARENT_SCOPE)
        return()
    endif()

    try_run(vow_probe_run vow_probe_compile
        ${CMAKE_BINARY_DIR}/vow_backend_probe
        ${PROJECT_SOURCE_DIR}/cmake/vow_backends.c
        CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${EV_INCLUDE_DIR}"
        LINK_LIBRARIES ${EV_LIBRARY}
        COMPILE_OUTPUT_VARIABLE probe_compile_out
        RUN_OUTPUT_VARIABLE probe_out)
    if(NOT vow_probe_compile OR NOT vow_probe_run EQUAL 0)
        message(FATAL_ERROR "vow: could not build and run the libev backend probe "
                            "(cmake/vow_backends.c):\n${probe_compile_out}\n${probe_out}")
    endif()
    string(STRIP "${probe_out}" mask)

    # Bit values of libev's EVBACKEND_* (ev.h).
    set(names select poll epoll kqueue devpoll port linuxaio iouring)
    set(bits 1 2 4 8 16 32 64 128)
    set(result "")
    foreach(name bit IN ZIP_LISTS names bits)
        math(EXPR bit_set "${mask} & ${bit}")
        if(bit_set)
            if(name MATCHES "^(select|poll|epoll|kqueue)$")
                list(APPEND result ${name})
            else()
                message(STATUS "vow: libev recommends backend '${name}', which vow does not "
                               "name; not tested on it")
            endif()
        endif()
    endforeach()
    if(NOT result)
        message(WARNING "vow: ev_recommended_backends() = ${mask} names no backend vow knows; "
                        "testing on 'select'")
        set(result select)
    endif()
    message(STATUS "vow: libev recommended backends (mask ${mask}): ${result}")
    set(${out_var} "${result}" PARENT_SCOPE)
endfunction()
