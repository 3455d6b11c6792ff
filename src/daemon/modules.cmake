# cairn_daemon_modules: the standalone parts of `cairn run` (docs/design.md,
# "Operating the daemon"): the log (spdlog, with secrets masked), alerts (a
# command, a webhook through libcurl), the systemd notification protocol
# (libsystemd) and the status socket. They take plain options, not the
# settings, and know nothing of the engine: the daemon wires them.
#
# Meant to be included from src/daemon/CMakeLists.txt (or the top level);
# paths are relative to this file, so either works. It also installs and
# checks the systemd units (packaging/systemd/systemd.cmake).
find_package(spdlog REQUIRED)
find_package(CURL REQUIRED)
pkg_check_modules(LIBSYSTEMD REQUIRED IMPORTED_TARGET libsystemd)

set(CAIRN_DAEMON_MODULES_DIR ${CMAKE_CURRENT_LIST_DIR})
add_library(cairn_daemon_modules
  ${CAIRN_DAEMON_MODULES_DIR}/alerts.cc
  ${CAIRN_DAEMON_MODULES_DIR}/log.cc
  ${CAIRN_DAEMON_MODULES_DIR}/notify.cc
  ${CAIRN_DAEMON_MODULES_DIR}/state_dir.cc
  ${CAIRN_DAEMON_MODULES_DIR}/status_socket.cc
)
target_link_libraries(cairn_daemon_modules
  PUBLIC cairn_base spdlog::spdlog nlohmann_json::nlohmann_json
  PRIVATE CURL::libcurl PkgConfig::LIBSYSTEMD)

if(CAIRN_BUILD_TESTS)
  # cpp-httplib (Debian's libcpp-httplib-dev) is the alert tests' webhook
  # listener.
  pkg_check_modules(CPP_HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
  cairn_test(daemon_modules_test
    SOURCES
      ${CAIRN_DAEMON_MODULES_DIR}/alerts_test.cc
      ${CAIRN_DAEMON_MODULES_DIR}/log_test.cc
      ${CAIRN_DAEMON_MODULES_DIR}/notify_test.cc
      ${CAIRN_DAEMON_MODULES_DIR}/status_socket_test.cc
    LIBS cairn_daemon_modules cairn_testing PkgConfig::CPP_HTTPLIB)
endif()
# Defined at the end of the top-level CMakeLists.txt: registered only when
# this file is included after it.
if(COMMAND cairn_thread_safety_test)
  cairn_thread_safety_test(cairn_daemon_modules src/daemon/log.cc)
endif()

include(${PROJECT_SOURCE_DIR}/packaging/systemd/systemd.cmake)
