# install.cmake: where `cmake --install`, the Debian package (cmake/package.cmake)
# and LuaRocks (backprop-scm-1.rockspec) put what the build makes, each where
# its ecosystem looks for it (GNUInstallDirs). Included at the end of the top
# CMakeLists.txt, once every target exists; README.md's "Install" says how to
# use each piece once installed, and .ci/install-check checks them all from
# outside the source tree.
#
#   bin/backprop                           the command
#   LIBDIR/lua/5.4/backprop.so             the Lua module: with prefix /usr,
#                                          LIBDIR is lib/x86_64-linux-gnu, which
#                                          Debian's lua5.4 searches, as it does
#                                          /usr/local/lib/lua/5.4
#   LIBDIR/bpsql.so                        the sqlite3 shell's `.load bpsql`:
#                                          a bare name, which dlopen finds in the
#                                          system's library folder
#   LIBDIR/libbackprop.{so,a}              the engine alone, a C library, with
#   INCLUDEDIR/backprop/bp_*.h             its public headers (every engine/bp_*.h)
#   LIBDIR/pkgconfig/backprop.pc           and pkg-config's description
#   DATADIR/backprop/{scripts,data}/       the example scripts and their data
#   MANDIR/man1/backprop.1, man3/backprop-lua.3   (cmake/man.cmake)
#   DATADIR/bash-completion/completions/backprop  (the folder bash-completion
#                                          searches under each $XDG_DATA_DIRS)
include(GNUInstallDirs)

# --- libbackprop: the engine as a C library ----------------------------------
# Made of bpengine itself, not of its sources compiled again, so that whatever
# bpengine is built with (its definitions, its libraries) the installed
# library is too. The shared library takes every object of the archive and
# exports the bp_* functions only (cmake/libbackprop.map); the static one is
# bpengine's archive under its installed name.
add_library(backprop_lib SHARED ${CMAKE_SOURCE_DIR}/cmake/libbackprop.c)
set_target_properties(backprop_lib PROPERTIES OUTPUT_NAME backprop
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
  LINK_DEPENDS ${CMAKE_SOURCE_DIR}/cmake/libbackprop.map)
target_link_options(backprop_lib PRIVATE
  -Wl,--version-script=${CMAKE_SOURCE_DIR}/cmake/libbackprop.map -Wl,--no-undefined)
target_link_libraries(backprop_lib PRIVATE -Wl,--whole-archive bpengine -Wl,--no-whole-archive)

file(GLOB BP_PUBLIC_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/engine/bp_*.h)

# backprop.pc is written when installing, not when configuring, so that it
# names the prefix actually installed into (`cmake --install --prefix P`,
# CPack's /usr). Libs.private lists what a static link needs besides the
# archive: bpengine's own libraries, so a library bpengine comes to link
# joins this list too (the shared libbackprop takes it by itself).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(BP_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(BP_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(BP_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(BP_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
set(BP_PC_LIBS_PRIVATE "${OPENBLAS_LDFLAGS} -lz -lpthread -lm")
if(BP_DNNL_LIBS) # float32 products on oneDNN (engine/gemm.c), on GNU OpenMP
  set(BP_PC_LIBS_PRIVATE "-ldnnl -lgomp ${BP_PC_LIBS_PRIVATE}")
endif()
string(REPLACE ";" " " BP_PC_LIBS_PRIVATE "${BP_PC_LIBS_PRIVATE}")
set(BP_PC_PREFIX "@prefix@") # filled in when installing
configure_file(${CMAKE_SOURCE_DIR}/cmake/backprop.pc.in
               ${CMAKE_BINARY_DIR}/backprop.pc.in @ONLY)

# --- LuaRocks: the module alone ----------------------------------------------
# backprop-scm-1.rockspec configures with BP_LUAROCKS_LIBDIR set to the
# rock's lib/ folder: then `make` builds the module alone (with the rooms it
# needs) and `install` copies it there, and LuaRocks puts it into the tree.
set(BP_LUAROCKS_LIBDIR "" CACHE PATH
    "Build and install the Lua module alone, into this folder (for LuaRocks)")
# Every target of dir and the folders below it but the module leaves `all`.
function(bp_all_but_module dir)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t ${targets})
    if(NOT t STREQUAL "backprop_module")
      set_target_properties(${t} PROPERTIES EXCLUDE_FROM_ALL TRUE)
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    bp_all_but_module(${sub})
  endforeach()
endfunction()
if(BP_LUAROCKS_LIBDIR)
  bp_all_but_module(${CMAKE_SOURCE_DIR})
  install(TARGETS backprop_module LIBRARY DESTINATION ${BP_LUAROCKS_LIBDIR})
  return()
endif()

# --- what is installed -------------------------------------------------------
set(BP_LUA_CMOD_DIR ${CMAKE_INSTALL_LIBDIR}/lua/5.4 CACHE STRING
    "Where the Lua module is installed, under the prefix")
install(TARGETS backprop RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS backprop_module LIBRARY DESTINATION ${BP_LUA_CMOD_DIR})
install(TARGETS bpsql LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS backprop_lib LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES $<TARGET_FILE:bpengine> DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RENAME libbackprop.a)
install(FILES ${BP_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/backprop)
install(CODE "set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${CMAKE_BINARY_DIR}/backprop.pc.in\" \"${CMAKE_BINARY_DIR}/backprop.pc\" @ONLY)")
install(FILES ${CMAKE_BINARY_DIR}/backprop.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The examples keep the tree's layout, scripts/ beside data/, so that a
# script finds its data as it does in the source tree (iris.lua looks in
# ../data/ of its own folder).
file(GLOB BP_EXAMPLE_SCRIPTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/scripts/*.lua)
file(GLOB BP_EXAMPLE_DATA CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/data/*)
install(FILES ${BP_EXAMPLE_SCRIPTS} DESTINATION ${CMAKE_INSTALL_DATADIR}/backprop/scripts)
install(FILES ${BP_EXAMPLE_DATA} DESTINATION ${CMAKE_INSTALL_DATADIR}/backprop/data)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

include(${CMAKE_SOURCE_DIR}/cmake/man.cmake)

# Bash completion, where bash-completion looks for it: under
# $XDG_DATA_DIRS (by default /usr/local/share and /usr/share).
install(FILES ${CMAKE_SOURCE_DIR}/completion/backprop.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME backprop)

include(${CMAKE_SOURCE_DIR}/cmake/package.cmake)
