#!/usr/bin/env python3
"""Differential test of the PromQL engine and HTTP API against the real
Prometheus 2.42.

The dataset (promql_data.py) goes into Prometheus through `promtool tsdb
create-blocks-from openmetrics` and into pacewatch through `pacewatch
import`; both serve it on 127.0.0.1. Every line of the corpus
(tests/cases/promql/queries.txt) is asked of both as instant queries at
several times and as range queries, and the answers must agree: result type,
label sets, timestamps, values (1e-9 relative; NaN equals NaN), and the
errorType of queries that fail. A line starting with "ordered:" also
compares the order of an instant vector; one starting with "message:" also
compares the error message word for word, as is done for every refused
regular expression.

Then promtool's own query commands are pointed at both servers and their
output compared.

usage: promql_diff.py PACEWATCH WORKDIR SOURCE_DIR [CORPUS]
"""
import json
import math
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promql_data  # noqa: E402
from pwtest import check, failures, finish, free_port, stop_daemon  # noqa: E402

PW, WORK, SRC = sys.argv[1], sys.argv[2], sys.argv[3]
CORPUS = sys.argv[4] if len(sys.argv) > 4 else os.path.join(SRC, "tests/cases/promql/queries.txt")
T0 = promql_data.T0
INSTANT_TIMES = [T0 + 9000.5, T0 + 4000, T0 + 7230, T0 + 14700]
RANGES = [(T0 + 600, T0 + 4 * 3600 + 600, 420), (T0 + 3500, T0 + 5000, 15)]


def post(base, path, params, timeout=60):
    data = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(base + path, data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, {"status": "error", "errorType": "?", "error": body.decode()}


def wait_ready(url, proc, what):
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit("%s exited early (%s)" % (what, proc.returncode))
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise SystemExit("%s not ready" % what)


def num(s):
    return float(s)  # Python reads "NaN", "+Inf", "-Inf" as Go writes them


def close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    if math.isinf(a) or math.isinf(b):
        return False
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def key(metric):
    return tuple(sorted(metric.items()))


def compare(q, what, a, b, ordered, message=False):
    """a: Prometheus' answer, b: pacewatch's. Returns a difference or None."""
    sa, sb = a[1].get("status"), b[1].get("status")
    if sa != "success" or sb != "success":
        if sa != sb:
            return "status %s (%s) vs %s (%s)" % (sa, a[1].get("error"), sb, b[1].get("error"))
        if a[1].get("errorType") != b[1].get("errorType"):
            return "errorType %s (%s) vs %s (%s)" % (a[1].get("errorType"), a[1].get("error"),
                                                    b[1].get("errorType"), b[1].get("error"))
        if a[0] != b[0]:
            return "HTTP status %d vs %d" % (a[0], b[0])
        if message and a[1].get("error") != b[1].get("error"):
            return "error %r vs %r" % (a[1].get("error"), b[1].get("error"))
        # a refused regular expression, marked or not: Go's words,
        # Prometheus' position
        ea, eb = a[1].get("error", ""), b[1].get("error", "")
        if ("error parsing regexp" in ea or "regular expression in label_replace" in ea) and ea != eb:
            return "error %r vs %r" % (ea, eb)
        return None
    da, db = a[1]["data"], b[1]["data"]
    if da["resultType"] != db["resultType"]:
        return "resultType %s vs %s" % (da["resultType"], db["resultType"])
    ra, rb = da["result"], db["result"]
    t = da["resultType"]
    if t in ("scalar", "string"):
        if ra[0] != rb[0]:
            return "time %s vs %s" % (ra[0], rb[0])
        if t == "scalar" and not close(num(ra[1]), num(rb[1])):
            return "value %s vs %s" % (ra[1], rb[1])
        if t == "string" and ra[1] != rb[1]:
            return "string %r vs %r" % (ra[1], rb[1])
        return None
    ma = {key(s["metric"]): s for s in ra}
    mb = {key(s["metric"]): s for s in rb}
    if len(ma) != len(ra) or len(mb) != len(rb):
        return "duplicate label sets in a result"
    if set(ma) != set(mb):
        only_a = [dict(k) for k in set(ma) - set(mb)][:3]
        only_b = [dict(k) for k in set(mb) - set(ma)][:3]
        return "series differ: only Prometheus %s, only pacewatch %s (%d vs %d)" % (
            only_a, only_b, len(ma), len(mb))
    if ordered and [key(s["metric"]) for s in ra] != [key(s["metric"]) for s in rb]:
        return "order differs"
    for k, s in ma.items():
        pa = [s["value"]] if "value" in s else s["values"]
        pb = [mb[k]["value"]] if "value" in mb[k] else mb[k]["values"]
        if len(pa) != len(pb):
            return "%s: %d points vs %d" % (dict(k), len(pa), len(pb))
        for x, y in zip(pa, pb):
            if x[0] != y[0]:
                return "%s: timestamp %s vs %s" % (dict(k), x[0], y[0])
            if not close(num(x[1]), num(y[1])):
                return "%s @%s: %s vs %s" % (dict(k), x[0], x[1], y[1])
    return None


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    n = promql_data.write(WORK)
    print("dataset: %d samples" % n, flush=True)
    pdata, pwdata = os.path.join(WORK, "prom"), os.path.join(WORK, "pw")
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    os.path.join(WORK, "data.om"), pdata], check=True, capture_output=True)
    subprocess.run([PW, "import", "--storage", pwdata, os.path.join(WORK, "data.prom")],
                   check=True, capture_output=True)

    pport, wport = free_port(), free_port()
    with open(os.path.join(WORK, "prom.yml"), "w") as f:
        f.write("global:\n  evaluation_interval: 1m\n")
    with open(os.path.join(WORK, "pw.json"), "w") as f:
        json.dump({"storage": {"path": pwdata}, "http": {"listen": ["127.0.0.1:%d" % wport]}}, f)
    plog, wlog = open(os.path.join(WORK, "prom.log"), "w"), os.path.join(WORK, "pw.log")
    prom = subprocess.Popen(["prometheus", "--config.file=" + os.path.join(WORK, "prom.yml"),
                             "--storage.tsdb.path=" + pdata,
                             "--storage.tsdb.retention.time=100y",
                             "--web.listen-address=127.0.0.1:%d" % pport],
                            stdout=plog, stderr=subprocess.STDOUT)
    pw = subprocess.Popen([PW, "run", "-c", os.path.join(WORK, "pw.json")],
                          stdout=subprocess.DEVNULL, stderr=open(wlog, "w"))
    try:
        pbase, wbase = "http://127.0.0.1:%d" % pport, "http://127.0.0.1:%d" % wport
        wait_ready(pbase + "/-/ready", prom, "prometheus")
        wait_ready(wbase + "/-/ready", pw, "pacewatch")
        run_corpus(pbase, wbase)
        run_promtool(pbase, wbase)
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=30)
        except subprocess.TimeoutExpired:
            prom.kill()
        stop_daemon(pw, wlog)
    finish()


