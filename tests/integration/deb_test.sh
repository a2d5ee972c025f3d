#!/usr/bin/env bash
# The .deb on a fresh Debian 12: a minimal bookworm root made by debootstrap
# (with systemd, as a server has it) is booted with systemd-nspawn; the
# package is installed there with `apt-get install ./pacewatch_*.deb`, so its
# Depends: are resolved from Debian's archive; its postinst must create the
# system user and enable and start the service. Then, inside: `pacewatch
# version`, `check-config` on the installed configuration, the user, the
# directories and their permissions, `systemd-analyze verify` of the unit,
# the service running as its user and answering /-/ready on 127.0.0.1 (the
# container's own loopback), `systemctl reload` (SIGHUP, logged; with a
# broken configuration refused, said in `systemctl status`, the old one
# running on), an upgrade (the package again: the operator's configuration kept, the
# service restarted), `systemctl stop` (SIGTERM, a clean exit), then
# `apt-get remove` (the service stopped, the configuration and the store
# kept) and `apt-get
# purge` (the configuration gone; the store and the user kept, as
# docs/operations.md says).
#
# Where a container cannot boot, the same checks run in a chroot of the
# root, the daemon started as the unit starts it (its ExecStart, as its
# User=, in its StateDirectory) in a network namespace of its own, SIGHUP
# and SIGTERM sent by hand; the log says which mode ran.
#
# Needs root and Debian's archive (the mirror of /etc/apt/sources.list*, or
# PW_DEBIAN_MIRROR); not root: skipped (exit 77). The root made by
# debootstrap is kept as a tarball in PW_DEB_CACHE
# (/var/cache/pacewatch-ci by default, outside the repository) for a week;
# without it the test makes it (about two minutes). Everything else lives
# under WORKDIR, which is removed at the end, the container stopped and the
# chroot's mounts undone however the test ends.
#
# The package is built from SOURCE_DIR in BUILD_DIR as a release is
# (CMAKE_BUILD_TYPE=Release, no tests; `cpack -G DEB`): a sanitizer build's
# binary cannot run under the unit's hardening (LeakSanitizer needs ptrace).
# BUILD_DIR is kept between runs; the root is made while it builds.
# PW_DEB_MODE=chroot forces the fallback.
#
# usage: deb_test.sh SOURCE_DIR BUILD_DIR WORKDIR
#        deb_test.sh --deb FILE WORKDIR
set -uo pipefail
if [ "${1:-}" = --deb ]; then
  [ -f "${2:-}" ] || { echo "FAIL: no package file '${2:-}'"; exit 1; }
  DEB_IN=$(realpath "$2"); SRC=""; BUILD=""; WORK=$3
else
  DEB_IN=""; SRC=$(cd "$1" && pwd); BUILD=$2; WORK=$3
fi
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0))s] $*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP deb_test: needs root (debootstrap, systemd-nspawn, chroot)"
  exit 77
fi
for tool in debootstrap systemd-nspawn nsenter curl; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/deps test installs it)"; exit 1; }
done

rm -rf "$WORK"; mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
ROOT=$WORK/root
NSPAWN_PID=""
DBS_PID=""
MOUNTS=()
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

