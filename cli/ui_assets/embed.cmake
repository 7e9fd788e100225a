# embed.cmake: writes the dashboard's files (`backprop ui`) into a C header,
# at build time, so that the program serves them with nothing from the
# network or the file system.
#
#   cmake -DOUT=build/cli/ui_assets.h -DFILES="url=type=path|..." -P embed.cmake
#
# Each entry of FILES (separated by `|`) is the URL path the file is served
# at, its media type (text is served as UTF-8) and the file (`=` separates
# them; a path holds none). README.md comes along for its documented
# queries, which the SQL page offers. The header
# defines ui_assets[] and UI_N_ASSETS, each asset's bytes NUL-terminated
# (the length leaves the NUL out). Chart.js comes from Debian's
# libjs-chart.js (/usr/share/javascript/chart.js), read here at build time.
include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/as_bytes.cmake)

set(text "/* ui_assets.h: the dashboard's files as C, written by cli/ui_assets/embed.cmake\n")
string(APPEND text " * at build time. Do not edit: edit cli/ui_assets/. */\n")
set(k 0)
set(table "")
string(REPLACE "|" ";" FILES "${FILES}")
foreach(entry ${FILES})
  string(REPLACE "=" ";" parts "${entry}")
  list(GET parts 0 url)
  list(GET parts 1 type)
  list(GET parts 2 file)
  if(type MATCHES "^text/")
    set(type "${type}; charset=utf-8")
  endif()
  if(NOT EXISTS ${file})
    message(FATAL_ERROR "${file}: missing (the dashboard's assets; libjs-chart.js installed?)")
  endif()
  file(SIZE ${file} size)
  as_bytes(bytes ${file})
  string(APPEND text "/* ${file} */\nstatic const unsigned char ui_asset_${k}[] = ${bytes};\n\n")
  string(APPEND table "\n    {\"${url}\", \"${type}\", ui_asset_${k}, ${size}},")
  math(EXPR k "${k} + 1")
endforeach()
string(APPEND text "#define UI_N_ASSETS ${k}\n")
string(APPEND text "static const ui_asset ui_assets[UI_N_ASSETS] = {${table}\n};\n")
file(WRITE ${OUT} "${text}")
