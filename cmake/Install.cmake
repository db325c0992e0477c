# make install and make package (Linux): GNUInstallDirs under CMAKE_INSTALL_PREFIX (make
# install: /usr/local unless PREFIX says otherwise; DESTDIR honoured), and a .deb through
# CPack whose dependencies dpkg-shlibdeps computes. What goes where:
#   bin/                        the six tools, and qc-lock-fleet, qc-ps-fleet and qc-launch-fleet,
#                               which qc-lock, qc-ps and qc-launch run for the fleet (docs/fleet.md)
#   share/man/man1, man5        the manual pages, built from docs/ by cmake/man.sh
#   share/bash-completion/completions/<tool>
#   share/doc/qc/               the reference (docs/) and the README
#   share/qc/                   the Windows wrappers (batch/, ps1/) and the examples
#   share/lintian/overrides/qc  what lintian says that stays (dist/debian/lintian-overrides)
#   lib/systemd/system/         qc-launch@.service, its ExecStart pointing at this bin/
include(GNUInstallDirs)

set(QC_TOOLS qc-lock qc-run qc-launch qc-shutdown qc-ps qc-heartbeat)
install(TARGETS ${QC_TOOLS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(helper qc-lock-fleet qc-ps-fleet qc-launch-fleet)
  if(TARGET ${helper})
    install(TARGETS ${helper} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

# Manual pages: go-md2man (Debian's go-md2man) turns the Markdown of docs/ into roff.
find_program(QC_GO_MD2MAN go-md2man)
if(QC_GO_MD2MAN)
  set(QC_MAN_DIR ${CMAKE_BINARY_DIR}/man)
  set(QC_MAN_PAGES)
  foreach(tool ${QC_TOOLS})
    list(APPEND QC_MAN_PAGES ${QC_MAN_DIR}/man1/${tool}.1.gz)
  endforeach()
  list(APPEND QC_MAN_PAGES ${QC_MAN_DIR}/man5/qc-lock-file.5.gz ${QC_MAN_DIR}/man5/qc-master-config.5.gz
       ${QC_MAN_DIR}/man5/qc-fleet.5.gz)
  file(GLOB QC_DOCS ${PROJECT_SOURCE_DIR}/docs/*.md)
  add_custom_command(OUTPUT ${QC_MAN_PAGES}
    COMMAND bash ${PROJECT_SOURCE_DIR}/cmake/man.sh ${PROJECT_SOURCE_DIR}/docs ${QC_MAN_DIR} ${PROJECT_VERSION}
    DEPENDS ${QC_DOCS} ${PROJECT_SOURCE_DIR}/cmake/man.sh
    COMMENT "Manual pages from docs/")
  add_custom_target(man ALL DEPENDS ${QC_MAN_PAGES})
  install(DIRECTORY ${QC_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR})
else()
  message(WARNING "go-md2man not found (Debian: go-md2man): no manual pages; make deps installs it")
endif()

foreach(tool ${QC_TOOLS})
  install(FILES ${PROJECT_SOURCE_DIR}/dist/bash-completion/qc
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME ${tool})
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/dist/debian/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
# Debian's packaging files (lintian, docs/install.md): the changelog, compressed, and what
# lintian says that stays, with the reasons.
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/changelog.gz
  COMMAND gzip -9n -c ${PROJECT_SOURCE_DIR}/dist/debian/changelog > ${CMAKE_BINARY_DIR}/changelog.gz
  DEPENDS ${PROJECT_SOURCE_DIR}/dist/debian/changelog)
add_custom_target(changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/changelog.gz)
install(FILES ${CMAKE_BINARY_DIR}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/dist/debian/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME qc)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/batch ${PROJECT_SOURCE_DIR}/ps1 DESTINATION ${CMAKE_INSTALL_DATADIR}/qc)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples DESTINATION ${CMAKE_INSTALL_DATADIR}/qc USE_SOURCE_PERMISSIONS
        PATTERN ".locks" EXCLUDE PATTERN "*_logs" EXCLUDE PATTERN "__pycache__" EXCLUDE)
# The unit names qc-launch where this installation put it (the prefix is known at install time).
install(CODE "
  file(READ \"${PROJECT_SOURCE_DIR}/dist/systemd/qc-launch@.service\" unit)
  string(REPLACE \"/usr/local/bin/qc-launch\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/qc-launch\" unit \"\${unit}\")
  file(WRITE \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/qc-launch@.service\" \"\${unit}\")
  message(STATUS \"Installing: \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/qc-launch@.service\")
")

# make package: a .deb for this machine's architecture.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME qc)
set(CPACK_PACKAGE_CONTACT "qc maintainers <qc@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "one copy of each long-running process: locks, supervision, heartbeats")
set(CPACK_PACKAGE_DESCRIPTION "qc keeps long-running trading processes honest: exactly one copy
of each (an operating-system lock per name, across hosts through etcd),
restarted when it crashes, stopped cleanly when asked, and probed over
ZeroMQ to prove it is alive. Tools: qc-lock, qc-run, qc-launch,
qc-shutdown, qc-ps, qc-heartbeat.")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
include(CPack)
