# Installs the libraries, public headers, the tangram binary, the shipped configs and a CMake
# package, so that a user's trainer can:
#   find_package(tangram REQUIRED)
#   target_link_libraries(my_trainer PRIVATE tangram::orchestrator)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Public headers only: the backend folders include mpi.h / nccl.h and stay private.
foreach(dir base collectives partitioner orchestrator)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tangram/${dir}
          FILES_MATCHING PATTERN "*.h"
          PATTERN "mpi" EXCLUDE PATTERN "nccl" EXCLUDE PATTERN "unavailable" EXCLUDE)
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/configs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/tangram/configs)

# Exported as tangram::base, tangram::collectives, ... (the same names as the in-tree aliases).
foreach(component base collectives partitioner orchestrator)
  set_target_properties(tangram_${component} PROPERTIES EXPORT_NAME ${component})
endforeach()
set_target_properties(tangram_options PROPERTIES EXPORT_NAME options)

install(TARGETS tangram_options tangram_base tangram_collectives tangram_partitioner
                tangram_orchestrator
        EXPORT tangramTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tangram)
install(TARGETS tangram RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT tangramTargets NAMESPACE tangram:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tangram)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tangramConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/tangramConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tangram)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tangramConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tangramConfig.cmake ${PROJECT_BINARY_DIR}/tangramConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tangram)
