# embed.cmake: writes the schema's SQL files into a C header, at build time.
#
#   cmake -DDIR=runlog/schema -DOUT=build/runlog/rl_schema.h -P embed.cmake
#
# The header defines RL_SCHEMA_STEPS (how many N.sql there are),
# rl_schema_steps[k] (the text of (k+1).sql, which takes a database from
# version k to k + 1) and rl_schema_views (views.sql), each NUL-terminated.
# The text goes in as bytes, not as a string literal, so that no character of
# the SQL needs escaping; comments are kept, since SQLite stores them with the
# tables.
get_filename_component(DIR "${DIR}" ABSOLUTE)
file(GLOB steps RELATIVE ${DIR} ${DIR}/[0-9]*.sql)
list(SORT steps COMPARE NATURAL)
list(LENGTH steps n)
if(n EQUAL 0)
  message(FATAL_ERROR "${DIR}: no schema steps (1.sql, 2.sql, ...)")
endif()

include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/as_bytes.cmake)

set(text "/* rl_schema.h: runlog/schema/N.sql and views.sql as C, written by runlog/schema/embed.cmake\n")
string(APPEND text " * at build time. Do not edit: edit the SQL. */\n")
string(APPEND text "#define RL_SCHEMA_STEPS ${n}\n\n")
set(k 1)
set(names "")
foreach(step ${steps})
  if(NOT step STREQUAL "${k}.sql")
    message(FATAL_ERROR "${DIR}: the steps must be 1.sql to ${n}.sql, found ${step}")
  endif()
  as_bytes(bytes ${DIR}/${step})
  string(APPEND text "/* ${step} */\nstatic const unsigned char rl_schema_${k}[] = ${bytes};\n\n")
  string(APPEND names "\n    (const char *)rl_schema_${k},")
  math(EXPR k "${k} + 1")
endforeach()
string(APPEND text "static const char *const rl_schema_steps[RL_SCHEMA_STEPS] = {${names}\n};\n\n")
as_bytes(bytes ${DIR}/views.sql)
string(APPEND text "/* views.sql */\nstatic const unsigned char rl_schema_views_bytes[] = ${bytes};\n")
string(APPEND text "static const char *const rl_schema_views = (const char *)rl_schema_views_bytes;\n")

file(WRITE ${OUT} "${text}")