cleanup() {
  if [ -n "${DBS_PID:-}" ] && kill -0 "$DBS_PID" 2>/dev/null; then
    kill -TERM -- "-$DBS_PID" 2>/dev/null; wait "$DBS_PID" 2>/dev/null
  fi
  if [ -n "${BUILD_PID:-}" ] && kill -0 "$BUILD_PID" 2>/dev/null; then
    kill -TERM -- "-$BUILD_PID" 2>/dev/null; wait "$BUILD_PID" 2>/dev/null
  fi
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    kill -TERM "$NSPAWN_PID" 2>/dev/null # the container halts
    for _ in $(seq 60); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$NSPAWN_PID" 2>/dev/null
    wait "$NSPAWN_PID" 2>/dev/null
  fi
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -l "${MOUNTS[i]}" 2>/dev/null
  done
  # and what a stopped debootstrap left mounted in the root (deepest first)
  grep -o " $ROOT/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  # nothing may still be mounted below the root before it is removed
  if ! grep -q " $ROOT/" /proc/self/mounts; then
    rm -rf "$WORK"
  else
    echo "deb_test: mounts left under $ROOT, not removed:"; grep " $ROOT/" /proc/self/mounts
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. the package, built in the background while the root is made
build_deb() {
  mkdir -p "$BUILD" && BUILD=$(cd "$BUILD" && pwd)
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPW_TESTS=OFF -DPW_SANITIZE=OFF \
    -DPW_TSAN=OFF >"$WORK/cmake.log" 2>&1 || { echo "cmake: $(tail -5 "$WORK/cmake.log")"; return 1; }
  nice -n 5 cmake --build "$BUILD" -j"$(nproc)" >"$WORK/build.log" 2>&1 ||
    { echo "build: $(grep -m5 -i error "$WORK/build.log")"; return 1; }
  (cd "$BUILD" && cpack -G DEB -B "$WORK/pkg") >"$WORK/cpack.log" 2>&1 ||
    { echo "cpack: $(tail -5 "$WORK/cpack.log")"; return 1; }
}
BUILD_PID=""
if [ -z "$DEB_IN" ]; then
  export -f build_deb
  export SRC BUILD WORK
  # a process group of its own, so that an early end stops all of it
  setsid bash -c build_deb >"$WORK/build-deb.txt" 2>&1 &
  BUILD_PID=$!
fi
# 2. a fresh bookworm root (minbase, plus systemd as on a server)
mirror=${PW_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
           grep -oE '(deb |URIs: )https?://[^ ]*/debian/?( |$)' | grep -oE 'https?://[^ ]*' | head -1)
fi
mirror=${mirror:-http://deb.debian.org/debian}
CACHE=${PW_DEB_CACHE:-/var/cache/pacewatch-ci}
TARBALL=$CACHE/bookworm-minbase-systemd.tar
mkdir -p "$ROOT"
if [ -s "$TARBALL" ] && [ -n "$(find "$TARBALL" -mtime -7)" ] && tar -C "$ROOT" -xf "$TARBALL" 2>"$WORK/tar.log"; then
  say "root from the cache $TARBALL"
else
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  say "debootstrap --variant=minbase bookworm from $mirror"
  # in the background and waited for, so that a TERM stops the test at once
  setsid debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$ROOT" "$mirror" \
    >"$WORK/debootstrap.log" 2>&1 &
  DBS_PID=$!
  wait "$DBS_PID"; rc=$?; DBS_PID=""
  [ $rc -eq 0 ] || { echo "FAIL debootstrap: $(tail -5 "$WORK/debootstrap.log")"; exit 1; }
  if mkdir -p "$CACHE" 2>/dev/null; then
    tar -C "$ROOT" -cf "$TARBALL.$$" . && mv "$TARBALL.$$" "$TARBALL" || rm -f "$TARBALL.$$"
  fi
  say "root made"
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
echo pacewatch-deb-test >"$ROOT/etc/hostname"
if [ -z "$DEB_IN" ]; then
  wait "$BUILD_PID"; rc=$?; BUILD_PID=""
  [ $rc -eq 0 ] || { echo "FAIL building the package: $(cat "$WORK/build-deb.txt")"; exit 1; }
  DEB=$(ls "$WORK"/pkg/pacewatch_*.deb 2>/dev/null | head -1)
else
  DEB=$DEB_IN
fi
[ -f "${DEB:-}" ] || { echo "FAIL no .deb"; exit 1; }
say "package $(basename "$DEB"): Depends: $(dpkg-deb -f "$DEB" Depends)"
cp "$DEB" "$ROOT/root/"
PKG=/root/$(basename "$DEB")

# 3. boot it, or fall back to a chroot
MODE=chroot
INIT=""
if [ "${PW_DEB_MODE:-}" != chroot ]; then
  systemd-nspawn -D "$ROOT" --boot --private-network --register=no --keep-unit --console=pipe \
    -M "pwdeb$$" >"$WORK/nspawn.log" 2>&1 &
  NSPAWN_PID=$!
fi
for _ in $(seq 120); do
  [ "${PW_DEB_MODE:-}" = chroot ] && break
  kill -0 "$NSPAWN_PID" 2>/dev/null || break
  INIT=$(pgrep -P "$NSPAWN_PID" | head -1)
  if [ -n "$INIT" ]; then
    st=$(nsenter -t "$INIT" -a systemctl is-system-running 2>/dev/null)
    case "$st" in running|degraded) MODE=nspawn; break ;; esac
  fi
  sleep 0.5
done
if [ "$MODE" = nspawn ]; then
  say "booted with systemd-nspawn (init pid $INIT, system $st)"
  # inside, on the host's network (apt reaches the archive)
  ct() { nsenter -t "$INIT" -m -u -i -p -r -w -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
           DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }
  # inside, on the container's own network (its loopback)
  ctnet() { nsenter -t "$INIT" -n -- "$@"; }
else
  say "systemd-nspawn cannot boot the root here ($(tail -2 "$WORK/nspawn.log" 2>/dev/null | tr "\n" " ")${PW_DEB_MODE:+PW_DEB_MODE=$PW_DEB_MODE}): chroot"
  if [ -n "$NSPAWN_PID" ]; then
    kill -TERM "$NSPAWN_PID" 2>/dev/null; wait "$NSPAWN_PID" 2>/dev/null; NSPAWN_PID=""
  fi
  for m in proc dev dev/pts sys; do
    mount --bind "/$m" "$ROOT/$m" && MOUNTS+=("$ROOT/$m") || fail "mount --bind /$m"
  done
  ct() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
           LANG=C.UTF-8 "$@"; }
