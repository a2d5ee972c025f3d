#!/usr/bin/env bash
# Every subcommand listed by `pacewatch --help` answers --help (and -h) with
# its own usage on stdout and exit status 0, touching nothing; an unknown
# option exits 2 naming the option, followed by that subcommand's usage.
set -uo pipefail
PW=$1
WORK=$2
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
cmds=$("$PW" --help | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' | grep -v '^help$')
[ "$(echo "$cmds" | wc -l)" -ge 12 ] || fail "--help lists too few commands: $cmds"
for c in $cmds; do
  for h in --help -h; do
    "$PW" "$c" "$h" >out.txt 2>err.txt; rc=$?
    [ "$rc" = 0 ] || fail "$c $h: exit $rc, stderr: $(cat err.txt)"
    head -1 out.txt | grep -q "^usage: pacewatch $c\b" || fail "$c $h: stdout does not start with its usage: $(head -1 out.txt)"
    [ ! -s err.txt ] || fail "$c $h: wrote to stderr: $(cat err.txt)"
  done
  # --help after other arguments still wins and nothing runs
  "$PW" "$c" --storage st --help >out.txt 2>err.txt; rc=$?
  [ "$rc" = 0 ] && [ ! -e st ] || fail "$c --storage st --help: exit $rc or touched st"
  "$PW" "$c" --no-such-option >out.txt 2>err.txt; rc=$?
  [ "$rc" = 2 ] || fail "$c --no-such-option: exit $rc (want 2)"
  grep -q "^pacewatch $c: unrecognized option '--no-such-option'" err.txt ||
    [ "$c" = version ] || [ "$c" = man ] || [ "$c" = config-keys ] ||
    fail "$c --no-such-option: the option is not named: $(head -1 err.txt)"
  grep -q "^usage: pacewatch $c\b" err.txt || fail "$c --no-such-option: no usage of $c on stderr: $(cat err.txt)"
  [ ! -s out.txt ] || fail "$c --no-such-option: wrote to stdout"
done
# check-config --help must not read a file called --help
"$PW" check-config --help >out.txt 2>err.txt
grep -q 'No such file' out.txt err.txt && fail "check-config --help read a file"
# `help COMMAND` is the same text as `COMMAND --help`
cmp -s <("$PW" help import) <("$PW" import --help) || fail "help import differs from import --help"
# stray arguments are usage errors, not ignored
"$PW" run stray.json >/dev/null 2>err.txt; rc=$?
[ "$rc" = 2 ] && grep -q 'unexpected argument "stray.json"' err.txt || fail "run stray.json: exit $rc: $(cat err.txt)"
"$PW" check-config a.json b.json >/dev/null 2>err.txt; rc=$?
[ "$rc" = 2 ] || fail "check-config with two files: exit $rc"
if [ $failures -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
