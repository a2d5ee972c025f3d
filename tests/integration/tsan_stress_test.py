#!/usr/bin/env python3
"""A ThreadSanitizer stress test: every thread of `pacewatch run` busy at
once, so TSan sees the event-loop thread (scrapes, rule and KPI evaluation,
reloads) and the HTTP, notification and remote_write threads touch the same
data. Registered with ctest only in a PW_TSAN build (label "tsan"), where
scripts/check runs it after the ASan/UBSan tests.

Everything runs on 127.0.0.1 and is stopped here by PID: the platform
simulator (tools/simulator.c), a webhook and remote_write sink (answering
500 now and then, so deliveries retry), an SMTP receiver on a closed port
(every email fails and is retried from the outbox), and pacewatch with
targets, rule groups (alerting and recording, 1-2 s intervals), KPIs
(global.evaluation_interval 1s) and a notify section. Then, for SECONDS
(default 75, or PW_STRESS_SECONDS), concurrently:

- reader threads GET /api/v1/kpis, /api/v1/alerts, /api/v1/rules, /metrics,
  /api/v1/notifications, /api/v1/targets, /api/v1/query and query_range, and
  the pages (/, /kpis/NAME and its chart, /alerts, /targets, /notifications);
- an importer POSTs /api/v1/import/prometheus 4 times a second: a sliding
  window of `unit` label values, so KPI units and alerts are added every
  second while older ones go stale and resolve; now and then a body over
  256 KiB (parsed by several threads);
- every 5 s a reload alternating between two configurations that differ
  (KPIs, rule groups, targets, receivers, remote_write): copied over the
  configuration file, then SIGHUP, or every third time POST /-/reload.

Then SIGTERM. The test fails if pacewatch's stderr has a sanitizer report
("WARNING: ThreadSanitizer", ...), if it crashed, or if it did not exit 0
within STOP_TIMEOUT; the reports are printed (and kept in
WORKDIR/tsan-reports.txt). It also fails if the load did not do what it is
for: no KPI units added and gone stale, no reloads, an endpoint that never
answered. The simulator's own reports are shown, not failed on. Timing
margins are wide: CI is a busy 2-core machine and TSan slows pacewatch down.

Run it alone (after scripts/check, or after configuring build-tsan/ as it
does):

    cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DPW_TSAN=ON -DPW_TESTS=ON \\
          -DCMAKE_C_COMPILER=clang && cmake --build build-tsan -j2
    (cd build-tsan && ctest -L tsan --output-on-failure)
or directly, for a shorter or longer run (PW_STRESS_SECONDS works with
ctest too):
    PW_STRESS_SECONDS=30 python3 tests/integration/tsan_stress_test.py \\
        build-tsan/daemon/pacewatch build-tsan/tools/simulator build-tsan/stress-alone .

TSAN_OPTIONS is taken from the environment when set (scripts/check sets
it); otherwise halt_on_error=0 second_deadlock_stack=1 history_size=4 and
the suppressions in tests/tsan.supp.

usage: tsan_stress_test.py PACEWATCH SIMULATOR WORKDIR SOURCEDIR [SECONDS]
"""
import copy
import http.server
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish, free_port, programme_config  # noqa: E402

PW, SIM, WORK, SRC = (os.path.abspath(a) for a in sys.argv[1:5])
SECONDS = float(sys.argv[5] if len(sys.argv) > 5 else os.environ.get("PW_STRESS_SECONDS", "75"))
READY_TIMEOUT = 300   # TSan start-up and the first round of scrapes, on a busy machine
STOP_TIMEOUT = 180    # SIGTERM to exit: scrapes in flight, the outbox and remote_write threads
READERS = 4
RELOAD_EVERY = 5.0

SANITIZER_MARKS = ("WARNING: ThreadSanitizer", "ThreadSanitizer:", "AddressSanitizer",
                   "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")

stop_load = threading.Event()
stats_lock = threading.Lock()
stats = {}  # what -> [ok, failed]
seen = {"units": 0, "stale": 0}  # the most stress_units units and stale ones in one answer


def tally(what, ok):
    with stats_lock:
        s = stats.setdefault(what, [0, 0])
        s[0 if ok else 1] += 1