def run_corpus(pbase, wbase):
    queries = []
    with open(CORPUS, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                queries.append((ln, line))
    check(len(queries) >= 300, "the corpus holds at least 300 queries (%d)" % len(queries))
    asked = differ = 0
    for ln, line in queries:
        ordered = line.startswith("ordered:")
        message = line.startswith("message:")
        q = line.split(":", 1)[1].strip() if ordered or message else line
        asks = [("instant @%s" % t, "/api/v1/query", {"query": q, "time": t})
                for t in INSTANT_TIMES]
        asks += [("range %s..%s/%s" % r, "/api/v1/query_range",
                  {"query": q, "start": r[0], "end": r[1], "step": r[2]}) for r in RANGES]
        for what, path, params in asks:
            a, b = post(pbase, path, params), post(wbase, path, params)
            asked += 1
            d = compare(q, what, a, b, ordered and "range" not in what, message)
            if d:
                differ += 1
                check(False, "%s:%d %s [%s]: %s" % (os.path.basename(CORPUS), ln, q, what, d))
    print("%d queries, %d evaluations, %d differ" % (len(queries), asked, differ), flush=True)


def run_promtool(pbase, wbase):
    t = str(INSTANT_TIMES[0])
    cmds = [
        ["query", "instant", "--time", t, "{}", 'sum by (city) (rate(mr_recognised_total[5m]))'],
        ["query", "range", "--start", str(T0 + 600), "--end", str(T0 + 3600), "--step", "5m",
         "{}", 'avg(childcare_spots_per_1000)'],
        ["query", "series", "--match", 'hotline_calls_total{city="杭州"}',
         "--start", str(T0), "--end", str(T0 + 3600), "{}"],
        ["query", "labels", "--start", str(T0), "--end", str(T0 + 3600), "{}", "city"],
    ]
    for c in cmds:
        outs = []
        for base in (pbase, wbase):
            argv = ["promtool"] + [base if x == "{}" else x for x in c]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            check(p.returncode == 0, "promtool %s against %s: %s" % (c[1], base, p.stderr))
            outs.append(p.stdout)
        check(outs[0] == outs[1] and outs[0].strip(),
              "promtool %s prints the same for both:\n%s\nvs\n%s" % (c[1], outs[0], outs[1]))
    print("promtool query instant/range/series/labels: %s" %
          ("ok" if not failures else "see failures"), flush=True)


if __name__ == "__main__":
    main()
