# Finds Tangram's dependencies. Required ones fail the configure step with a hint to run
# deploy/install-deps.sh; optional backends (MPI, CUDA, NCCL) follow TANGRAM_WITH_* (AUTO|ON|OFF).

set(_hint "run deploy/install-deps.sh to install Tangram's dependencies")
find_package(absl REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)
if(TANGRAM_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(TANGRAM_BUILD_BENCH)
  find_package(benchmark QUIET)
endif()

# BLAS for the CPU reference model (OpenBLAS from Debian).
find_package(BLAS REQUIRED)

function(_tangram_backend_state name found)
  if(TANGRAM_WITH_${name} STREQUAL "OFF")
    set(TANGRAM_HAVE_${name} OFF PARENT_SCOPE)
  elseif(${found})
    set(TANGRAM_HAVE_${name} ON PARENT_SCOPE)
  elseif(TANGRAM_WITH_${name} STREQUAL "ON")
    message(FATAL_ERROR "TANGRAM_WITH_${name}=ON but ${name} was not found (${_hint})")
  else()
    set(TANGRAM_HAVE_${name} OFF PARENT_SCOPE)
  endif()
endfunction()

set(_mpi_found OFF)
if(NOT TANGRAM_WITH_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS CXX QUIET)
  if(MPI_CXX_FOUND)
    set(_mpi_found ON)
  endif()
endif()
_tangram_backend_state(MPI _mpi_found)

# spdlog (Debian's libspdlog-dev, over libfmt) writes the lines of base/log.h. Optional: without
# it base/log.cc falls back to a minimal stderr writer, so that a missing package never breaks the
# build; TANGRAM_WITH_SPDLOG=ON makes it required, OFF skips it.
set(TANGRAM_WITH_SPDLOG AUTO CACHE STRING "Log through spdlog: AUTO (when found) | ON | OFF")
set(_spdlog_found OFF)
if(NOT TANGRAM_WITH_SPDLOG STREQUAL "OFF")
  find_package(spdlog QUIET)
  if(spdlog_FOUND)
    set(_spdlog_found ON)
  endif()
endif()
_tangram_backend_state(SPDLOG _spdlog_found)

# CUDA 13 lives in /usr/local/cuda on our machines; a default search path does not include it.
set(_cuda_found OFF)
if(NOT TANGRAM_WITH_CUDA STREQUAL "OFF")
  if(NOT CUDAToolkit_ROOT AND EXISTS /usr/local/cuda)
    set(CUDAToolkit_ROOT /usr/local/cuda)
  endif()
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND)
    set(_cuda_found ON)
  endif()
endif()
_tangram_backend_state(CUDA _cuda_found)

# NCCL ships no CMake package: look for its header and library next to the CUDA toolkit.
set(_nccl_found OFF)
if(TANGRAM_HAVE_CUDA AND NOT TANGRAM_WITH_NCCL STREQUAL "OFF")
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include
            ENV NCCL_HOME PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64
               ENV NCCL_HOME PATH_SUFFIXES lib lib64)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(_nccl_found ON)
  endif()
elseif(TANGRAM_WITH_NCCL STREQUAL "ON" AND NOT TANGRAM_HAVE_CUDA)
  message(FATAL_ERROR "TANGRAM_WITH_NCCL=ON needs CUDA, which was not found")
endif()
_tangram_backend_state(NCCL _nccl_found)

# HCCL (Ascend CANN): only the headers are needed at build time; libhccl.so and libascendcl.so are
# dlopen'ed when an "hccl" island starts, so a build with the slot runs on machines without CANN.
set(_hccl_found OFF)
if(NOT TANGRAM_WITH_HCCL STREQUAL "OFF")
  find_path(HCCL_INCLUDE_DIR hccl/hccl.h
            HINTS ENV ASCEND_TOOLKIT_HOME ENV ASCEND_HOME_PATH
                  /usr/local/Ascend/ascend-toolkit/latest
            PATH_SUFFIXES include)
  if(HCCL_INCLUDE_DIR AND EXISTS ${HCCL_INCLUDE_DIR}/acl/acl.h)
    set(_hccl_found ON)
  endif()
endif()
_tangram_backend_state(HCCL _hccl_found)

if(TANGRAM_HAVE_NCCL)
  include(TangramNccl)  # NCCL::nccl and the TANGRAM_AS_NEEDED link feature
endif()
