# SPDX-License-Identifier: Apache-2.0
# Warnings, sanitizers and ccache for every PEZ target, carried by one INTERFACE target.

option(PEZ_WERROR "Treat compiler warnings as errors (CI builds turn this on)" OFF)
set(PEZ_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined or thread (empty for none)")

find_program(PEZ_CCACHE ccache)
if(PEZ_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${PEZ_CCACHE})
endif()

add_library(pez_build_options INTERFACE)
target_compile_options(pez_build_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wformat=2 -Wimplicit-fallthrough -Wcast-qual -Wmissing-declarations)
if(PEZ_WERROR)
  target_compile_options(pez_build_options INTERFACE -Werror)
endif()

if(PEZ_SANITIZE)
  if(PEZ_SANITIZE STREQUAL "thread")
    set(_pez_san_flags -fsanitize=thread)
    # Asio's handler fences draw GCC's "not supported with -fsanitize=thread" warning; the
    # hand-offs between threads that matter go through Asio's mutexes, which TSan does see.
    target_compile_options(pez_build_options INTERFACE -Wno-tsan)
  elseif(PEZ_SANITIZE MATCHES "^(address|undefined|address,undefined|undefined,address)$")
    set(_pez_san_flags -fsanitize=${PEZ_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  else()
    message(FATAL_ERROR "PEZ_SANITIZE must be empty, address,undefined or thread; got '${PEZ_SANITIZE}'")
  endif()
  target_compile_options(pez_build_options INTERFACE ${_pez_san_flags})
  target_link_options(pez_build_options INTERFACE ${_pez_san_flags})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC's flow analysis gives false maybe-uninitialized reports on sanitizer-instrumented code
    # (seen inside Boost.Beast's parser); the plain build keeps the warning.
    target_compile_options(pez_build_options INTERFACE -Wno-maybe-uninitialized)
  endif()
endif()

# The fuzz build (scripts/fuzz): clang's coverage instrumentation on everything, libFuzzer linked
# into the fuzz targets of tests/fuzz/ only. Other builds link those targets to a replay main.
option(PEZ_FUZZ "Build the fuzz targets with libFuzzer (needs clang)" OFF)
if(PEZ_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "PEZ_FUZZ needs clang (libFuzzer); configure with -DCMAKE_CXX_COMPILER=clang++-19")
  endif()
  target_compile_options(pez_build_options INTERFACE -fsanitize=fuzzer-no-link)
endif()

# Asio and Beast are compiled once (daemon/api/boost_impl.cpp) instead of in every file that uses them.
add_library(pez_asio INTERFACE)
target_compile_definitions(pez_asio INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
target_link_libraries(pez_asio INTERFACE Boost::boost Boost::system Threads::Threads)
