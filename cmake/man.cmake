# man.cmake: the manual pages, built and installed with the command
# (included by cmake/install.cmake).
#  - backprop(1): man/backprop.1, mdoc written by hand; tests/lua/test_man.lua
#    checks that it has every command and option of the usage text.
#  - backprop-lua(3): made from README.md's sections on the Lua API, the run
#    log and sweeps by man/readme2man.lua, run by the program just built (so
#    that no other Lua is needed to build).
# Both are installed gzipped, as Debian's policy has it (man reads either).
set(BP_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(BP_MAN_SECTIONS "The Lua API" "The run log" "Sweeps")
add_custom_command(OUTPUT ${BP_MAN_DIR}/backprop-lua.3
  COMMAND ${CMAKE_COMMAND} -E make_directory ${BP_MAN_DIR}
  COMMAND $<TARGET_FILE:backprop> lua ${CMAKE_SOURCE_DIR}/man/readme2man.lua
          ${CMAKE_SOURCE_DIR}/README.md ${BP_MAN_DIR}/backprop-lua.3 ${PROJECT_VERSION}
          ${BP_MAN_SECTIONS}
  DEPENDS ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/man/readme2man.lua backprop
  COMMENT "Making backprop-lua(3) from README.md"
  VERBATIM)
set(BP_MAN_GZ)
foreach(page ${CMAKE_SOURCE_DIR}/man/backprop.1 ${BP_MAN_DIR}/backprop-lua.3)
  get_filename_component(name ${page} NAME)
  add_custom_command(OUTPUT ${BP_MAN_DIR}/${name}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${BP_MAN_DIR}
    COMMAND sh -c "gzip -9nc \"$0\" > \"$1\"" ${page} ${BP_MAN_DIR}/${name}.gz
    DEPENDS ${page}
    VERBATIM)
  list(APPEND BP_MAN_GZ ${BP_MAN_DIR}/${name}.gz)
endforeach()
add_custom_target(man ALL DEPENDS ${BP_MAN_GZ})
install(FILES ${BP_MAN_DIR}/backprop.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${BP_MAN_DIR}/backprop-lua.3.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
