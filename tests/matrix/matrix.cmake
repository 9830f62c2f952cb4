# The Python version matrix beyond the interpreters installed on this machine: the
# end-to-end suite inside a Debian unstable chroot on python3.13, python3.14 and python3.15
# (tests/matrix/run-sid.sh, which creates the chroot when it is missing), and snapshots written
# under every interpreter loaded by every other interpreter's tracemalloc. Label: matrix.
# A machine where the chroot cannot be made (not root, no debootstrap) skips them (exit 77).
set(MP_MATRIX_DIR ${PROJECT_SOURCE_DIR}/tests/matrix)
foreach(version 3.13 3.14 3.15)
    add_test(NAME matrix.python${version}-sid COMMAND sh ${MP_MATRIX_DIR}/run-sid.sh ${version})
    set_tests_properties(matrix.python${version}-sid PROPERTIES
        LABELS matrix TIMEOUT 1200 SKIP_RETURN_CODE 77
        ENVIRONMENT "MP_LIB=$<TARGET_FILE:mprofile>;MP_HELLO=$<TARGET_FILE:mp_hello>")
endforeach()

# Host interpreters for the cross-loading test: every MP_E2E_PYTHONS entry.
set(MP_MATRIX_HOST_PYTHONS "")
foreach(entry IN LISTS MP_E2E_PYTHONS)
    string(REPLACE "=" ";" pair "${entry}")
    list(GET pair 1 interpreter)
    list(APPEND MP_MATRIX_HOST_PYTHONS ${interpreter})
endforeach()
string(REPLACE ";" ":" MP_MATRIX_HOST_PYTHONS "${MP_MATRIX_HOST_PYTHONS}")
add_test(NAME matrix.crossload COMMAND ${MP_TEST_PYTHON} ${MP_MATRIX_DIR}/crossload.py)
set_tests_properties(matrix.crossload PROPERTIES
    LABELS matrix TIMEOUT 1200 SKIP_RETURN_CODE 77
    ENVIRONMENT "MP_LIB=$<TARGET_FILE:mprofile>;MP_CROSSLOAD_PYTHONS=${MP_MATRIX_HOST_PYTHONS}")

# Versions older than 3.11 (pyenv's, when installed): one warning line, dormant, program as is.
set(MP_UNSUPPORTED_PYTHONS "")
foreach(version 3.10.13 3.9.18)
    execute_process(COMMAND pyenv prefix ${version} OUTPUT_VARIABLE prefix
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
    string(REGEX MATCH "^[0-9]+\\.[0-9]+" minor ${version})
    if(rc EQUAL 0)
        list(APPEND MP_UNSUPPORTED_PYTHONS ${prefix}/bin/python${minor})
    endif()
endforeach()
string(REPLACE ";" ":" MP_UNSUPPORTED_PYTHONS "${MP_UNSUPPORTED_PYTHONS}")
add_test(NAME matrix.unsupported COMMAND ${MP_TEST_PYTHON} ${MP_MATRIX_DIR}/unsupported.py)
set_tests_properties(matrix.unsupported PROPERTIES
    LABELS matrix TIMEOUT 120 SKIP_RETURN_CODE 77
    ENVIRONMENT "MP_LIB=$<TARGET_FILE:mprofile>;MP_UNSUPPORTED_PYTHONS=${MP_UNSUPPORTED_PYTHONS}")
