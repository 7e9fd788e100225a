-- backprop-scm-1.rockspec: the Lua module alone, for LuaRocks and a stock
-- Lua 5.4, built from this checkout by the project's own CMake:
--
--   luarocks --lua-version 5.4 make                      (as root: system-wide)
--   luarocks --lua-version 5.4 make --tree ~/.luarocks   (or --local)
--   eval "$(luarocks --lua-version 5.4 path)"; lua5.4 -e 'bp = require "backprop"'
--
-- BP_LUAROCKS_LIBDIR makes the build make the module alone and install it
-- into the rock's lib/ folder (cmake/install.cmake), from where LuaRocks puts
-- it into the tree. CMake finds Lua 5.4, SQLite, OpenBLAS and zlib with
-- pkg-config (Debian: liblua5.4-dev libsqlite3-dev libopenblas-dev
-- zlib1g-dev; setup.sh installs them), and needs PLplot's and libedit's too
-- to configure, though the module uses neither.
rockspec_format = "3.0"
package = "backprop"
version = "scm-1"
source = {
  -- `luarocks make` builds the checkout it is run in and fetches nothing;
  -- the project has no public repository to name here yet.
  url = "git+file://.",
}
description = {
  summary = "A C backpropagation engine driven from Lua 5.4, with a run log in SQLite",
  detailed = [[
The backprop module: networks of dense layers, losses, optimisers, data
sets, training loops in C, network files and checkpoints, and the run log's
functions (which record nothing outside `backprop run`).]],
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    BP_LUAROCKS_LIBDIR = "$(LIBDIR)",
  },
}