def call(base, path, params=None, data=None, timeout=60):
    url = base + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Sink(http.server.BaseHTTPRequestHandler):
    """webhook and remote_write receiver: 204, or 500 every fifth request"""
    n = 0
    lock = threading.Lock()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Sink.lock:
            Sink.n += 1
            fail = Sink.n % 5 == 0
        self.send_response(500 if fail else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def start_sim():
    portfile = os.path.join(WORK, "sim.port")
    p = subprocess.Popen([SIM, "--listen", "127.0.0.1:0", "--port-file", portfile,
                          "--accel", "3600", "--start", time.strftime("%Y-%m-%d", time.gmtime())],
                         stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(WORK, "simulator.log"), "w"))
    for _ in range(1200):
        if os.path.exists(portfile) and open(portfile).read().strip():
            return p, int(open(portfile).read())
        if p.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit("simulator did not start")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def configs(sim_port, http_port, sink_port, smtp_port):
    """two configurations that differ in every part a reload swaps"""
    now = time.time()
    a = programme_config(SRC, sim_port)
    a["global"]["evaluation_interval"] = "1s"
    a["storage"] = {"path": os.path.join(WORK, "store"), "sync": False}
    a["http"] = {"listen": ["127.0.0.1:%d" % http_port]}
    stress_kpi = {"name": "stress_units", "title": "压力测试单位", "value": "stress_units",
                  "target": 100, "baseline": 0, "start": iso(now - 10 * 86400),
                  "deadline": iso(now + 10 * 86400), "stale_after": "2s", "forecast": "1m",
                  "severity": "warning", "owner": "stress", "contact": "stress@example.org"}
    roster_kpi = dict(stress_kpi, name="stress_roster", title="stress roster",
                      roster="stress_roster", target=50, severity="critical")
    a["kpis"] = a["kpis"] + [stress_kpi, roster_kpi]
    a["rule_groups"] = [
        {"name": "stress", "interval": "1s", "rules": [
            {"record": "unit:stress_units:x2", "expr": "stress_units * 2"},
            {"alert": "StressHigh", "expr": "unit:stress_units:x2 > 120",
             "labels": {"severity": "warning"},
             "annotations": {"summary": "{{ $labels.unit }}: {{ $value | humanize }}"}},
            {"alert": "StressShard", "expr": "stress_alert > 0.5", "for": "2s",
             "labels": {"severity": "critical", "team": "{{ $labels.shard }}"}}]},
        {"name": "platforms", "interval": "2s", "rules": [
            {"record": "job:up:sum", "expr": "sum by (job) (up)"},
            {"alert": "PlatformDown", "expr": "up == 0", "labels": {"severity": "critical"}}]}]
    a["notify"] = {
        "receivers": [
            {"name": "mail", "email": {"smarthost": "127.0.0.1:%d" % smtp_port,
                                       "from": "pw@example.org", "to": ["oncall@example.org"],
                                       "tls": "none", "timeout": "2s"}},
            {"name": "hook", "webhook": {"url": "http://127.0.0.1:%d/hook" % sink_port,
                                         "timeout": "2s"}}],
        "route": {"receiver": "mail", "group_by": ["alertname"], "group_wait": "1s",
                  "group_interval": "2s", "repeat_interval": "5s",
                  "routes": [{"matchers": ['alertname=~"Stress.*|Kpi.*"'], "receiver": "hook",
                              "continue": True}]},
        "inhibit_rules": [{"source_matchers": ['severity="critical"'],
                           "target_matchers": ['severity="warning"'], "equal": ["unit"]}],
        "retry_min": "500ms", "retry_max": "2s"}
    a["remote_write"] = [{"name": "sink", "url": "http://127.0.0.1:%d/rw" % sink_port,
                          "batch_deadline": "1s", "concurrency": 2, "timeout": "5s",
                          "min_backoff": "100ms", "max_backoff": "1s"}]

    b = copy.deepcopy(a)
    b["targets"] = [t for t in b["targets"] if t["name"] != "dialysis_registry"]
    b["kpis"] = [k for k in b["kpis"] if k["name"] not in ("dialysis_coverage", "outreach_events",
                                                           "stress_roster")]
    b["kpis"][-1].update(target=80, stale_after="3s", tolerance=0.2)
    b["kpis"].append(dict(stress_kpi, name="stress_even", value='stress_units{unit=~".*[02468]"}',
                          target=60, stale_after="5s", direction="at_most"))
    b["rule_groups"] = [
        {"name": "stress", "interval": "2s", "rules": [
            {"record": "unit:stress_units:x2", "expr": "stress_units * 2"},
            {"alert": "StressHigh", "expr": "unit:stress_units:x2 > 100",
             "labels": {"severity": "warning"},
             "annotations": {"summary": "{{ $labels.unit }} high"}}]},
        {"name": "stress_b", "interval": "1s", "rules": [
            {"record": "shard:stress_alert:sum", "expr": "sum by (shard) (stress_alert)"},
            {"alert": "StressShardB", "expr": "shard:stress_alert:sum > 0", "for": "1s"}]}]
    b["notify"]["route"] = {"receiver": "hook", "group_by": ["alertname", "unit"],
                            "group_wait": "1s", "group_interval": "3s", "repeat_interval": "4s",
                            "routes": [{"matchers": ['severity="critical"'], "receiver": "mail"}]}
    b["notify"]["inhibit_rules"] = []
    del b["remote_write"]
    return a, b


