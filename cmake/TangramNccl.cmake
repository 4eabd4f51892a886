# NCCL as an imported target (NCCL::nccl) and the TANGRAM_AS_NEEDED link feature, for the build
# and for the installed package alike (tangramConfig.cmake includes this file): the exported
# targets then name NCCL::nccl, never this machine's absolute path, and link CUDA libraries
# --as-needed, so that a consumer that never reaches the nccl transport records none of them.
set(CMAKE_LINK_LIBRARY_USING_TANGRAM_AS_NEEDED
    "LINKER:--push-state,--as-needed" "<LINK_ITEM>" "LINKER:--pop-state")
set(CMAKE_LINK_LIBRARY_USING_TANGRAM_AS_NEEDED_SUPPORTED TRUE)

if(NOT TARGET NCCL::nccl)
  if(NOT NCCL_LIBRARY)
    find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64
                 ENV NCCL_HOME PATH_SUFFIXES lib lib64)
  endif()
  if(NCCL_LIBRARY)
    add_library(NCCL::nccl UNKNOWN IMPORTED)
    set_target_properties(NCCL::nccl PROPERTIES IMPORTED_LOCATION "${NCCL_LIBRARY}")
  endif()
endif()
