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
"$PW" version | grep -q '^pacewatch [0-9]' || { echo "FAIL: version"; failures=$((failures+1)); }
if [ $failures -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
