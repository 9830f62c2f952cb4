# The Debian package: `cpack -G DEB` in a build configured for the /usr prefix (the deb preset:
# cmake --preset deb && cmake --build --preset deb && cpack --preset deb; docs/install.md). The
# prefix decides the layout, the same as `cmake --install` into /usr: the library in
# /usr/lib/<multiarch> (GNUInstallDirs), the Python package in /usr/lib/python3/dist-packages,
# which every Debian python3.X searches (lib/python/CMakeLists.txt).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mprofile)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "The mprofile authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
# The control file's long description: one line of the field per line here.
string(JOIN "\n" CPACK_PACKAGE_DESCRIPTION
    "mprofile profiles the memory of any Python program, unmodified or embedded."
    "`mprofile run` preloads libmprofile.so, which samples allocations (about"
    "one per 128 KiB by default, with unbiased estimates) and writes snapshots"
    "that tracemalloc opens: at exit, on a signal or periodically."
    "mprofile-report prints their top allocation sites; the mprofile Python"
    "module gives tracemalloc's API over the same library.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
# libc6 and whatever else the binaries link, from dpkg-shlibdeps; python3 for the module and the
# attach tool (a script); libunwind8, loaded at run time, for mixed Python + native stacks; gdb
# for attaching to Python 3.11 to 3.13.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libunwind8")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "gdb")
# Refuses a .deb of a build configured for another prefix, whose files would name the wrong
# paths (cpack runs this file).
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_CURRENT_LIST_DIR}/CPackProjectConfig.cmake)
include(CPack)
