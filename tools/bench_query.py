#!/usr/bin/env python3
"""Query latency, pacewatch against Prometheus 2.42 on the same data.

The data: SERIES series in three families shaped like the programme's
(recognition counters per institution, childcare gauges per county, a
response-time histogram per instance), one sample every INTERVAL minutes
for 30 days. Prometheus gets it through `promtool tsdb create-blocks-from
openmetrics`, pacewatch through `pacewatch import`. Each query is asked
RUNS times of each server, alternating, after one warm-up; the client
measures wall time of the whole HTTP exchange. Answers are checked to have
the same number of series on both sides.

usage: bench_query.py PACEWATCH OUTDIR RUNS SERIES INTERVAL_MIN
"""
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

PW, OUT, RUNS, SERIES, IVL = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
DAYS = 30
END = 1767225600  # 2026-01-01T00:00:00Z
START = END - DAYS * 86400
CITIES = ["济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁", "泰安", "威海",
          "日照", "临沂", "德州", "聊城", "滨州", "菏泽"]
LES = ["0.1", "0.5", "1", "5", "+Inf"]

QUERIES = [
    ("range", 'sum by (city) (rate(mr_recognitions_total[1h]))'),
    ("range", 'sum(rate(mr_recognitions_total[2h]))'),
    ("range", 'avg by (city) (childcare_spots_per_1000)'),
    ("range", 'count(predict_linear(childcare_spots_per_1000[1d], 7 * 86400) < 4.8)'),
    ("range", 'histogram_quantile(0.9, sum by (le) (rate(platform_request_seconds_bucket[1h])))'),
    ("range", 'max by (city) (max_over_time(childcare_spots_per_1000[1d]))'),
    ("instant", 'sum by (city) (childcare_spots_per_1000)'),
    ("instant", 'topk(10, rate(mr_recognitions_total[1h]))'),
    ("instant", 'count by (city) (childcare_spots_per_1000 < 4.8)'),
    ("instant", 'sum by (city) (increase(mr_recognitions_total[30d]))'),
    ("instant", 'predict_linear(childcare_spots_per_1000{city="青岛"}[7d], 30 * 86400)'),
    # regular expressions, as dashboards' variables write them: alternations
    # of values, prefixes and suffixes, a class, case-insensitivity, names
    ("range", 'sum by (city) (rate(mr_recognitions_total{city=~"济南|青岛|烟台"}[2h]))'),
    ("instant", 'count(childcare_spots_per_1000{county=~"C0[0-4].*7"})'),
    ("instant", 'sum by (city) (rate(mr_recognitions_total{institution!~"H0.*5|H1.*", city=~"(?i).*州"}[1h]))'),
    ("range", 'histogram_quantile(0.9, sum by (le) (rate(platform_request_seconds_bucket{instance=~"i0(1|2)[0-9]{2}"}[1h])))'),
    ("instant", 'count by (__name__) ({__name__=~"mr_.*|childcare_.*", city=~"济南|青岛", county!~".*9"})'),
]


def gen(path_om, path_prom):
    rnd = random.Random(5)
    n_hist = SERIES // 5 // len(LES) * len(LES)
    n_cnt = (SERIES - n_hist) // 2
    n_gauge = SERIES - n_hist - n_cnt
    fams = []
    for i in range(n_cnt):
        fams.append(("mr_recognitions_total", 'city="%s",institution="H%05d"' % (CITIES[i % 16], i), "c"))
    for i in range(n_gauge):
        fams.append(("childcare_spots_per_1000", 'city="%s",county="C%05d"' % (CITIES[i % 16], i), "g"))
    for i in range(n_hist // len(LES)):
        for le in LES:
            fams.append(("platform_request_seconds_bucket",
                         'city="%s",instance="i%04d",le="%s"' % (CITIES[i % 16], i, le), "h" + le))
    n = 0
    with open(path_om, "w", encoding="utf-8") as om, open(path_prom, "w", encoding="utf-8") as pt:
        for name, ls, kind in fams:
            v = rnd.random() * 100
            base = 3.5 + rnd.random()
            lines_om, lines_pt = [], []
            for k, t in enumerate(range(START, END, IVL * 60)):
                if kind == "c":
                    v += rnd.randint(0, 20)
                    val = v
                elif kind == "g":
                    val = round(base + k * 0.0005 + rnd.random() * 0.05, 4)
                else:
                    frac = {"0.1": 0.2, "0.5": 0.6, "1": 0.8, "5": 0.95, "+Inf": 1.0}[kind[1:]]
                    val = float(int(k * 60 * frac))
                lines_om.append("%s{%s} %s %d\n" % (name, ls, repr(float(val)), t))
                lines_pt.append("%s{%s} %s %d000\n" % (name, ls, repr(float(val)), t))
                n += 1
            om.write("".join(lines_om))
            pt.write("".join(lines_pt))
        om.write("# EOF\n")
    return n


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ask(base, kind, q):
    if kind == "range":
        params = {"query": q, "start": START + 86400, "end": END, "step": 3600}
        path = "/api/v1/query_range"
    else:
        params = {"query": q, "time": END - IVL * 60 + 30}  # just after the last sample
        path = "/api/v1/query"
    data = urllib.parse.urlencode(params).encode()
    t0 = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(base + path, data=data), timeout=600) as r:
        body = r.read()
    dt = time.perf_counter() - t0
    j = json.loads(body)
    if j.get("status") != "success":
        raise SystemExit("%s failed on %s: %s" % (q, base, j))
    return dt, len(j["data"]["result"])


