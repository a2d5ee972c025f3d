#!/usr/bin/env bash
# import -> dump is byte-for-byte identity on a 100,000-sample file with
# awkward values and label values; dump filters; backup is the same data.
set -euo pipefail
PW=$1
WORK=$2
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
here=$(dirname "$0")
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }

python3 "$here/gen_roundtrip.py" 100000 in.prom
[ "$(grep -vc '^#' in.prom)" -eq 100000 ] || fail "generator wrote the wrong number of samples"
"$PW" import --storage st in.prom
"$PW" dump --storage st > out.prom
cmp in.prom out.prom || { diff in.prom out.prom | head -20; fail "dump differs from the import"; }

# importing the same file again changes nothing (same timestamps replace)
"$PW" import --storage st in.prom
"$PW" dump --storage st > out2.prom
cmp in.prom out2.prom || fail "re-import changed the data"
"$PW" stats --storage st | grep -q '^samples *100000$' || fail "stats does not count 100000 samples"

# --match and --start/--end select exactly what grep would
"$PW" dump --storage st --match 'dialysis_hospitals{city="济南"}' > m.prom
want=$(grep -c '^dialysis_hospitals{city="济南",' in.prom)
got=$(grep -vc '^#' m.prom)
[ "$want" = "$got" ] || fail "--match: want $want samples, got $got"
"$PW" dump --storage st --match '{__name__=~"hotline.*|mr_.*"}' --match 'odd_values' > m2.prom
want=$(grep -Ec '^(hotline|mr_|odd_values)' in.prom)
[ "$want" = "$(grep -vc '^#' m2.prom)" ] || fail "--match union"
start=1733000000000; end=1733100000000
"$PW" dump --storage st --start 1733000000 --end 1733100000 > r.prom
want=$(awk -v s=$start -v e=$end '!/^#/ && $NF >= s && $NF <= e' in.prom | wc -l)
[ "$want" = "$(grep -vc '^#' r.prom)" ] || fail "--start/--end: want $want"

# a hot backup holds the same data
"$PW" backup --storage st bk
"$PW" dump --storage bk > bk.prom
cmp in.prom bk.prom || fail "backup differs"

# lines without a timestamp get the import time
printf 'no_ts{a="1"} 5\n' > nots.prom
before=$(date +%s%3N)
"$PW" import --storage st nots.prom
after=$(date +%s%3N)
ts=$("$PW" dump --storage st --match no_ts | awk '{print $3}')
[ "$ts" -ge "$before" ] && [ "$ts" -le "$after" ] || fail "import time $ts not in [$before, $after]"
echo "1 passed, 0 failed"