fi

# 4. install: the Depends come from the archive
ct apt-get update -qq >"$WORK/apt-update.log" 2>&1 || fail "apt-get update: $(tail -3 "$WORK/apt-update.log")"
if ! ct apt-get install -y --no-install-recommends "$PKG" >"$WORK/apt-install.log" 2>&1; then
  fail "apt-get install ./$(basename "$DEB"): $(tail -8 "$WORK/apt-install.log")"
  echo "0 passed, 1 failed ($MODE)"; exit 1
fi
say "installed: $(grep -c '^Setting up' "$WORK/apt-install.log") packages set up"
ct dpkg-query -W -f='${Status}' pacewatch | grep -qx 'install ok installed' || fail "pacewatch is not installed"

# 5. what the package put in place
ct pacewatch version | grep -q '^pacewatch [0-9]' || fail "pacewatch version: $(ct pacewatch version 2>&1)"
out=$(ct pacewatch check-config /etc/pacewatch/pacewatch.json 2>&1) ||
  fail "check-config on the installed configuration: $out"
for f in /usr/share/doc/pacewatch/examples/*.json; do
  [ -e "$ROOT$f" ] || continue
  out=$(ct pacewatch check-config "$f" 2>&1) || fail "check-config $f: $out"
done
ct man -w pacewatch >/dev/null 2>&1 || [ -e "$ROOT/usr/share/man/man1/pacewatch.1.gz" ] ||
  [ -e "$ROOT/usr/share/man/man1/pacewatch.1" ] || fail "no pacewatch(1)"
pw=$(ct getent passwd pacewatch)
IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
[ -n "$pw" ] || fail "postinst made no user pacewatch"
[ -n "$pw" ] && { [ "$uid" -lt 1000 ] || fail "pacewatch is not a system user (uid $uid)"; }
[ "${home:-}" = /var/lib/pacewatch ] || fail "pacewatch's home is '${home:-}', not /var/lib/pacewatch"
case "${shell:-}" in */nologin|/bin/false) ;; *) fail "pacewatch can log in (shell '${shell:-}')" ;; esac
[ "$(ct getent group pacewatch | cut -d: -f3)" = "${gid:-x}" ] || fail "no group pacewatch as the user's group"
perm() { ct stat -c '%U:%G %a' "$1" 2>/dev/null; }
[ "$(perm /etc/pacewatch/pacewatch.json)" = "root:root 644" ] ||
  fail "/etc/pacewatch/pacewatch.json is $(perm /etc/pacewatch/pacewatch.json), not root:root 644"
[ "$(perm /usr/bin/pacewatch)" = "root:root 755" ] || fail "/usr/bin/pacewatch is $(perm /usr/bin/pacewatch)"
ct grep -qx /etc/pacewatch/pacewatch.json /var/lib/dpkg/info/pacewatch.conffiles ||
  fail "the configuration is not a conffile"
UNIT=/usr/lib/systemd/system/pacewatch.service
if ct sh -c 'command -v systemd-analyze' >/dev/null; then
  # the manual pages are install_test's (man-db is not on a minimal system)
  out=$(ct systemd-analyze verify --man=no "$UNIT" 2>&1) || fail "systemd-analyze verify: $out"
fi

# an upgrade: the package installed again over a configuration the operator changed
upgrade() {
  ct sh -c 'printf "// changed by the operator\n" | cat - /etc/pacewatch/pacewatch.json >/root/c &&
            cat /root/c >/etc/pacewatch/pacewatch.json'
  ct apt-get install -y --reinstall -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "$PKG" >"$WORK/apt-reinstall.log" 2>&1 || fail "reinstall: $(tail -5 "$WORK/apt-reinstall.log")"
  ct head -1 /etc/pacewatch/pacewatch.json | grep -q 'changed by the operator' ||
    fail "the upgrade replaced the operator's configuration"
}

