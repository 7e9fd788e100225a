# as_bytes.cmake: as_bytes(VAR FILE), a file's bytes as a C initializer,
# NUL-terminated, sixteen bytes a line: for the scripts that embed files in
# the program at build time (runlog/schema/embed.cmake, the run log's SQL;
# cli/ui_assets/embed.cmake, the dashboard's page). Bytes, not a string
# literal, so that nothing in the file needs escaping.
function(as_bytes var file)
  file(READ ${file} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REPEAT "0x..," 16 line)
  string(REGEX REPLACE "(${line})" "\\1\n    " hex "${hex}")
  set(${var} "{\n    ${hex}0x00}" PARENT_SCOPE)
endfunction()