def write_json(path, conf):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(conf, f, ensure_ascii=False, indent=1)
    os.replace(tmp, path)  # the daemon never reads half a file


# ---- the load ------------------------------------------------------------------

READ_PATHS = [
    ("/api/v1/kpis", None), ("/api/v1/alerts", None), ("/api/v1/rules", None),
    ("/metrics", None), ("/api/v1/notifications", None), ("/api/v1/targets", None),
    ("/api/v1/rules", {"type": "alert"}),
    ("/api/v1/query", {"query": "sum by (unit) (stress_units)"}),
    ("/api/v1/query", {"query": 'count(ALERTS{alertstate="firing"})'}),
    ("/api/v1/query", {"query": 'pacewatch_kpi_status{kpi=~"stress.*"} == 1'}),
    ("/api/v1/query", {"query": "rate(up[30s])"}),
    ("/api/v1/query_range", "range"),
    ("/-/ready", None),
    # the pages for people, rendered from the same views on HTTP threads
    ("/", None), ("/kpis/stress_units", None), ("/kpis/stress_units/chart.svg", None),
    ("/alerts", None), ("/targets", None), ("/notifications", None),
]


def reader(base, seed):
    rnd = random.Random(seed)
    while not stop_load.is_set():
        path, params = rnd.choice(READ_PATHS)
        if params == "range":
            now = time.time()
            params = {"query": "unit:stress_units:x2", "start": now - 60, "end": now, "step": 2}
        try:
            st, body = call(base, path, params)
            # not ready (503) is an answer: the first round of scrapes after a reload
            # not ready (503) is an answer: the first round of scrapes after a reload;
            # a KPI page is 404 while the other configuration (without it) runs
            tally(path, st == 200 or (path == "/-/ready" and st == 503)
                  or (path.startswith("/kpis/") and st == 404))
        except OSError:
            tally(path, False)
            continue
        if path == "/api/v1/kpis" and st == 200:
            try:
                kpis = {k["name"]: k for k in json.loads(body)["data"]["kpis"]}
            except (ValueError, KeyError) as e:
                check(False, "/api/v1/kpis answers JSON: %s %r" % (e, body[:300]))
                continue
            units = kpis.get("stress_units", {}).get("units", [])
            with stats_lock:
                seen["units"] = max(seen["units"], len(units))
                seen["stale"] = max(seen["stale"],
                                    len([u for u in units if u["status"] == "stale"]))


def import_body(k):
    """units u<k>..u<k+7> report (one new each second, one goes stale);
    the roster lists u<k-2>..u<k+9> (some never report: missing)"""
    rnd = random.Random(k)
    lines = []
    for i in range(k, k + 8):
        lines.append('stress_units{unit="u%d",zone="z%d"} %d' % (i, i % 3, rnd.randint(0, 120)))
    for i in range(max(0, k - 2), k + 10):
        lines.append('stress_roster{unit="u%d",zone="z%d"} 1' % (i, i % 3))
    for s in range(4):
        lines.append('stress_alert{shard="s%d"} %d' % (s, rnd.randint(0, 1)))
    return "\n".join(lines) + "\n"


