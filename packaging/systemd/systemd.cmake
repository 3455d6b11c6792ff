# The systemd units (packaging/systemd/README.md): configured with the
# installed binary's path, installed by `cmake --install`, and checked by
# `systemd-analyze verify` in the test run. Included from
# src/daemon/modules.cmake.
include(GNUInstallDirs)

# Relative to the install prefix (so `cmake --install --prefix` and packaging
# with prefix /usr put them in /usr/lib/systemd/...); an absolute path is
# taken as it is.
set(CAIRN_SYSTEMD_USER_UNIT_DIR "lib/systemd/user"
  CACHE STRING "Where the systemd user unit (cairn.service) is installed")
set(CAIRN_SYSTEMD_SYSTEM_UNIT_DIR "lib/systemd/system"
  CACHE STRING "Where the systemd system unit (cairn-system.service) is installed")

set(CAIRN_SYSTEMD_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR})
set(CAIRN_SYSTEMD_BINARY_DIR ${PROJECT_BINARY_DIR}/packaging/systemd)
set(CAIRN_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
configure_file(${CAIRN_SYSTEMD_SOURCE_DIR}/cairn.service.in
  ${CAIRN_SYSTEMD_BINARY_DIR}/cairn.service @ONLY)
configure_file(${CAIRN_SYSTEMD_SOURCE_DIR}/cairn-system.service.in
  ${CAIRN_SYSTEMD_BINARY_DIR}/cairn-system.service @ONLY)

install(FILES ${CAIRN_SYSTEMD_BINARY_DIR}/cairn.service
  DESTINATION ${CAIRN_SYSTEMD_USER_UNIT_DIR})
install(FILES ${CAIRN_SYSTEMD_BINARY_DIR}/cairn-system.service
  DESTINATION ${CAIRN_SYSTEMD_SYSTEM_UNIT_DIR})
install(FILES
    ${CAIRN_SYSTEMD_SOURCE_DIR}/README.md
    ${CAIRN_SYSTEMD_SOURCE_DIR}/cairn-user-sandbox.conf
    ${CAIRN_SYSTEMD_SOURCE_DIR}/cairn.env.example
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/systemd)

if(CAIRN_BUILD_TESTS)
  # The units as they would be installed, but starting the cairn just built
  # (verify checks that ExecStart names an executable).
  find_program(CAIRN_SYSTEMD_ANALYZE systemd-analyze)
  if(CAIRN_SYSTEMD_ANALYZE)
    add_test(NAME systemd_units_verify
      COMMAND sh ${CAIRN_SYSTEMD_SOURCE_DIR}/verify_units.sh ${CAIRN_SYSTEMD_ANALYZE}
        ${CAIRN_SYSTEMD_SOURCE_DIR} $<TARGET_FILE_DIR:cairn>)
  else()
    add_test(NAME systemd_units_verify
      COMMAND sh -c "echo 'systemd-analyze not found: install the systemd package (scripts/lib.sh does) to check the units'; exit 77")
  endif()
  set_tests_properties(systemd_units_verify PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
  # `cmake --install` into a scratch prefix: the binary and the units where
  # they belong.
  add_test(NAME install_layout
    COMMAND sh ${CAIRN_SYSTEMD_SOURCE_DIR}/check_install.sh ${CMAKE_COMMAND} ${PROJECT_BINARY_DIR})
  set_tests_properties(install_layout PROPERTIES TIMEOUT 120)
endif()
