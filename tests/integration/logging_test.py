"""The log an operator reads: one line per event, `time level=L
component=C` then key=value fields (logfmt), every line parseable;
`--log-level debug` shows each scrape (target, status, HTTP status, bytes,
duration, samples); a platform's error body appears escaped once, in the
log and in /api/v1/targets' lastError (it was escaped three times); under
systemd (JOURNAL_STREAM naming our stderr) lines carry the syslog priority
and leave the time to the journal.

usage: logging_test.py PACEWATCH SIMULATOR WORKDIR SOURCE_DIR"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish, free_port, stop_daemon  # noqa: E402

PW, SIM, WORK, SRC = sys.argv[1:5]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)

PAIR = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?:\s+|$)')


def logfmt(rest):
    """key=value pairs of the rest of a line, or None when it does not parse"""
    out, pos = {}, 0
    while pos < len(rest):
        m = PAIR.match(rest, pos)
        if not m:
            return None
        v = m.group(2)
        if v.startswith('"'):
            v = re.sub(r"\\(.)", lambda x: {"n": "\n"}.get(x.group(1), x.group(1)), v[1:-1])
        out[m.group(1)] = v
        pos = m.end()
    return out


def parse_line(line, journal=False):
    if journal:
        m = re.match(r"<([3467])>(.*)$", line)
    else:
        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (.*)$", line)
    if not m:
        return None
    return logfmt(m.group(2))


def start_sim():
    portfile = os.path.join(WORK, "sim.port")
    p = subprocess.Popen([SIM, "--listen", "127.0.0.1:0", "--port-file", portfile],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        if os.path.exists(portfile) and open(portfile).read().strip():
            return p, int(open(portfile).read())
        time.sleep(0.05)
    raise SystemExit("simulator did not start")


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def wait_for(fn, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if fn():
            return True
        time.sleep(0.2)
    return False


sim, sim_port = start_sim()
try:
    text = open(os.path.join(SRC, "conf", "examples", "minimal.json"), encoding="utf-8").read()
    text = text.replace("127.0.0.1:18080", "127.0.0.1:%d" % sim_port).replace('"30s"', '"1s"')
    conf = os.path.join(WORK, "minimal.json")
    open(conf, "w", encoding="utf-8").write(text)
    port = free_port()
    log = os.path.join(WORK, "debug.log")
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    d = subprocess.Popen([PW, "run", "-c", conf, "--storage", os.path.join(WORK, "data"),
                          "--listen", "127.0.0.1:%d" % port, "--log-level", "debug"],
                         env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))

    def scrapes():
        out = []
        for line in open(log, encoding="utf-8", errors="replace"):
            f = parse_line(line.rstrip("\n"))
            if f and f.get("event") == "scrape":
                out.append(f)
        return out

    check(wait_for(lambda: len([s for s in scrapes() if s.get("status") == "ok"]) >= 2, 60),
          "debug: a line per scrape (%d)" % len(scrapes()))
    ok = [s for s in scrapes() if s.get("status") == "ok"]
    if ok:
        s = ok[-1]
        check(s.get("level") == "debug" and s.get("component") == "collector"
              and s.get("target") == "mutual_recognition" and s.get("http_status") == "200"
              and int(s.get("bytes", "0")) > 100 and int(s.get("samples", "0")) >= 16
              and float(s.get("duration_seconds", "-1")) >= 0,
              "the scrape line has target, status, bytes, duration, samples: %r" % s)
    # a platform error with quotes in its body
    get("http://127.0.0.1:%d/_admin/fault?endpoint=mr&kind=http500" % sim_port)
    check(wait_for(lambda: any(s.get("status") == "failed" for s in scrapes()), 60),
          "debug: the failed scrape has its line")
    body = '{"code":500,"msg":"服务器内部错误"}'
    once = body.replace('"', '\\"')
    targets = json.loads(get("http://127.0.0.1:%d/api/v1/targets" % port))
    errs = [t.get("lastError", "") for t in targets["data"]["activeTargets"]]
    check(any(once in e for e in errs) and not any("\\\\" in e for e in errs),
          "lastError carries the platform's body escaped once: %r" % errs)
    get("http://127.0.0.1:%d/_admin/fault?endpoint=mr&kind=none" % sim_port)
    text = stop_daemon(d, log)
    lines = [l for l in text.splitlines() if l.strip()]
    bad = [l for l in lines if parse_line(l) is None or "level" not in parse_line(l)
           or "component" not in parse_line(l)]
    check(not bad, "every line is `time level=.. component=.. key=value...` (%d bad): %s"
          % (len(bad), bad[:3]))
    errors = [l for l in lines if "level=error" in l and "HTTP 500" in l]
    check(len(errors) == 1, "one error line for the failing platform (%d)" % len(errors))
    if errors:
        check(once in errors[0] and "\\\\" not in errors[0],
              "the log line has the body escaped once: %s" % errors[0])
        f = parse_line(errors[0])
        check(f is not None and body in f.get("msg", ""),
              "read back as logfmt, msg holds the platform's text as it was: %r" % f)
finally:
    sim.terminate()
    sim.wait(timeout=10)

# the journal: JOURNAL_STREAM names the stream stderr is
log = os.path.join(WORK, "journal.log")
with open(log, "w") as f:
    st = os.fstat(f.fileno())
    port = free_port()
    env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
    d = subprocess.Popen([PW, "run", "--storage", os.path.join(WORK, "data2"), "--listen",
                          "127.0.0.1:%d" % port], env=env, stdout=subprocess.DEVNULL, stderr=f)
    time.sleep(1.5)
text = stop_daemon(d, log)
lines = [l for l in text.splitlines() if l.strip()]
check(lines and all(parse_line(l, journal=True) is not None for l in lines),
      "under the journal every line starts with its priority, no time: %s" % lines[:2])
check(any(l.startswith("<6>level=info component=daemon") for l in lines),
      "info lines have priority 6: %s" % lines[:2])
# another stream in JOURNAL_STREAM (stderr redirected elsewhere): the plain form
log = os.path.join(WORK, "redirected.log")
port = free_port()
env = dict(os.environ, JOURNAL_STREAM="1:1")
d = subprocess.Popen([PW, "run", "--storage", os.path.join(WORK, "data3"), "--listen",
                      "127.0.0.1:%d" % port], env=env, stdout=subprocess.DEVNULL,
                     stderr=open(log, "w"))
time.sleep(1.5)
text = stop_daemon(d, log)
lines = [l for l in text.splitlines() if l.strip()]
check(lines and all(parse_line(l) is not None for l in lines),
      "JOURNAL_STREAM of another stream: plain lines with the time: %s" % lines[:2])
finish()
