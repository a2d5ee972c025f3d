"""systemd's notification protocol as `Type=notify` and `WatchdogSec=` use it,
with this test as the service manager: a datagram socket named by
NOTIFY_SOCKET (a path, then an abstract name). pacewatch says READY=1 once it
answers HTTP, WATCHDOG=1 at half of WATCHDOG_USEC (none when WATCHDOG_PID is
another process), RELOADING=1 then READY=1 around a SIGHUP (a refused reload
too), STOPPING=1 on SIGTERM.

usage: sd_notify_test.py PACEWATCH WORKDIR"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish, free_port, stop_daemon  # noqa: E402

PW, WORK = sys.argv[1], sys.argv[2]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)


def messages(sock, until, deadline):
    """datagrams received until one has the line `until` (or the deadline)"""
    got = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(data)
        if until and until in data.splitlines():
            break
    return got


def run(name, addr, bind, env_extra):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(bind)
    port = free_port()
    conf = os.path.join(WORK, name + ".json")
    with open(conf, "w") as f:
        json.dump({"storage": {"path": os.path.join(WORK, name + "-data")},
                   "http": {"listen": ["127.0.0.1:%d" % port]}}, f)
    log = os.path.join(WORK, name + ".log")
    env = dict(os.environ, NOTIFY_SOCKET=addr, **env_extra)
    p = subprocess.Popen([PW, "run", "-c", conf], env=env, stdout=subprocess.DEVNULL,
                         stderr=open(log, "w"))
    return sock, p, conf, log, port


# 1. a socket path, the watchdog asked for
sock, p, conf, log, port = run("path", os.path.join(WORK, "notify.sock"),
                               os.path.join(WORK, "notify.sock"), {"WATCHDOG_USEC": "1000000"})
got = messages(sock, "READY=1", time.monotonic() + 60)
check(got and "READY=1" in got[-1].splitlines(), "READY=1 within 60 s (got %r)" % got)
try:
    code = urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port, timeout=10).status
except Exception as e:  # noqa: BLE001
    code = repr(e)
check(code == 200, "HTTP answers once READY=1 was sent (got %s)" % code)
got = messages(sock, None, time.monotonic() + 4)
pings = sum(1 for m in got if "WATCHDOG=1" in m.splitlines())
# every 0.5 s asked: 8 in 4 s; at least 3 on a loaded machine
check(pings >= 3, "WATCHDOG=1 at half of WATCHDOG_USEC: %d in 4 s" % pings)

p.send_signal(signal.SIGHUP)
got = messages(sock, "READY=1", time.monotonic() + 30)
lines = [l for m in got for l in m.splitlines()]
check("RELOADING=1" in lines and "READY=1" in lines
      and lines.index("RELOADING=1") < len(lines) - 1 - lines[::-1].index("READY=1"),
      "SIGHUP: RELOADING=1 then READY=1 (got %r)" % got)
check(any(l.startswith("MONOTONIC_USEC=") for l in lines), "RELOADING=1 carries MONOTONIC_USEC")

with open(conf, "w") as f:
    f.write('{"storage": {"path": 7}}')
p.send_signal(signal.SIGHUP)
got = messages(sock, "READY=1", time.monotonic() + 30)
text = "".join(got)
check("RELOADING=1" in text and "READY=1" in text and "STATUS=reload refused" in text,
      "a refused reload: RELOADING=1, then READY=1 with the refusal as STATUS (got %r)" % got)

p.send_signal(signal.SIGTERM)
got = messages(sock, "STOPPING=1", time.monotonic() + 30)
check(any("STOPPING=1" in m.splitlines() for m in got), "SIGTERM: STOPPING=1 (got %r)" % got)
try:
    rc = p.wait(timeout=30)
except subprocess.TimeoutExpired:
    p.kill()
    rc = "hung"
check(rc == 0, "exit 0 after SIGTERM (got %s)" % rc)
sock.close()

# 2. an abstract socket; the watchdog is for another process
name = "@pacewatch-sd-test-%d" % os.getpid()
sock, p, conf, log, port = run("abstract", name, "\0" + name[1:],
                               {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"})
got = messages(sock, "READY=1", time.monotonic() + 60)
check(got and "READY=1" in got[-1].splitlines(), "abstract socket: READY=1 (got %r)" % got)
got = messages(sock, None, time.monotonic() + 2)
check(not any("WATCHDOG=1" in m for m in got), "no WATCHDOG=1 when WATCHDOG_PID is not us")
stop_daemon(p, log)
sock.close()

# 3. no NOTIFY_SOCKET: nothing said, nothing logged about it
port = free_port()
log = os.path.join(WORK, "plain.log")
env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
p = subprocess.Popen([PW, "run", "--storage", os.path.join(WORK, "plain-data"), "--listen",
                      "127.0.0.1:%d" % port], env=env, stdout=subprocess.DEVNULL,
                     stderr=open(log, "w"))
time.sleep(2)
text = stop_daemon(p, log)
check("sd_notify" not in text and "NOTIFY_SOCKET" not in text, "no notify noise without systemd")
finish()