def bulk_body(n):
    """a body over 256 KiB: the import parses it in several threads"""
    pad = "x" * 80
    return "".join('stress_bulk{i="%d",pad="%s"} %d\n' % (i, pad, n + i) for i in range(2600))


def importer(base):
    n = 0
    while not stop_load.is_set():
        body = import_body(n // 4)
        if n % 32 == 31:
            body += bulk_body(n)
        try:
            st, text = call(base, "/api/v1/import/prometheus", data=body.encode())
            tally("import", st == 204)
            if st != 204:
                print("import: %d %s" % (st, text[:200]), flush=True)
        except OSError:
            tally("import", False)
        n += 1
        stop_load.wait(0.25)


def reloader(pw, base, cfg, conf_a, conf_b):
    n = 0
    while not stop_load.wait(RELOAD_EVERY):
        n += 1
        write_json(cfg, conf_b if n % 2 else conf_a)
        if n % 3 == 0:
            try:
                st, text = call(base, "/-/reload", data=b"", timeout=120)
                tally("POST /-/reload", st == 200)
                if st != 200:
                    print("POST /-/reload: %d %s" % (st, text[:300]), flush=True)
            except OSError as e:
                tally("POST /-/reload", False)
                print("POST /-/reload: %s" % e, flush=True)
        else:
            pw.send_signal(signal.SIGHUP)
            tally("SIGHUP", True)


# ---- the verdict -------------------------------------------------------------------

def reports(text):
    """the sanitizer reports in a log: TSan's between its ===== lines, other
    sanitizers' from their first line"""
    out, cur = [], None
    for line in text.splitlines():
        if line.startswith("=================="):
            if cur is not None:
                out.append("\n".join(cur))
                cur = None
            else:
                cur = []
            continue
        if cur is not None:
            cur.append(line)
        elif any(m in line for m in SANITIZER_MARKS) and not line.startswith(
                "ThreadSanitizer: reported"):  # the count at exit, not a report
            out.append(line)
    if cur:
        out.append("\n".join(cur))
    return [r for r in out if any(m in r for m in SANITIZER_MARKS)]


def summaries(reps):
    seen = {}
    for r in reps:
        m = re.search(r"SUMMARY: \w+Sanitizer: (.*)", r)
        key = m.group(1) if m else r.splitlines()[0]
        seen[key] = seen.get(key, 0) + 1
    return seen


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    env = dict(os.environ)
    if not env.get("TSAN_OPTIONS"):
        env["TSAN_OPTIONS"] = ("halt_on_error=0 second_deadlock_stack=1 history_size=4 "
                               "suppressions=%s" % os.path.join(SRC, "tests/tsan.supp"))
    print("TSAN_OPTIONS=%s" % env["TSAN_OPTIONS"], flush=True)

    sink_port = free_port()
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", sink_port), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    smtp_port = free_port()  # nothing listens: every email fails and is retried
    sim, sim_port = start_sim()
    http_port = free_port()
    base = "http://127.0.0.1:%d" % http_port
    conf_a, conf_b = configs(sim_port, http_port, sink_port, smtp_port)
    shutil.copy(os.path.join(SRC, "conf/examples/demo-hotline.token"), WORK)
    cfg = os.path.join(WORK, "pacewatch.json")
    write_json(os.path.join(WORK, "a.json"), conf_a)
    write_json(os.path.join(WORK, "b.json"), conf_b)
    for c in ("a.json", "b.json"):
        p = subprocess.run([PW, "check-config", os.path.join(WORK, c)], capture_output=True,
                           text=True, env=env)
        check(p.returncode == 0, "configuration %s is valid: %s%s" % (c, p.stdout, p.stderr[-2000:]))
    write_json(cfg, conf_a)
    log = os.path.join(WORK, "pacewatch.log")
    t0 = time.time()
    pw = subprocess.Popen([PW, "run", "-c", cfg], stdout=subprocess.DEVNULL,
                          stderr=open(log, "w"), env=env)
    threads = []
    rc = None
    try:
        ready = False
        while time.time() - t0 < READY_TIMEOUT and pw.poll() is None:
            try:
                if call(base, "/-/ready", timeout=10)[0] == 200:
                    ready = True
                    break
            except OSError:
                pass
            time.sleep(0.5)
        check(ready, "pacewatch is ready within %d s" % READY_TIMEOUT)
        print("ready after %.1f s; stressing for %.0f s" % (time.time() - t0, SECONDS), flush=True)
        if ready:
            threads = [threading.Thread(target=reader, args=(base, i)) for i in range(READERS)]
            threads.append(threading.Thread(target=importer, args=(base,)))
            threads.append(threading.Thread(target=reloader, args=(pw, base, cfg, conf_a, conf_b)))
            for t in threads:
                t.start()
            end = time.time() + SECONDS
            while time.time() < end and pw.poll() is None:
                time.sleep(1)
            stop_load.set()
            for t in threads:
                t.join(timeout=150)
            check(not any(t.is_alive() for t in threads), "the load threads finish")
    finally:
        stop_load.set()
        if pw.poll() is None:
            pw.send_signal(signal.SIGTERM)
            try:
                rc = pw.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pw.send_signal(signal.SIGQUIT)
                try:
                    pw.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pw.kill()
                    pw.wait()
                rc = "hung: no exit within %d s of SIGTERM" % STOP_TIMEOUT
        else:
            rc = pw.returncode
        sim.terminate()
        try:
            sim.wait(timeout=60)
        except subprocess.TimeoutExpired:
            sim.kill()
        sink.shutdown()

    with stats_lock:
        for what in sorted(stats):
            print("  %-24s %6d ok %5d failed" % (what, stats[what][0], stats[what][1]))
        for path, _ in READ_PATHS:
            check(stats.get(path, [0])[0] > 0, "%s answered 200 at least once" % path)
        check(stats.get("import", [0])[0] > 0, "imports were accepted")
        # the load did what it is for: KPI units were added while others went stale
        print("stress_units: at most %d units, %d stale in one answer" %
              (seen["units"], seen["stale"]))
        check(seen["units"] >= 10 and seen["stale"] > 0 or not threads,
              "KPI units were added and went stale (at most %d units, %d stale)" %
              (seen["units"], seen["stale"]))
    text = open(log, encoding="utf-8", errors="replace").read()
    nreload = text.count("component=daemon msg=\"reloaded:")
    print("reloads done: %d; ran %.0f s in all" % (nreload, time.time() - t0), flush=True)
    check(nreload >= 3 or not threads, "the configuration was reloaded (%d times)" % nreload)
    check(rc == 0, "pacewatch exits 0 on SIGTERM (got %s%s)" %
          (rc, "; 66 is TSan's exit code after reports" if rc == 66 else
           "; killed by signal %d" % -rc if isinstance(rc, int) and rc < 0 else ""))
    crash = re.search(r"^.*(DEADLYSIGNAL|ERROR: \w+Sanitizer: SEGV|ABORTING).*$", text, re.M)
    check(not crash and not (isinstance(rc, int) and rc < 0),
          "pacewatch did not crash (%s)" % (crash.group(0) if crash else rc))
    reps = reports(text)
    check(not reps, "no sanitizer report in pacewatch's stderr (%d reports)" % len(reps))
    if reps:
        with open(os.path.join(WORK, "tsan-reports.txt"), "w") as f:
            f.write("\n\n".join(reps))
        print("\n==== pacewatch's sanitizer reports (also in %s) ====" %
              os.path.join(WORK, "tsan-reports.txt"))
        for r in reps:
            print("==================\n" + r)
        print("==== summaries ====")
        for s, n in summaries(reps).items():
            print("%4d x %s" % (n, s))
    if rc != 0 and not reps:
        print("---- the end of pacewatch's stderr ----\n" + text[-6000:])
    sreps = reports(open(os.path.join(WORK, "simulator.log"), errors="replace").read())
    if sreps:
        # the simulator is the test's platform, not pacewatch: shown, not failed on
        print("note: the simulator has %d sanitizer reports (in %s/simulator.log):" %
              (len(sreps), WORK))
        for s, n in summaries(sreps).items():
            print("%4d x %s" % (n, s))
    sys.stdout.flush()
    finish()


if __name__ == "__main__":
    main()
