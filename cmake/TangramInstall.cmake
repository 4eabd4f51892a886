# Installs the libraries, public headers, the tangram binary, the shipped configs and a CMake
# package, so that a user's trainer can:
#   find_package(tangram REQUIRED)
#   target_link_libraries(my_trainer PRIVATE tangram::orchestrator)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Public headers only: the API a user's trainer programs against, and the project headers those
# include (computed below, so that the installed set is always self-contained). Internal headers
# (the CLI's, which need CLI11; the backends', which need mpi.h / nccl.h; algorithm and runtime
# internals) stay out.
set(_tangram_public_headers
    base/status_macros.h
    collectives/communicator.h collectives/types.h collectives/link_model.h
    collectives/sim/sim_world.h collectives/benchmark.h
    partitioner/device_catalog.h partitioner/fleet.h partitioner/model.h partitioner/training.h
    partitioner/plan.h partitioner/plan_json.h partitioner/strategy.h partitioner/cost_model.h
    orchestrator/job_config.h orchestrator/runtime/train_job.h orchestrator/runtime/trainer.h
    orchestrator/simulator/simulator.h orchestrator/simulator/run.h
    orchestrator/model/layer.h orchestrator/model/stage.h orchestrator/model/gpt.h
    orchestrator/model/checkpoint.h orchestrator/model/adamw.h orchestrator/model/tensor.h
    orchestrator/model/serial_trainer.h)
set(_tangram_installed_headers "")
set(_tangram_pending ${_tangram_public_headers})
while(_tangram_pending)
  list(POP_FRONT _tangram_pending _header)
  if(_header IN_LIST _tangram_installed_headers OR NOT EXISTS ${PROJECT_SOURCE_DIR}/${_header})
    continue()  # already listed, or not a project header
  endif()
  if(_header MATCHES "(^|/)(cli|mpi|nccl|unavailable)/")
    message(FATAL_ERROR "public header chain reaches the internal header ${_header}")
  endif()
  list(APPEND _tangram_installed_headers ${_header})
  file(STRINGS ${PROJECT_SOURCE_DIR}/${_header} _includes REGEX "^#include \"[a-z_/]+\\.h\"")
  foreach(_line IN LISTS _includes)
    string(REGEX REPLACE "^#include \"([a-z_/]+\\.h)\".*" "\\1" _included "${_line}")
    list(APPEND _tangram_pending ${_included})
  endforeach()
endwhile()
foreach(_header IN LISTS _tangram_installed_headers)
  get_filename_component(_dir ${_header} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${_header}
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tangram/${_dir})
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/configs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/tangram/configs)

# Exported as tangram::base, tangram::collectives, ..., tangram::model (the same names as the
# in-tree aliases). tangram_options (warnings, -Werror, sanitizers) is build-only: not exported.
foreach(component base collectives partitioner orchestrator model)
  if(TARGET tangram_${component})
    set_target_properties(tangram_${component} PROPERTIES EXPORT_NAME ${component})
  endif()
endforeach()

install(TARGETS tangram_base tangram_collectives tangram_partitioner
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
              ${PROJECT_SOURCE_DIR}/cmake/TangramNccl.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tangram)