# 6. the service as the unit runs it
ready() { # up to 60 s for /-/ready on 127.0.0.1:9470
  for _ in $(seq 120); do
    "$@" curl -fsS -m 2 http://127.0.0.1:9470/-/ready >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}
if [ "$MODE" = nspawn ]; then
  # the postinst enabled and started it
  [ "$(ct systemctl is-enabled pacewatch.service 2>&1)" = enabled ] || fail "postinst did not enable the service"
  for _ in $(seq 60); do [ "$(ct systemctl is-active pacewatch.service)" = active ] && break; sleep 0.5; done
  ct systemctl status --no-pager pacewatch.service >"$WORK/status.txt" 2>&1
  [ "$(ct systemctl is-active pacewatch.service)" = active ] ||
    fail "postinst did not start the service: $(cat "$WORK/status.txt"; ct journalctl -u pacewatch --no-pager | tail -20)"
  grep -q 'Active: active (running)' "$WORK/status.txt" || fail "systemctl status: $(head -5 "$WORK/status.txt")"
  grep -q 'Status: "running"' "$WORK/status.txt" || fail "no sd_notify STATUS in systemctl status: $(head -8 "$WORK/status.txt")"
  ready ctnet || fail "no answer on 127.0.0.1:9470/-/ready: $(ct journalctl -u pacewatch --no-pager | tail -10)"
  main=$(ct systemctl show -p MainPID --value pacewatch.service)
  [ "$(ct stat -c %U "/proc/$main" 2>/dev/null)" = pacewatch ] || fail "the daemon (pid $main) does not run as pacewatch"
  [ "$(perm /var/lib/pacewatch)" = "pacewatch:pacewatch 750" ] ||
    fail "/var/lib/pacewatch is $(perm /var/lib/pacewatch), not pacewatch:pacewatch 750"
  ct test -s /var/lib/pacewatch/data.mdb || fail "no store in /var/lib/pacewatch"
  # reload: SIGHUP, waited for through RELOADING=1/READY=1
  ct systemctl reload pacewatch.service || fail "systemctl reload failed"
  for _ in $(seq 20); do ct journalctl -u pacewatch --no-pager -o cat | grep -q 'msg="reloaded' && break; sleep 0.5; done
  ct journalctl -u pacewatch --no-pager -o cat | grep -Eq 'msg="(SIGHUP: )?reloading /etc/pacewatch/pacewatch.json' &&
    ct journalctl -u pacewatch --no-pager -o cat | grep -q 'msg="reloaded' ||
    fail "the reload is not logged: $(ct journalctl -u pacewatch --no-pager -o cat | tail -5)"
  [ "$(ct systemctl is-active pacewatch.service)" = active ] || fail "not active after the reload"
  # a configuration with errors: the reload is refused, systemctl status says so,
  # the old configuration keeps running (docs/operations.md)
  ct cp /etc/pacewatch/pacewatch.json /root/good.json
  ct sh -c 'echo "{\"targets\": 1}" >/etc/pacewatch/pacewatch.json'
  ct systemctl reload pacewatch.service >/dev/null 2>&1
  for _ in $(seq 20); do ct systemctl status --no-pager pacewatch.service 2>&1 | grep -q 'Status: "reload refused' && break; sleep 0.5; done
  ct systemctl status --no-pager pacewatch.service 2>&1 | grep -q 'Status: "reload refused' ||
    fail "systemctl status does not say the reload was refused: $(ct systemctl status --no-pager pacewatch.service 2>&1 | head -6)"
  [ "$(ct systemctl show -p MainPID --value pacewatch.service)" = "$main" ] && ready ctnet ||
    fail "a refused reload stopped the service"
  ct cp /root/good.json /etc/pacewatch/pacewatch.json
  # an upgrade (the same version again): the operator's configuration kept
  # (upgrade, below), the service restarted by the postinst
  upgrade
  [ "$(ct systemctl show -p MainPID --value pacewatch.service)" != "$main" ] ||
    fail "the upgrade did not restart the service (MainPID still $main)"
  [ "$(ct systemctl is-active pacewatch.service)" = active ] || fail "not active after the upgrade"
  ready ctnet || fail "no answer after the upgrade"
  # stop: SIGTERM, a clean exit
  ct systemctl stop pacewatch.service || fail "systemctl stop failed"
  [ "$(ct systemctl show -p Result --value pacewatch.service)" = success ] ||
    fail "the stop was not clean: Result=$(ct systemctl show -p Result --value pacewatch.service)"
  ct journalctl -u pacewatch --no-pager -o cat | grep -Eq 'msg="?stopped"?$' ||
    fail "no 'stopped' in the journal: $(ct journalctl -u pacewatch --no-pager -o cat | tail -8)"
  ct journalctl -u pacewatch --no-pager -o cat >"$WORK/journal.txt" 2>&1
  ct systemctl start pacewatch.service || fail "systemctl start failed: $(ct journalctl -u pacewatch --no-pager | tail -10)"
  ready ctnet || fail "no answer after systemctl start"
else
  # as the unit: StateDirectory, User=, ExecStartPre, ExecStart; its own loopback
  ct install -d -o pacewatch -g pacewatch -m 0750 /var/lib/pacewatch
  pre=$(sed -n 's/^ExecStartPre=//p' "$ROOT$UNIT"); start=$(sed -n 's/^ExecStart=//p' "$ROOT$UNIT")
  # shellcheck disable=SC2086
  out=$(ct setpriv --reuid=pacewatch --regid=pacewatch --init-groups $pre 2>&1) || fail "ExecStartPre: $out"
  cat >"$WORK/netns.sh" <<EOF
ip link set lo up
cd / && chroot --userspec=pacewatch:pacewatch "$ROOT" env -i PATH=/usr/bin:/bin $start >"$WORK/daemon.log" 2>&1 &
echo \$! >"$WORK/daemon.pid"; wait
EOF
  unshare --net sh "$WORK/netns.sh" &
  for _ in $(seq 20); do [ -s "$WORK/daemon.pid" ] && break; sleep 0.2; done
  dpid=$(cat "$WORK/daemon.pid" 2>/dev/null)
  if [ -z "$dpid" ]; then
    fail "the daemon did not start"
  else
    ready nsenter -t "$dpid" -n || fail "no answer on 127.0.0.1:9470/-/ready: $(tail -5 "$WORK/daemon.log")"
    [ "$(stat -c %u "/proc/$dpid")" = "$uid" ] || fail "the daemon runs as uid $(stat -c %u "/proc/$dpid"), not pacewatch ($uid)"
    ct test -s /var/lib/pacewatch/data.mdb || fail "no store in /var/lib/pacewatch"
    kill -HUP "$dpid"
    for _ in $(seq 20); do grep -q 'msg="reloaded' "$WORK/daemon.log" && break; sleep 0.5; done
    grep -q 'msg="reloaded' "$WORK/daemon.log" || fail "the reload is not logged: $(tail -3 "$WORK/daemon.log")"
    kill -TERM "$dpid"
    for _ in $(seq 60); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$dpid" 2>/dev/null && { fail "SIGTERM did not stop the daemon"; kill -KILL "$dpid"; }
    wait
    grep -Eq 'msg="?stopped"?$' "$WORK/daemon.log" || fail "no clean stop: $(tail -3 "$WORK/daemon.log")"
  fi
  upgrade
fi

# 7. remove keeps the configuration and the store; purge removes the configuration only
ct apt-get remove -y pacewatch >"$WORK/apt-remove.log" 2>&1 || fail "apt-get remove: $(tail -5 "$WORK/apt-remove.log")"
ct test -e /usr/bin/pacewatch && fail "remove left /usr/bin/pacewatch"
ct test -e "$UNIT" && fail "remove left the unit"
ct test -e /etc/pacewatch/pacewatch.json || fail "remove deleted the configuration"
ct test -s /var/lib/pacewatch/data.mdb || fail "remove deleted the store"
if [ "$MODE" = nspawn ]; then
  st=$(ct systemctl is-active pacewatch.service)
  [ "$st" = inactive ] || [ "$st" = unknown ] || fail "the service is '$st' after remove"
  ctnet curl -fsS -m 2 http://127.0.0.1:9470/-/ready >/dev/null 2>&1 && fail "pacewatch still answers after remove"
fi
ct apt-get purge -y pacewatch >"$WORK/apt-purge.log" 2>&1 || fail "apt-get purge: $(tail -5 "$WORK/apt-purge.log")"
ct test -e /etc/pacewatch/pacewatch.json && fail "purge left the configuration"
ct test -s /var/lib/pacewatch/data.mdb || fail "purge deleted the store (docs/operations.md: it is kept)"
ct getent passwd pacewatch >/dev/null || fail "purge deleted the user (docs/operations.md: it is kept)"
ct dpkg-query -W -f='${Status}' pacewatch 2>/dev/null | grep -q 'not-installed\|^$' ||
  [ -z "$(ct dpkg-query -W -f='${Status}' pacewatch 2>/dev/null)" ] ||
  fail "dpkg still knows pacewatch: $(ct dpkg-query -W -f='${Status}' pacewatch)"

say "done ($MODE)"
if [ $failures -eq 0 ]; then echo "1 passed, 0 failed ($MODE)"; else echo "0 passed, 1 failed ($MODE)"; exit 1; fi
