# moesim_add_room(TARGET DIR [DEPS...]): a static library from every .cpp under DIR.
# A room with no sources yet becomes an INTERFACE library so the graph still links.
function(moesim_add_room target dir)
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${dir}/*.cpp)
  if(srcs)
    add_library(${target} STATIC ${srcs})
    target_include_directories(${target} PUBLIC ${CMAKE_SOURCE_DIR})
    target_link_libraries(${target} PUBLIC ${ARGN})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${CMAKE_SOURCE_DIR})
    target_link_libraries(${target} INTERFACE ${ARGN})
  endif()
endfunction()

# moesim_add_test_room(NAME DIR LIBS...): one gtest binary per tests/ subtree, registered with ctest.
function(moesim_add_test_room name dir)
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${dir}/*.cpp)
  if(NOT srcs)
    return()
  endif()
  add_executable(${name} ${srcs})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARGN} GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    MOESIM_TEST_DATA_DIR="${CMAKE_SOURCE_DIR}/tests/data"
    MOESIM_BINARY="$<TARGET_FILE:moesim>"
    MOESIM_PYTHON="${MOESIM_PYTHON}")
  add_dependencies(${name} moesim)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 120 PROPERTIES LABELS ${dir})
endfunction()
