#!/usr/bin/env bash
# Command-line errors: a malformed file imports nothing and names
# file:line:column; the store is left as it was; foreign directories are
# refused; usage errors exit 2.
set -uo pipefail
PW=$1
WORK=$2
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
failures=0
check() { # name, expected-exit, expected-stderr-substring, command...
  local name=$1 want=$2 msg=$3; shift 3
  "$@" >out.txt 2>err.txt
  local rc=$?
  if [ "$rc" != "$want" ] || { [ -n "$msg" ] && ! grep -qF -- "$msg" err.txt; }; then
    echo "FAIL $name: exit $rc (want $want), stderr: $(cat err.txt)"
    failures=$((failures + 1))
  fi
}
printf 'good{a="1"} 1 1000\n' > good.prom
printf 'good{a="2"} 2 1000\ngood{a="3"} 3 1000\nbad{a="4" 4 1000\n' > bad.prom
printf 'x{城市="济南"} 1\n' > badname.prom
"$PW" import --storage st good.prom 2>/dev/null
"$PW" dump --storage st > before.prom
check malformed 1 'bad.prom:3:11: expected '"','"' or '"'}'"' after the label value; nothing of this file was imported' \
  "$PW" import --storage st bad.prom
check badname 1 'badname.prom:1:3: expected a label name' "$PW" import --storage st badname.prom
"$PW" dump --storage st > after.prom
cmp -s before.prom after.prom || { echo "FAIL: a failed import changed the store"; failures=$((failures+1)); }
# large files are parsed by several threads, cut at line ends: the first
# malformed line is named with its line in the whole file, and a good file
# imports exactly what it holds
awk 'BEGIN { for (i = 1; i <= 20000; i++)
  printf "big{i=\"%d\",pad=\"padpadpadpadpadpadpadpad\"} %d 1000\n", i, i }' > big.prom
awk '{ if (NR == 15000 || NR == 19990) sub(/\} /, " "); print }' big.prom > bigbad.prom
check bigbad 1 'bigbad.prom:15000:46: expected '"','"' or '"'}'"' after the label value' \
  "$PW" import --storage st bigbad.prom
"$PW" dump --storage st > after-bigbad.prom
cmp -s before.prom after-bigbad.prom || { echo "FAIL: a failed large import changed the store"; failures=$((failures+1)); }
"$PW" import --storage st big.prom 2>/dev/null
"$PW" dump --storage st --match 'big' | sort > big-dump.prom
sort big.prom | cmp -s - big-dump.prom || { echo "FAIL: a large import does not dump back as it was"; failures=$((failures+1)); }
check missing 1 'nope.prom: No such file or directory' "$PW" import --storage st nope.prom
mkdir foreign; echo hi > foreign/notes.txt
check foreign 1 'not a pacewatch store' "$PW" import --storage foreign good.prom
[ ! -e foreign/data.mdb ] || { echo "FAIL: wrote into a foreign directory"; failures=$((failures+1)); }
check nostore 2 '--storage DIR is required' "$PW" dump
check badmatch 2 '1:3: parse error' "$PW" dump --storage st --match 'x{'
check badtime 2 'invalid time' "$PW" dump --storage st --start yesterday
check unknown 2 'unknown command' "$PW" frobnicate
# regular expressions Prometheus refuses are refused where they are written:
# a rule's expression (file:line:column, Go's words) and a route's matcher
cat > re-rule.json <<'EOF'
{"storage": {"path": "st"},
 "rule_groups": [{"name": "g", "rules": [
   {"alert": "A", "expr": "up > 0"},
   {"alert": "B", "expr": "up{job=~\"(?R)\"} > 0"}]}]}
EOF
check rule-regex 1 're-rule.json:4:27: rule_groups[0].rules[1].expr: 1:4: parse error: error parsing regexp: invalid or unsupported Perl syntax: `(?R`' \
  "$PW" check-config re-rule.json
cat > re-route.json <<'EOF'
{"storage": {"path": "st"},
 "notify": {"receivers": [{"name": "w", "webhook": {"url": "http://127.0.0.1:9/"}}],
  "route": {"receiver": "w", "routes": [{"matchers": ["team=~\"a\\\\C\""]}]}}}
EOF
check route-regex 1 'error parsing regexp: invalid escape sequence: `\C`' "$PW" check-config re-route.json
check help 0 '' "$PW" --help
"$PW" --help | grep -q 'import --storage DIR' || { echo "FAIL: --help lacks import"; failures=$((failures+1)); }
for c in dump backup stats version retention; do
  "$PW" --help | grep -q "^  $c" || { echo "FAIL: --help lacks $c"; failures=$((failures+1)); }
