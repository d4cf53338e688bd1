# CPack: a Debian package `rotortree` (tool, headers, library, CMake and
# pkg-config files) installed under /usr. Build it with scripts/package.sh,
# or `cpack -G DEB` in a build directory. See docs/packaging.md.
set(CPACK_PACKAGE_NAME rotortree)
set(CPACK_PACKAGE_VENDOR "rotortree")
set(CPACK_PACKAGE_CONTACT "rotortree maintainers <rotortree@localhost>"
    CACHE STRING "Maintainer of the Debian package")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Append-only N-ary Merkle trees (Lean IMT) with an embedded database")
set(CPACK_PACKAGE_DESCRIPTION
    "rotortree is a C++20 library and command-line tool for append-only N-ary\n"
    "Merkle trees (Lean Incremental Merkle Trees): parallel bulk insertion,\n"
    "inclusion and consistency proofs, and an embedded durable database with a\n"
    "write-ahead log, checkpoints and recovery. This package holds the\n"
    "`rotortree` tool, the headers, the library and its CMake and pkg-config files.")
string(REPLACE ";" "" CPACK_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})  # project(VERSION) is the only source
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # rotortree_VERSION-RELEASE_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Run-time dependencies of the tool (libtbb12, libssl3, libisal2, libstdc++6,
# ...) come from dpkg-shlibdeps; without it, the list is given by hand.
find_program(ROTORTREE_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(ROTORTREE_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6, libstdc++6, libgcc-s1, libtbb12, libssl3, libisal2")
endif()
# What find_package(rotortree) / pkg-config --static need to link a program
# against the static library.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libtbb-dev, libssl-dev, libisal-dev, pkg-config")
include(CPack)
