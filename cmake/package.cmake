# package.cmake: the Debian package, made by CPack's DEB generator from the
# install rules of cmake/install.cmake (which includes this file):
#
#   cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build-pkg -j2 --target backprop backprop_module bpsql backprop_lib man
#   (cd build-pkg && cpack -G DEB)      # build-pkg/backprop_0.1.0_amd64.deb
#   apt install ./build-pkg/backprop_*.deb
#
# The prefix /usr at configure time makes GNUInstallDirs choose the
# multiarch library folder, lib/x86_64-linux-gnu, which Debian's lua5.4 and
# the dynamic linker search. The dependencies are the runtime libraries the
# installed ELF files need, as dpkg-shlibdeps finds them (libc6, liblua5.4-0,
# libsqlite3-0, libopenblas0, zlib1g, libplplot17, libedit2), and what the
# program loads by name: PLplot's cairo driver (`backprop plot`) and
# libmicrohttpd12 (`backprop ui`): no -dev package, no compiler. What only some uses need is recommended or suggested.
# .ci/install-check builds it, installs it with apt, checks it and removes it.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME backprop)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # backprop_VERSION_ARCH.deb
set(BP_DEB_MAINTAINER "backprop maintainers <backprop@invalid>" CACHE STRING
    "The Maintainer field of the Debian package")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${BP_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "backpropagation engine in C driven from Lua 5.4, with a run log in SQLite")
# The first line of Description is the summary above; this is the rest.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "An experiment is a Lua script run by `backprop run script.lua key=value`;
every run is recorded in an SQLite database, which `backprop runs`, `show`,
`query`, `plot` and `sweep` read. Also the Lua module for a stock lua5.4,
the bpsql extension for the sqlite3 shell, the engine as a C library
(libbackprop, with headers and pkg-config file), manual pages, bash
completion, and example scripts with their data in /usr/share/backprop.")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
# Loaded by name, which shlibdeps cannot see: PLplot's cairo driver, and
# libmicrohttpd (only `backprop ui` opens it, cli/ui_mhd.c).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "plplot-driver-cairo, ${MHD_PACKAGE}")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "lua5.4, sqlite3, fonts-dejavu-core")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "dataset-fashion-mnist, parallel, pkg-config")
include(CPack)