done
# a rule nested 4,000 deep crashed check-config: now a parse error at the
# rule's file:line:column; a rule of 20,000 terms is checked as fine
deep=$(printf 'abs(%.0s' $(seq 4000))up$(printf ')%.0s' $(seq 4000))
long=vector\(1\)$(printf ' + 1%.0s' $(seq 19999))
printf '{\n "storage": {"path": "st"},\n "rule_groups": [{"name": "g", "rules": [\n  {"record": "r", "expr": "%s"}]}]}\n' "$deep" > deep.json
printf '{\n "storage": {"path": "st"},\n "rule_groups": [{"name": "g", "rules": [\n  {"record": "r", "expr": "%s"}]}]}\n' "$long" > long.json
check deep-rule 1 'deep.json:4:27: rule_groups[0].rules[0].expr: 1:1025: parse error: expression nested deeper than 256 levels' \
  "$PW" check-config deep.json
check long-rule 0 '' "$PW" check-config long.json
"$PW" version | grep -q '^pacewatch [0-9]' || { echo "FAIL: version"; failures=$((failures+1)); }
# commands that read or maintain a store never create one: a typo is an error
for c in "backup --storage typo dest" "retention --storage typo --older-than 400d" \
         "stats --storage typo" "dump --storage typo" "query --storage typo up" \
         "retention --storage typo --older-than 400d --dry-run"; do
  check "typo: $c" 1 'no pacewatch store at typo' "$PW" $c
  [ ! -e typo ] && [ ! -e dest ] || { echo "FAIL: $c created a directory"; failures=$((failures+1)); rm -rf typo dest; }
done
mkdir emptydir
check "empty dir backup" 1 'no pacewatch store at emptydir' "$PW" backup --storage emptydir dest
[ -z "$(ls -A emptydir)" ] && [ ! -e dest ] || { echo "FAIL: backup wrote into emptydir or dest"; failures=$((failures+1)); }
# retention: --dry-run says what it would drop and drops nothing; dropping
# every sample, or anything newer than a day, needs --force
now=$(date +%s)
{ for i in 0 1 2 3 4 5 6 7 8 9; do printf 'recent{i="%d"} %d %d000\n' $i $i $((now - 60 + i)); done
  for i in 0 1 2; do printf 'old{i="%d"} %d %d000\n' $i $i $((now - 3 * 86400)); done; } > live.prom
"$PW" import --storage live live.prom 2>/dev/null
"$PW" dump --storage live > live-before.prom
check "retention 0s refused" 1 'would drop every sample' "$PW" retention --storage live --older-than 0s
check "retention 1h refused" 1 'shorter than a day' "$PW" retention --storage live --older-than 1h
"$PW" dump --storage live > live-after.prom
cmp -s live-before.prom live-after.prom || { echo "FAIL: a refused retention dropped samples"; failures=$((failures+1)); }
check "retention dry run" 0 '' "$PW" retention --storage live --older-than 0s --dry-run
grep -q 'would drop 13 of 13 samples' out.txt || { echo "FAIL: dry run: $(cat out.txt)"; failures=$((failures+1)); }
"$PW" dump --storage live > live-after.prom
cmp -s live-before.prom live-after.prom || { echo "FAIL: a dry run dropped samples"; failures=$((failures+1)); }
check "retention 2d" 0 '' "$PW" retention --storage live --older-than 2d
grep -q 'dropped 3 samples' out.txt || { echo "FAIL: retention 2d: $(cat out.txt)"; failures=$((failures+1)); }
check "retention 0s forced" 0 '' "$PW" retention --storage live --older-than 0s --force
grep -q 'dropped 10 samples' out.txt || { echo "FAIL: retention --force: $(cat out.txt)"; failures=$((failures+1)); }
[ -z "$("$PW" dump --storage live)" ] || { echo "FAIL: --force left samples"; failures=$((failures+1)); }
# one writer per store: a second daemon on the same storage is refused and
# told the first one's PID; readers work beside the first
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
"$PW" import --storage shared good.prom 2>/dev/null
"$PW" run --storage shared --listen "127.0.0.1:$(free_port)" 2>first.log &
first=$!
for _ in $(seq 300); do grep -qx "$first" shared/pacewatch.lock 2>/dev/null && break; sleep 0.1; done
check "second daemon refused" 1 "holds its writer lock" \
  timeout 60 "$PW" run --storage shared --listen "127.0.0.1:$(free_port)"
grep -qF "PID $first" err.txt || { echo "FAIL: the refusal names PID $first: $(cat err.txt)"; failures=$((failures+1)); }
check "dump beside the daemon" 0 '' "$PW" dump --storage shared
grep -q '^good{a="1"} 1 1000$' out.txt || { echo "FAIL: dump beside the daemon: $(cat out.txt)"; failures=$((failures+1)); }
check "stats beside the daemon" 0 '' "$PW" stats --storage shared
kill -TERM "$first"; wait "$first" || { echo "FAIL: the first daemon's exit: $(tail -3 first.log)"; failures=$((failures+1)); }
if [ $failures -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
