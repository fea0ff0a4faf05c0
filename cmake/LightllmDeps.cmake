# Third-party dependencies, all from Debian 12 packages (see docs/DEPENDENCIES in DESIGN.md §9).
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
find_package(yaml-cpp QUIET)
find_package(CLI11 QUIET)
find_package(Boost 1.74 QUIET)
if(LIGHTLLM_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# NCCL (tensor parallelism on CUDA): the CUDA toolkit's copy or the libnccl-dev package.
# Creates the imported target LightLLM::nccl; a CUDA build without NCCL still builds, with
# `--tp > 1` on CUDA reporting that NCCL is missing (LIGHTLLM_NCCL=0).
if(LIGHTLLM_CUDA)
  find_package(CUDAToolkit REQUIRED)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} $ENV{NCCL_HOME}/include)
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} $ENV{NCCL_HOME}/lib)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(LIGHTLLM_HAVE_NCCL ON)
    add_library(LightLLM::nccl UNKNOWN IMPORTED)
    set_target_properties(LightLLM::nccl PROPERTIES IMPORTED_LOCATION "${NCCL_LIBRARY}"
                                                    INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
    message(STATUS "NCCL: ${NCCL_LIBRARY}")
  else()
    set(LIGHTLLM_HAVE_NCCL OFF)
    message(WARNING "NCCL not found: tensor parallelism on CUDA is disabled")
  endif()
endif()
