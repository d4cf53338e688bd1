# Install rules: headers (with the generated version.hpp), the library, a CMake
# package (find_package(rotortree) -> rotortree::rotortree) and rotortree.pc.
# The `rotortree` tool installs itself (cli/CMakeLists.txt). See docs/packaging.md.
include(CMakePackageConfigHelpers)

set(ROTORTREE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/rotortree"
    CACHE STRING "Where rotortreeConfig.cmake goes, relative to the prefix")

set_target_properties(rotortree PROPERTIES
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}
  EXPORT_NAME rotortree)
if(BUILD_SHARED_LIBS AND TARGET rotortree_cli)
  # The installed tool finds the installed librotortree.so wherever the prefix is.
  file(RELATIVE_PATH _rotortree_bin_to_lib "/p/${CMAKE_INSTALL_BINDIR}" "/p/${CMAKE_INSTALL_LIBDIR}")
  set_target_properties(rotortree_cli PROPERTIES INSTALL_RPATH "$ORIGIN/${_rotortree_bin_to_lib}")
endif()

install(TARGETS rotortree EXPORT rotortreeTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/rotortree
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/generated/rotortree/version.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/rotortree)

install(EXPORT rotortreeTargets
  NAMESPACE rotortree::
  DESTINATION ${ROTORTREE_INSTALL_CMAKEDIR})
get_target_property(_rotortree_type rotortree TYPE)
if(_rotortree_type STREQUAL "STATIC_LIBRARY")
  set(ROTORTREE_STATIC ON)
else()
  set(ROTORTREE_STATIC OFF)
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/rotortreeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/package/rotortreeConfig.cmake
  INSTALL_DESTINATION ${ROTORTREE_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/rotortreeConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/package/rotortreeConfig.cmake
  ${PROJECT_BINARY_DIR}/package/rotortreeConfigVersion.cmake
  DESTINATION ${ROTORTREE_INSTALL_CMAKEDIR})

# rotortree.pc, relocatable: paths are relative to the .pc file's own directory,
# so `cmake --install --prefix ANY` and the .deb (/usr) both get correct paths.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(ROTORTREE_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(ROTORTREE_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(ROTORTREE_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH _rotortree_pc_up "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  string(REGEX REPLACE "/$" "" _rotortree_pc_up "${_rotortree_pc_up}")
  set(ROTORTREE_PC_PREFIX "\${pcfiledir}/${_rotortree_pc_up}")
  set(ROTORTREE_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(ROTORTREE_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/rotortree.pc.in ${PROJECT_BINARY_DIR}/package/rotortree.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/package/rotortree.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
