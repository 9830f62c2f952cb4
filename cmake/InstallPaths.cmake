# How installed files name each other: relative paths wherever possible, so that an install tree
# still works once moved (cmake --install --prefix, DESTDIR staging, the tree inside a wheel that
# pip unpacks into a virtualenv: docs/install.md).

# mprofile_install_path(<var> <from_dir> <to_path>): <to_path> as seen from <from_dir>. Both are
# install paths in GNUInstallDirs' style: relative to the install prefix, or absolute. The result
# is relative when both are relative (they move together with the prefix), else the absolute
# <to_path> (a directory pinned outside the prefix does not move).
function(mprofile_install_path var from to)
    if(IS_ABSOLUTE "${from}" OR IS_ABSOLUTE "${to}")
        cmake_path(ABSOLUTE_PATH to BASE_DIRECTORY "${CMAKE_INSTALL_PREFIX}" NORMALIZE
                   OUTPUT_VARIABLE path)
    else()
        file(RELATIVE_PATH path "/prefix/${from}" "/prefix/${to}")
    endif()
    set(${var} "${path}" PARENT_SCOPE)
endfunction()