def wait(base, proc, what):
    for _ in range(1200):
        if proc.poll() is not None:
            raise SystemExit(what + " exited")
        try:
            with urllib.request.urlopen(base + "/-/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(what + " not ready")


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    om, pt = os.path.join(OUT, "data.om"), os.path.join(OUT, "data.prom")
    t = time.time()
    n = gen(om, pt)
    print("data: %d series, %d samples, one every %d min for %d days (%.0f s to write)" %
          (SERIES, n, IVL, DAYS, time.time() - t), flush=True)
    pdir, wdir = os.path.join(OUT, "prom"), os.path.join(OUT, "pw")
    t = time.time()
    # blocks as long as the data, as Prometheus' compaction would leave them
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=%dh" % (DAYS * 24 + 48), om, pdir],
                   check=True, capture_output=True)
    print("promtool create-blocks: %.1f s" % (time.time() - t), flush=True)
    t = time.time()
    subprocess.run([PW, "import", "--storage", wdir, pt], check=True, capture_output=True)
    print("pacewatch import: %.1f s" % (time.time() - t), flush=True)
    os.remove(om)
    os.remove(pt)
    pp, wp = free_port(), free_port()
    open(os.path.join(OUT, "prom.yml"), "w").write("global: {}\n")
    json.dump({"storage": {"path": os.path.abspath(wdir), "sync": False},
               "http": {"listen": ["127.0.0.1:%d" % wp]}},
              open(os.path.join(OUT, "pw.json"), "w"))
    prom = subprocess.Popen(["prometheus", "--config.file=" + os.path.join(OUT, "prom.yml"),
                             "--storage.tsdb.path=" + pdir, "--storage.tsdb.retention.time=100y",
                             "--web.listen-address=127.0.0.1:%d" % pp],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pw = subprocess.Popen([PW, "run", "-c", os.path.join(OUT, "pw.json"), "--log-level", "warn"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pb, wb = "http://127.0.0.1:%d" % pp, "http://127.0.0.1:%d" % wp
        wait(pb, prom, "prometheus")
        wait(wb, pw, "pacewatch")
        rows = []
        print("\n| query | kind | series | Prometheus median / p95 ms | pacewatch median / p95 ms | ratio (median) |")
        print("|---|---|---|---|---|---|")
        for kind, q in QUERIES:
            _, np_ = ask(pb, kind, q)
            _, nw = ask(wb, kind, q)
            if np_ != nw:
                raise SystemExit("%s: Prometheus answers %d series, pacewatch %d" % (q, np_, nw))
            tp, tw = [], []
            for _ in range(RUNS):
                tp.append(ask(pb, kind, q)[0] * 1000)
                tw.append(ask(wb, kind, q)[0] * 1000)
            mp, mw = statistics.median(tp), statistics.median(tw)
            p95 = lambda v: sorted(v)[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]
            rows.append(mw / mp)
            print("| `%s` | %s | %d | %.1f / %.1f | %.1f / %.1f | %.2f |" %
                  (q, kind, np_, mp, p95(tp), mw, p95(tw), mw / mp), flush=True)
        print("\nqueries at most half of Prometheus' median: %d of %d; worst ratio %.2f" %
              (sum(r <= 0.5 for r in rows), len(rows), max(rows)))
    finally:
        for p in (prom, pw):
            p.terminate()
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
