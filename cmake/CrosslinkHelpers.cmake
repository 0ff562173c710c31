include(GoogleTest)
# crosslink_add_library(NAME <layer> DEPS ...): one library per layer, sources globbed from
# <layer>/src so that adding a file needs no CMake edit; public headers under <layer>/include.
function(crosslink_add_library layer)
  cmake_parse_arguments(ARG "" "" "DEPS;PRIVATE_DEPS;SOURCES" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cc)
  if(NOT srcs AND NOT ARG_SOURCES)
    # A layer with headers only so far.
    add_library(crosslink_${layer} INTERFACE)
    target_include_directories(crosslink_${layer} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(crosslink_${layer} INTERFACE ${ARG_DEPS} ${ARG_PRIVATE_DEPS})
    add_library(crosslink::${layer} ALIAS crosslink_${layer})
    return()
  endif()
  add_library(crosslink_${layer} STATIC ${srcs} ${ARG_SOURCES})
  add_library(crosslink::${layer} ALIAS crosslink_${layer})
  target_include_directories(crosslink_${layer} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(crosslink_${layer} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  target_compile_options(crosslink_${layer} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# crosslink_add_tests(DEPS ... [SERIAL name_test ...]): every *_test.cc in the current folder
# becomes one GoogleTest executable (so one broken file never blocks another suite), registered
# test by test with CTest. Suites named in SERIAL measure wall-clock properties (emulated latency
# and rate), so CTest runs them alone rather than beside multi-process tests on two cores.
function(crosslink_add_tests)
  cmake_parse_arguments(ARG "" "" "DEPS;SERIAL" ${ARGN})
  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  foreach(test_src ${tests})
    get_filename_component(name ${test_src} NAME_WE)
    add_executable(${name} ${test_src})
    target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
    if(TARGET crosslink_tsan_absl)
      target_link_libraries(${name} PRIVATE crosslink_tsan_absl)
    endif()
    target_compile_definitions(${name} PRIVATE
      CROSSLINK_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
      CROSSLINK_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
    set(serial FALSE)
    if(name IN_LIST ARG_SERIAL)
      set(serial TRUE)
    endif()
    gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
      PROPERTIES TIMEOUT 300 RUN_SERIAL ${serial})
  endforeach()
endfunction()
