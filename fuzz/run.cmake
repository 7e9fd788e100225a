# run.cmake: one fuzz target for a bounded time, as ctest -L fuzz runs it.
#
#   cmake -DTARGET=path/to/fuzz_X -DSEEDS=fuzz/corpus/X
#         -DREGRESSIONS=fuzz/regressions/X -DWORK=build/fuzz/X -DTIME=20
#         [-DDICT=fuzz/X.dict] -P fuzz/run.cmake
#
# The fuzzer writes what it finds into its first corpus directory, so it
# gets a fresh copy of the seeds in WORK (the sources stay as committed);
# the regressions are a second, read-only corpus: libFuzzer runs every
# input of both before it mutates anything, so a crash found before fails
# here at once. A crash's input is saved as WORK/crash-* (or leak-*,
# timeout-*, oom-*): copy it into fuzz/regressions/X with the fix.
foreach(v TARGET SEEDS REGRESSIONS WORK TIME)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run.cmake: -D${v}=... is required")
  endif()
endforeach()

file(GLOB old ${WORK}/crash-* ${WORK}/leak-* ${WORK}/timeout-* ${WORK}/oom-*)
file(REMOVE_RECURSE ${WORK}/corpus ${old})
file(MAKE_DIRECTORY ${WORK}/corpus)
file(GLOB seeds ${SEEDS}/*)
if(seeds)
  file(COPY ${seeds} DESTINATION ${WORK}/corpus)
endif()
set(dirs ${WORK}/corpus)
if(IS_DIRECTORY ${REGRESSIONS})
  list(APPEND dirs ${REGRESSIONS})
endif()
set(dict)
if(DEFINED DICT AND EXISTS ${DICT})
  set(dict -dict=${DICT})
endif()

# -timeout: one input taking 5 s is a hang; -rss_limit_mb: the inputs are
# small and so are the networks the Lua target builds, 1 GB is a leak;
# -max_len: enough for a CSV of a few dozen rows or a script of a few
# hundred calls, small enough to keep every input fast.
execute_process(
  COMMAND ${TARGET} -max_total_time=${TIME} -timeout=5 -rss_limit_mb=1024
          -max_len=4096 -print_final_stats=1
          -artifact_prefix=${WORK}/ ${dict} ${dirs}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found ${WORK}/crash-* ${WORK}/leak-* ${WORK}/timeout-* ${WORK}/oom-*)
  message(FATAL_ERROR "${TARGET} failed (exit ${rc}); its input: ${found}")
endif()
