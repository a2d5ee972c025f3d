# cmake -DPW=<pacewatch> -DOUT=<dir> -P ManPages.cmake: the manual pages,
# written by the program from its own tables (daemon/cli_man.c).
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${PW} man OUTPUT_FILE ${OUT}/pacewatch.1 RESULT_VARIABLE rc1)
execute_process(COMMAND ${PW} config-keys --man OUTPUT_FILE ${OUT}/pacewatch.conf.5
                RESULT_VARIABLE rc5)
if(NOT rc1 EQUAL 0 OR NOT rc5 EQUAL 0)
  message(FATAL_ERROR "pacewatch man / config-keys --man failed (${rc1}, ${rc5})")
endif()
