#!/usr/bin/env bash
# What an operator installs: `cmake --install` into a fresh prefix puts every
# file in its place and the installed binary checks the installed
# configuration; the manual pages render without warnings and cover every
# subcommand and every configuration key; the systemd unit verifies, is
# hardened (systemd-analyze security) and names the installed files; `cpack`
# makes a .deb whose control data, maintainer scripts and contents are right,
# and whose extracted binary runs `version` and `check-config` on the
# packaged configuration.
# usage: install_test.sh BUILD_DIR WORKDIR
set -uo pipefail
BUILD=$(cd "$1" && pwd)
WORK=$2
rm -rf "$WORK"; mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd); cd "$WORK"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
has() { [ -e "$1" ] || fail "missing: ${1#"$WORK"/}"; }

# 1. cmake --install into an empty prefix
P=$WORK/prefix
cmake --install "$BUILD" --prefix "$P" >install.log 2>&1 || fail "cmake --install: $(tail -3 install.log)"
for f in bin/pacewatch share/man/man1/pacewatch.1 share/man/man5/pacewatch.conf.5 \
         lib/systemd/system/pacewatch.service etc/pacewatch/pacewatch.json \
         share/doc/pacewatch/LICENSE share/doc/pacewatch/copyright share/doc/pacewatch/README.md \
         share/doc/pacewatch/operations.md share/doc/pacewatch/configuration.md \
         share/doc/pacewatch/examples/minimal.json share/doc/pacewatch/grafana/pacewatch-platforms.json; do
  has "$P/$f"
done
[ -x "$P/bin/pacewatch" ] || fail "bin/pacewatch is not executable"
"$P/bin/pacewatch" version | grep -q '^pacewatch [0-9]' || fail "installed pacewatch version"
"$P/bin/pacewatch" check-config "$P/etc/pacewatch/pacewatch.json" >out.txt 2>&1 ||
  fail "installed check-config on the installed configuration: $(cat out.txt)"
for f in "$P"/share/doc/pacewatch/examples/*.json; do
  "$P/bin/pacewatch" check-config "$f" >out.txt 2>&1 || fail "check-config $(basename "$f"): $(cat out.txt)"
done
grep -q 'MIT License' "$P/share/doc/pacewatch/LICENSE" && grep -q pacewatch "$P/share/doc/pacewatch/LICENSE" ||
  fail "LICENSE names neither the licence nor the project"
# an operator's configuration survives a second install
echo '{"targets": []}' > "$P/etc/pacewatch/pacewatch.json"
cmake --install "$BUILD" --prefix "$P" >install2.log 2>&1
grep -q '"targets": \[\]}' "$P/etc/pacewatch/pacewatch.json" || fail "a reinstall overwrote the configuration"

# 2. the manual pages: no warnings, every subcommand, every key
for m in man1/pacewatch.1 man5/pacewatch.conf.5; do
  MANWIDTH=100 man --warnings -E UTF-8 -l "$P/share/man/$m" >"$WORK/$(basename $m).txt" 2>man-warn.txt
  [ ! -s man-warn.txt ] || fail "$m renders with warnings: $(head -5 man-warn.txt)"
done
for c in $("$P/bin/pacewatch" --help | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' | grep -v '^help$'); do
  grep -Eq "pacewatch +$c( |$)" pacewatch.1.txt || fail "pacewatch(1) lacks the subcommand $c"
done
"$P/bin/pacewatch" config-keys | sed -n 's/^| `\([^`]*\)`.*/\1/p' > keys.txt
[ "$(wc -l < keys.txt)" -gt 100 ] || fail "config-keys lists too few keys"
tr -s ' \n' '\n\n' < pacewatch.conf.5.txt | sed 's/^ *//' | sort -u > conf5-words.txt
while read -r k; do
  grep -qxF -- "$k" conf5-words.txt || { fail "pacewatch.conf(5) lacks $k"; break; }
done < keys.txt

# 3. the unit: the installed paths, the promised settings, verified and hardened
U=$P/lib/systemd/system/pacewatch.service
grep -qx "ExecStart=$P/bin/pacewatch run -c $P/etc/pacewatch/pacewatch.json" "$U" || fail "ExecStart: $(grep ExecStart= "$U")"
for line in Type=notify WatchdogSec=60s User=pacewatch StateDirectory=pacewatch ProtectSystem=strict \
            'ExecReload=/bin/sh -c "kill -HUP ${MAINPID}"' NoNewPrivileges=yes; do
  grep -qxF -- "$line" "$U" || fail "the unit lacks $line"
done
if command -v systemd-analyze >/dev/null; then
  MANPATH=$P/share/man systemd-analyze verify "$U" >verify.txt 2>&1 || fail "systemd-analyze verify: $(cat verify.txt)"
  systemd-analyze security --offline=true --threshold=20 "$U" >security.txt 2>&1 ||
    fail "systemd-analyze security: exposure above 2.0: $(grep Overall security.txt)"
fi

# 4. the .deb
( cd "$BUILD" && cpack -G DEB -B "$WORK/pkg" ) >cpack.log 2>&1 || fail "cpack: $(tail -5 cpack.log)"
DEB=$(ls "$WORK"/pkg/pacewatch_*.deb 2>/dev/null | head -1)
if [ -z "$DEB" ]; then
  fail "no .deb made"
else
  dpkg-deb -f "$DEB" Package | grep -qx pacewatch || fail "Package is not pacewatch"
  for dep in adduser libcurl4 liblmdb0 libmicrohttpd12 libjansson4; do
    dpkg-deb -f "$DEB" Depends | grep -q "$dep" || fail "Depends lacks $dep: $(dpkg-deb -f "$DEB" Depends)"
  done
  mkdir ctl && dpkg-deb -e "$DEB" ctl
  for s in postinst prerm postrm; do
    [ -x "ctl/$s" ] && sh -n "ctl/$s" || fail "maintainer script $s missing or not sh"
  done
  grep -qx /etc/pacewatch/pacewatch.json ctl/conffiles || fail "the configuration is not a conffile"
  grep -q 'adduser --system' ctl/postinst && grep -q 'systemctl start pacewatch' ctl/postinst ||
    fail "postinst neither adds the user nor starts the service"
  dpkg-deb -x "$DEB" root
  for f in usr/bin/pacewatch etc/pacewatch/pacewatch.json usr/lib/systemd/system/pacewatch.service \
           usr/share/man/man1/pacewatch.1 usr/share/man/man5/pacewatch.conf.5 usr/share/doc/pacewatch/copyright; do
    has "root/$f"
  done
  grep -qx 'ExecStart=/usr/bin/pacewatch run -c /etc/pacewatch/pacewatch.json' root/usr/lib/systemd/system/pacewatch.service ||
    fail "the packaged unit does not name /usr/bin and /etc/pacewatch"
  root/usr/bin/pacewatch version | grep -q '^pacewatch [0-9]' || fail "packaged pacewatch version"
  root/usr/bin/pacewatch check-config root/etc/pacewatch/pacewatch.json >out.txt 2>&1 ||
    fail "packaged check-config on the packaged configuration: $(cat out.txt)"
  grep -q '"/var/lib/pacewatch"' root/etc/pacewatch/pacewatch.json || fail "the packaged store is not in /var/lib/pacewatch"
  [ -z "$(dpkg-deb -c "$DEB" | awk '{print $6}' | grep -v -e '^\./usr/' -e '^\./etc/pacewatch/' -e '^\./$' -e '^\./etc/$')" ] ||
    fail "the .deb holds files outside /usr and /etc/pacewatch"
fi
if [ $failures -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
