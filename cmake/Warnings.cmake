# Warning flags in one place (as curl keeps CMake/PickyWarnings.cmake).
# -Wall -Wextra must stay clean; the extra ones catch real bugs cheaply.
function(pw_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wpointer-arith
    $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes -Wmissing-prototypes>
    -Wformat=2 -Wno-format-nonliteral -Wundef -Wvla -Wno-unused-parameter)
endfunction()
