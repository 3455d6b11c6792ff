# The installed layout beyond the binary, man page and completions
# (cmd/cairn/CMakeLists.txt) and the systemd units (packaging/systemd/), and
# the Debian package CPack makes of it: `scripts/package deb` configures a
# Release build with CMAKE_INSTALL_PREFIX=/usr and runs cpack, giving
# dist/cairn_<version>_<arch>.deb. packaging/README.md says where each file
# goes and why.
include(GNUInstallDirs)

# The example settings and the docs: /usr/share/doc/cairn/. The example is no
# conffile in /etc: each user's settings are ~/.config/cairn/settings.yaml
# (`cairn setup` writes them), and the system unit's /etc/cairn/settings.yaml
# is the administrator's to write.
install(FILES ${PROJECT_SOURCE_DIR}/config/settings.example.yaml
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples RENAME settings.yaml)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/cli.md
    ${PROJECT_SOURCE_DIR}/docs/api.md ${PROJECT_SOURCE_DIR}/docs/design.md
    ${PROJECT_SOURCE_DIR}/packaging/debian/copyright
  DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cairn)
set(CPACK_PACKAGE_VERSION ${CAIRN_VERSION})
set(CPACK_PACKAGE_CONTACT "cairn maintainers <maintainers@users.noreply.r-seed-5196c5f0.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "encrypted, deduplicated, versioned backups of your files")
# The paths in the package are those the build was configured for (the
# units' ExecStart names ${CMAKE_INSTALL_FULL_BINDIR}/cairn).
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # cairn_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: from dpkg-shlibdeps, for the shared libraries the binary links.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "systemd")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "encrypted, deduplicated, versioned backups of your files
cairn keeps every version of every file, compressed, deduplicated and
encrypted, in a repository on a local disk or in Azure Blob Storage, and
restores any of them in seconds. `cairn run` protects folders continuously
(a systemd user service) and serves a dashboard; `cairn setup` sets it up.")
# Maintainer scripts: restart running services on upgrade, stop them on
# removal; never touch settings, secrets or repositories.
set(CAIRN_BINARY ${CMAKE_INSTALL_FULL_BINDIR}/cairn)
foreach(script postinst prerm postrm)
  configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/${script}.in
    ${PROJECT_BINARY_DIR}/packaging/debian/${script} @ONLY)
  list(APPEND CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/packaging/debian/${script})
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX ${PROJECT_BINARY_DIR}/packages)
include(CPack)

# The package on this machine with the real dpkg (tests/package/deb_test.sh):
# built in a folder beside this build (so ccache reuses its objects),
# installed, used, upgraded under a running `cairn run`, removed. Label
# `package`; skipped when not root or without dpkg.
if(CAIRN_BUILD_TESTS)
  add_test(NAME deb_package
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/package/deb_test.sh ${PROJECT_SOURCE_DIR}
      ${CMAKE_BUILD_TYPE} ${PROJECT_BINARY_DIR}-package-test)
  set_tests_properties(deb_package PROPERTIES LABELS package SKIP_RETURN_CODE 77 TIMEOUT 1200)
endif()
