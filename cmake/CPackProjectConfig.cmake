# Read by cpack for each generator (cmake/Packaging.cmake).
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
    message(FATAL_ERROR "mprofile: a .deb needs a build configured with the /usr prefix, not "
            "${CPACK_PACKAGING_INSTALL_PREFIX}: cmake --preset deb && cmake --build --preset deb "
            "&& cpack --preset deb (docs/install.md)")
endif()
