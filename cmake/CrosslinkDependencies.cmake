# Finds every external dependency once, at the top, so layer CMakeLists only link targets.
# All of them come from Debian's packages (crosslink.sh installs them) except CUDA and NCCL, which
# live under /usr/local/cuda where a machine has them.

find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
# libcrypto (HMAC-SHA256, random nonces) for the data plane's authenticated handshake, libssl for
# its optional TLS (TcpOptions::tls).
find_package(OpenSSL REQUIRED COMPONENTS Crypto SSL)
# The runtime layer (gRPC coordinator, launcher), the examples and crosslink-bench can be left
# out, so that the lower layers and the GPU kernels build on a machine without gRPC, Protobuf,
# Gloo or Google Benchmark (bench/gpu_check.sh on a bare GPU node).
option(CROSSLINK_WITH_RUNTIME "Build the runtime layer, the examples and crosslink-bench" ON)
if(CROSSLINK_WITH_RUNTIME)
  # The CONFIG route for gRPC is fast; pkg-config is slow on Debian.
  find_package(gRPC CONFIG REQUIRED)
  find_package(Protobuf REQUIRED)
  # bench/gpu_check.sh builds the runtime on a GPU machine that carries gRPC but not Gloo or
  # Google Benchmark, which only crosslink-bench needs; it turns this off.
  option(CROSSLINK_REQUIRE_BENCH_DEPS "Fail the configure without Gloo and Google Benchmark" ON)
  if(CROSSLINK_REQUIRE_BENCH_DEPS)
    set(crosslink_bench_deps_required REQUIRED)
  else()
    set(crosslink_bench_deps_required QUIET)
  endif()
else()
  set(crosslink_bench_deps_required QUIET)
endif()
find_package(GTest REQUIRED)
find_package(benchmark CONFIG ${crosslink_bench_deps_required})
find_package(tomlplusplus CONFIG REQUIRED)
find_package(Gloo CONFIG ${crosslink_bench_deps_required} PATHS /usr/share/cmake/Gloo)

# libtorch is only needed by the crosslink::torch glue and the examples; it is the slowest
# dependency to find and to compile against, so it can be switched off for quick builds.
option(CROSSLINK_WITH_TORCH "Build the libtorch glue and the training examples" ON)
if(CROSSLINK_WITH_TORCH)
  find_package(Torch CONFIG REQUIRED PATHS /usr/lib/x86_64-linux-gnu/cmake/Torch)
endif()

find_program(CROSSLINK_GNUPLOT gnuplot)
if(NOT CROSSLINK_GNUPLOT)
  message(WARNING "gnuplot not found: availability and benchmark plots will fail at run time")
endif()

# CUDA is optional: it builds where nvcc exists and runs where a GPU exists.
set(CROSSLINK_CUDA_ROOT /usr/local/cuda CACHE PATH "CUDA Toolkit root (with NCCL)")
set(CROSSLINK_CUDA OFF)
if(NOT DEFINED CMAKE_CUDA_COMPILER AND EXISTS ${CROSSLINK_CUDA_ROOT}/bin/nvcc)
  set(CMAKE_CUDA_COMPILER ${CROSSLINK_CUDA_ROOT}/bin/nvcc)
endif()
include(CheckLanguage)
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  # CMake 3.25 does not know nvcc 13's C++20 flag spelling.
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    # CUDA 13 dropped everything below sm_75; A100 and H100 are what orbit clusters will carry.
    set(CMAKE_CUDA_ARCHITECTURES 80 90)
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 20)
  find_package(CUDAToolkit REQUIRED)
  find_path(CROSSLINK_NCCL_INCLUDE_DIR nccl.h HINTS ${CROSSLINK_CUDA_ROOT}/include)
  find_library(CROSSLINK_NCCL_LIBRARY nccl HINTS ${CROSSLINK_CUDA_ROOT}/lib64 ${CROSSLINK_CUDA_ROOT}/lib)
  if(CROSSLINK_NCCL_INCLUDE_DIR AND CROSSLINK_NCCL_LIBRARY)
    add_library(crosslink_nccl INTERFACE)
    target_include_directories(crosslink_nccl INTERFACE ${CROSSLINK_NCCL_INCLUDE_DIR})
    target_link_libraries(crosslink_nccl INTERFACE ${CROSSLINK_NCCL_LIBRARY})
    add_library(crosslink::nccl ALIAS crosslink_nccl)
    set(CROSSLINK_CUDA ON)
    message(STATUS "Crosslink GPU parts: ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, NCCL ${CROSSLINK_NCCL_LIBRARY})")
  else()
    message(STATUS "Crosslink GPU parts: OFF (nvcc found but no NCCL under ${CROSSLINK_CUDA_ROOT})")
  endif()
else()
  message(STATUS "Crosslink GPU parts: OFF (no nvcc under ${CROSSLINK_CUDA_ROOT})")
endif()
