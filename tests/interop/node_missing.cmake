# Stand-in for every node step when CMake found no node/npm: fails loudly, or reports a skip
# (matched by the tests' SKIP_REGULAR_EXPRESSION) when MDU_SKIP_INTEROP=1.
if("$ENV{MDU_SKIP_INTEROP}" STREQUAL "1")
  message("MDU_SKIP_INTEROP=1: skipping")
else()
  message(FATAL_ERROR "node and npm are required for the tuf-js interop tests: install them "
                      "(scripts/install-deps.sh) and re-run cmake, or set MDU_SKIP_INTEROP=1")
endif()
