# The testing_layering test: fails when product code (src/ outside
# src/testing, *_test.cc and the test helpers *_test_util.h beside them, and
# cmd/) includes a header of src/testing, the test-only helpers. Run as:
# cmake -DSOURCE_DIR=<checkout> -P check_layering.cmake
file(GLOB_RECURSE files
  ${SOURCE_DIR}/src/*.cc ${SOURCE_DIR}/src/*.h ${SOURCE_DIR}/cmd/*.cc ${SOURCE_DIR}/cmd/*.h)
set(bad "")
foreach(f IN LISTS files)
  if(f MATCHES "/src/testing/" OR f MATCHES "_test\\.cc$" OR f MATCHES "_test_util\\.h$")
    continue()
  endif()
  file(STRINGS ${f} hits REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]testing/")
  if(hits)
    string(APPEND bad "  ${f}: ${hits}\n")
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "product code includes test-only headers of src/testing:\n${bad}")
endif()
