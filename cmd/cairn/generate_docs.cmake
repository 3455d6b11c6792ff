# Writes the man page and the shell completions that the cairn at CAIRN
# generates from its own command line into the folder OUT (run by the build:
# cmd/cairn/CMakeLists.txt). The man page is also gzipped as Debian installs
# it (gzip -9n: no name or time stamp, so the same bytes every build).
file(MAKE_DIRECTORY ${OUT})
foreach(job "man;cairn.1" "completion;bash;cairn.bash" "completion;zsh;_cairn"
            "completion;fish;cairn.fish")
  list(POP_BACK job file)
  execute_process(COMMAND ${CAIRN} ${job} OUTPUT_FILE ${OUT}/${file}.tmp RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "`cairn ${job}` failed (${rc})")
  endif()
  file(RENAME ${OUT}/${file}.tmp ${OUT}/${file})
endforeach()
execute_process(COMMAND gzip -9n -c ${OUT}/cairn.1 OUTPUT_FILE ${OUT}/cairn.1.gz RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip of the man page failed (${rc})")
endif()
