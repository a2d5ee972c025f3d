#!/usr/bin/env python3
"""Query latency, pacewatch against VictoriaMetrics 1.79 and Prometheus 2.42
on the same data.

Two datasets, each SERIES series in families shaped like the programme's
(recognition counters per institution, childcare gauges per county, a
response-time histogram per instance):

  month   one sample every INTERVAL_MIN minutes for 30 days: the sixteen
          dashboard queries of issue 5;
  scrape  1,000 samples at 15 s (issue 21's shape), with one more family of
          exactly 72 counters (hotline_calls_total): the 72-series selector,
          rate over 72 series, the aggregated 4 h range query, and
          avg_over_time / predict_linear / topk.

Prometheus gets the data through `promtool tsdb create-blocks-from
openmetrics`, pacewatch through `pacewatch import`, VictoriaMetrics through
its /api/v1/import/prometheus (the same text, timestamps in ms), flushed with
/internal/force_flush; its sample count is checked before any query. Its
response cache is off (-search.disableCache), so its medians are not cache
hits. All three run on 127.0.0.1, started and stopped by PID.

Each query is asked RUNS times of each server, in turn, after one warm-up,
over one keep-alive connection per server; the client measures the wall time
of the whole HTTP exchange. Answers are compared: the same series (label
sets) on all three, and the same values within 1e-9 relative where the
semantics agree; where VictoriaMetrics' differ (its rate/increase do not
extrapolate, so the top ten of a rate differ too; its topk in a range query
keeps whole series) only the series, or their number, are compared, and the
table says so.

Last, the fixed cost of a small request: the 72-series instant selector asked
FIXED times over one keep-alive connection with curl, mean and median of
curl's time_total per request.

usage: bench_query.py PACEWATCH OUTDIR RUNS SERIES INTERVAL_MIN [DATASETS] [FIXED]
  DATASETS: month,scrape (default both); FIXED: default 10000 (0: skip).
  BENCH_REUSE=1 keeps OUTDIR's generated and imported data from an earlier
  run with the same arguments. BENCH_BASELINE=BINARY runs a second pacewatch
  (e.g. main's) on a copy of the same store in the same run: its medians, the
  ratio this/baseline, and its answers must equal this one's byte for byte;
  then also each daemon's CPU time per query (user + system from
  /proc/PID/stat over the RUNS, divided by RUNS), which a loaded machine
  disturbs less than wall times. BENCH_ONLY="QUERY;QUERY..." asks only those
  queries (exactly as written in the lists below).
"""
import http.client
import json
import math
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
DATASETS = (sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] else "month,scrape").split(",")
FIXED = int(sys.argv[7]) if len(sys.argv) > 7 else 10000
REUSE = os.environ.get("BENCH_REUSE") == "1"
BASE = os.environ.get("BENCH_BASELINE")  # another pacewatch binary, side by side
ONLY = [q for q in os.environ.get("BENCH_ONLY", "").split(";") if q]
DAYS = 30
END = 1767225600  # 2026-01-01T00:00:00Z
CITIES = ["济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁", "泰安", "威海",
          "日照", "临沂", "德州", "聊城", "滨州", "菏泽"]
LES = ["0.1", "0.5", "1", "5", "+Inf"]

# (kind, query, None where VictoriaMetrics' values equal ours; else why not,
# "count: ..." where even its series differ and only their number is compared)
MONTH = [
    ("range", 'sum by (city) (rate(mr_recognitions_total[1h]))', "VM's rate does not extrapolate"),
    ("range", 'sum(rate(mr_recognitions_total[2h]))', "VM's rate does not extrapolate"),
    ("range", 'avg by (city) (childcare_spots_per_1000)', None),
    ("range", 'count(predict_linear(childcare_spots_per_1000[1d], 7 * 86400) < 4.8)', None),
    ("range", 'histogram_quantile(0.9, sum by (le) (rate(platform_request_seconds_bucket[1h])))',
     "VM's rate does not extrapolate"),
    ("range", 'max by (city) (max_over_time(childcare_spots_per_1000[1d]))', None),
    ("instant", 'sum by (city) (childcare_spots_per_1000)', None),
    ("instant", 'topk(10, rate(mr_recognitions_total[1h]))', "count: VM's rate does not extrapolate, so its top ten differ"),
    ("instant", 'count by (city) (childcare_spots_per_1000 < 4.8)', None),
    ("instant", 'sum by (city) (increase(mr_recognitions_total[30d]))', "VM's increase does not extrapolate"),
    ("instant", 'predict_linear(childcare_spots_per_1000{city="青岛"}[7d], 30 * 86400)', None),
    # regular expressions, as dashboards' variables write them: alternations
    # of values, prefixes and suffixes, a class, case-insensitivity, names
    ("range", 'sum by (city) (rate(mr_recognitions_total{city=~"济南|青岛|烟台"}[2h]))',
     "VM's rate does not extrapolate"),
    ("instant", 'count(childcare_spots_per_1000{county=~"C0[0-4].*7"})', None),
    ("instant", 'sum by (city) (rate(mr_recognitions_total{institution!~"H0.*5|H1.*", city=~"(?i).*州"}[1h]))',
     "VM's rate does not extrapolate"),
    ("range", 'histogram_quantile(0.9, sum by (le) (rate(platform_request_seconds_bucket{instance=~"i0(1|2)[0-9]{2}"}[1h])))',
     "VM's rate does not extrapolate"),
    ("instant", 'count by (__name__) ({__name__=~"mr_.*|childcare_.*", city=~"济南|青岛", county!~".*9"})', None),
]
SCRAPE = [
    ("instant", 'hotline_calls_total', None),
    ("instant", 'rate(hotline_calls_total[5m])', "VM's rate does not extrapolate"),
    ("range", 'rate(hotline_calls_total[5m])', "VM's rate does not extrapolate"),
    ("range", 'sum by (city) (rate(mr_recognitions_total[5m]))', "VM's rate does not extrapolate"),
    ("instant", 'avg by (city) (avg_over_time(childcare_spots_per_1000[1h]))', None),
    ("range", 'avg by (city) (avg_over_time(childcare_spots_per_1000[15m]))', None),
    ("instant", 'predict_linear(childcare_spots_per_1000{city="青岛"}[1h], 86400)', None),
    ("instant", 'topk(10, rate(mr_recognitions_total[5m]))', "count: VM's rate does not extrapolate, so its top ten differ"),
    ("range", 'topk(5, max_over_time(childcare_spots_per_1000[5m]))',
     "count: VM's topk in a range query keeps whole series, Prometheus' picks per step"),
]


class Dataset:
    def __init__(self, name):
        self.name = name
        if name == "month":
            self.step_s, self.n = IVL * 60, DAYS * 86400 // (IVL * 60)
            self.queries, self.n72 = MONTH, 0
            # ends at the last sample: past it, VictoriaMetrics' look-back (the
            # step or the scrape interval) still finds it, Prometheus' 5 m not
            self.range = (END - DAYS * 86400 + 86400 + 5, END - IVL * 60 + 5, 3600)
        else:
            self.step_s, self.n = 15, 1000
            self.queries, self.n72 = SCRAPE, 72
            self.range = (END - 4 * 3600 + 5, END + 5, 60)
        self.start = END - self.n * self.step_s
        # Steps fall 5 s after samples: Prometheus 2.42's windows [t - d, t]
        # and VictoriaMetrics' (t - d, t] then hold the same samples.
        self.instant = END - self.step_s + 5  # just after the last sample
        self.dir = os.path.join(OUT, name)


def gen(ds, path_om, path_prom):
    rnd = random.Random(5)
    total = SERIES - ds.n72
    n_hist = total // 5 // len(LES) * len(LES)
    n_cnt = (total - n_hist) // 2
    n_gauge = total - n_hist - n_cnt
    fams = []
    for i in range(ds.n72):
        fams.append(("hotline_calls_total", 'city="%s",line="L%02d"' % (CITIES[i % 16], i), "c"))
    for i in range(n_cnt):
        fams.append(("mr_recognitions_total", 'city="%s",institution="H%05d"' % (CITIES[i % 16], i), "c"))
    for i in range(n_gauge):
        fams.append(("childcare_spots_per_1000", 'city="%s",county="C%05d"' % (CITIES[i % 16], i), "g"))
    for i in range(n_hist // len(LES)):
        for le in LES:
            fams.append(("platform_request_seconds_bucket",
                         'city="%s",instance="i%04d",le="%s"' % (CITIES[i % 16], i, le), "h" + le))
    n = 0
    ts = list(range(ds.start, END, ds.step_s))
    with open(path_om, "w", encoding="utf-8") as om, open(path_prom, "w", encoding="utf-8") as pt:
        for name, ls, kind in fams:
            v = rnd.random() * 100
            base = 3.5 + rnd.random()
            lines_om, lines_pt = [], []
            for k, t in enumerate(ts):
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


def cpu_s(proc):
    """User + system CPU seconds of a running process so far."""
    with open("/proc/%d/stat" % proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, name, port, proc):
        self.name, self.port, self.proc = name, port, proc
        self.base = "http://127.0.0.1:%d" % port
        self.conn = None

    def post(self, path, params):
        body = urllib.parse.urlencode(params).encode()
        hdr = {"Content-Type": "application/x-www-form-urlencoded"}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            try:
                t0 = time.perf_counter()
                self.conn.request("POST", path, body, hdr)
                r = self.conn.getresponse()
                data = r.read()
                dt = time.perf_counter() - t0
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, data, dt
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def ask(self, ds, kind, q):
        if kind == "range":
            params = {"query": q, "start": ds.range[0], "end": ds.range[1], "step": ds.range[2]}
            path = "/api/v1/query_range"
        else:
            params = {"query": q, "time": ds.instant}
            path = "/api/v1/query"
        status, body, dt = self.post(path, params)
        j = json.loads(body)
        if status != 200 or j.get("status") != "success":
            raise SystemExit("%s failed on %s (HTTP %d): %s" % (q, self.name, status, body[:500]))
        return dt, j["data"]["result"]


def wait(srv, path):
    for _ in range(1200):
        if srv.proc.poll() is not None:
            raise SystemExit(srv.name + " exited")
        try:
            with urllib.request.urlopen(srv.base + path, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(srv.name + " not ready")


def vm_count(vm, ds):
    q = 'sum(count_over_time({__name__=~".+"}[%ds]))' % (ds.n * ds.step_s + 3600)
    st, body, _ = vm.post("/api/v1/query", {"query": q, "time": END})
    r = json.loads(body)["data"]["result"]
    return int(float(r[0]["value"][1])) if r else 0


def vm_import(vm, ds, path_prom, n):
    """Post the text in parts of about 16 MB cut at line ends."""
    with open(path_prom, "rb") as f:
        while True:
            part = f.read(16 << 20)
            if not part:
                break
            part += f.readline()
            st, body, _ = raw_post(vm, "/api/v1/import/prometheus", part)
            if st // 100 != 2:
                raise SystemExit("VictoriaMetrics import: HTTP %d %s" % (st, body[:300]))
    for _ in range(600):
        raw_post(vm, "/internal/force_flush", b"", method="GET")
        got = vm_count(vm, ds)
        if got == n:
            return
        time.sleep(0.5)
    raise SystemExit("VictoriaMetrics holds %d samples, not %d" % (got, n))


def raw_post(srv, path, data, method="POST"):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=600)
    try:
        c.request(method, path, data if method == "POST" else None)
        r = c.getresponse()
        return r.status, r.read(), 0
    finally:
        c.close()


def canon(result, keep_name):
    out = {}
    for s in result:
        m = dict(s["metric"])
        if not keep_name:
            m.pop("__name__", None)
        vals = s["values"] if "values" in s else [s["value"]]
        out[tuple(sorted(m.items()))] = [(float(t), float(v)) for t, v in vals]
    return out


def close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def compare(q, ref, other, who, values):
    """Same series; the same values where `values`. Returns what differs."""
    names = all("__name__" in s["metric"] for s in ref) == all("__name__" in s["metric"] for s in other)
    a, b = canon(ref, names), canon(other, names)
    if set(a) != set(b):
        only_a = sorted(set(a) - set(b))[:3]
        only_b = sorted(set(b) - set(a))[:3]
        raise SystemExit("%s: pacewatch and %s answer different series (%d vs %d; only pacewatch: %s; only %s: %s)" %
                         (q, who, len(a), len(b), only_a, who, only_b))
    if not values:
        return
    for k in a:
        pa, pb = a[k], b[k]
        if [t for t, _ in pa] != [t for t, _ in pb]:
            raise SystemExit("%s: %s %s: different timestamps" % (q, who, k))
        for (t, va), (_, vb) in zip(pa, pb):
            if not close(va, vb):
                raise SystemExit("%s: %s %s at %s: pacewatch %r, %s %r" % (q, who, k, t, va, who, vb))


def p95(v):
    return sorted(v)[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]


def fixed_cost(servers, ds):
    """The 72-series instant selector FIXED times over one keep-alive
    connection (curl reuses it for every URL of its config)."""
    print("\nfixed cost of a request: `hotline_calls_total` (72 series), instant, %d times "
          "over one keep-alive connection (curl, time_total per request)" % FIXED)
    print("\n| server | mean ms | median ms | p95 ms |")
    print("|---|---|---|---|")
    qs = urllib.parse.urlencode({"query": "hotline_calls_total", "time": ds.instant})
    res = {}
    for s in servers:
        cfg = os.path.join(OUT, "curl-%s.cfg" % s.name)
        with open(cfg, "w") as f:
            for _ in range(FIXED):
                f.write('url = "%s/api/v1/query?%s"\noutput = "/dev/null"\n' % (s.base, qs))
        r = subprocess.run(["curl", "-s", "-K", cfg, "-w", "%{time_total}\n"],
                           check=True, capture_output=True, text=True)
        t = [float(x) * 1000 for x in r.stdout.split()]
        if len(t) != FIXED:
            raise SystemExit("curl made %d requests of %s, not %d" % (len(t), s.name, FIXED))
        res[s.name] = t
        print("| %s | %.3f | %.3f | %.3f |" % (s.name, statistics.mean(t), statistics.median(t), p95(t)),
              flush=True)
    return res


def prepare(ds):
    """Generate the data and load it into the three stores (or reuse them)."""
    mark = os.path.join(ds.dir, "ready")
    want = "%d %d %d %d\n" % (SERIES, ds.n, ds.step_s, ds.n72)
    if REUSE and os.path.exists(mark) and open(mark).read() == want:
        print("%s: reusing %s" % (ds.name, ds.dir), flush=True)
        return int(open(os.path.join(ds.dir, "samples")).read())
    shutil.rmtree(ds.dir, ignore_errors=True)
    os.makedirs(ds.dir)
    om, pt = os.path.join(ds.dir, "data.om"), os.path.join(ds.dir, "data.prom")
    t = time.time()
    n = gen(ds, om, pt)
    print("%s data: %d series, %d samples, one every %d s (%.0f s to write)" %
          (ds.name, SERIES, n, ds.step_s, time.time() - t), flush=True)
    t = time.time()
    # blocks as long as the data, as Prometheus' compaction would leave them
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=%dh" % (ds.n * ds.step_s // 3600 + 48), om,
                    os.path.join(ds.dir, "prom")], check=True, capture_output=True)
    print("promtool create-blocks: %.1f s" % (time.time() - t), flush=True)
    os.remove(om)
    t = time.time()
    subprocess.run([PW, "import", "--storage", os.path.join(ds.dir, "pw"), pt], check=True,
                   capture_output=True)
    print("pacewatch import: %.1f s" % (time.time() - t), flush=True)
    vm = start_vm(ds)
    try:
        t = time.time()
        vm_import(vm, ds, pt, n)
        print("VictoriaMetrics import: %.1f s, holds %d samples" % (time.time() - t, n), flush=True)
    finally:
        stop([vm])
    os.remove(pt)
    open(os.path.join(ds.dir, "samples"), "w").write("%d\n" % n)
    open(mark, "w").write(want)
    return n


def start_vm(ds):
    port = free_port()
    p = subprocess.Popen(["victoria-metrics", "-storageDataPath=" + os.path.join(ds.dir, "vm"),
                          "-httpListenAddr=127.0.0.1:%d" % port, "-retentionPeriod=100y",
                          "-search.disableCache", "-loggerLevel=ERROR"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = Server("VictoriaMetrics", port, p)
    wait(s, "/health")
    return s


def stop(servers):
    for s in servers:
        if s.conn:
            s.conn.close()
        s.proc.terminate()
        try:
            s.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            s.proc.kill()
            s.proc.wait()


def bench(ds, n):
    pp, wp = free_port(), free_port()
    open(os.path.join(ds.dir, "prom.yml"), "w").write("global: {}\n")
    json.dump({"storage": {"path": os.path.abspath(os.path.join(ds.dir, "pw")), "sync": False},
               "http": {"listen": ["127.0.0.1:%d" % wp]}},
              open(os.path.join(ds.dir, "pw.json"), "w"))
    servers = []
    try:
        servers.append(Server("Prometheus", pp, subprocess.Popen(
            ["prometheus", "--config.file=" + os.path.join(ds.dir, "prom.yml"),
             "--storage.tsdb.path=" + os.path.join(ds.dir, "prom"),
             "--storage.tsdb.retention.time=100y", "--web.listen-address=127.0.0.1:%d" % pp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
        servers.append(start_vm(ds))
        servers.append(Server("pacewatch", wp, subprocess.Popen(
            [PW, "run", "-c", os.path.join(ds.dir, "pw.json"), "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
        prom, vm, pw = servers
        base = None
        if BASE:
            bdir = os.path.join(ds.dir, "pw-base")
            shutil.rmtree(bdir, ignore_errors=True)
            shutil.copytree(os.path.join(ds.dir, "pw"), bdir)
            bp = free_port()
            json.dump({"storage": {"path": os.path.abspath(bdir), "sync": False},
                       "http": {"listen": ["127.0.0.1:%d" % bp]}},
                      open(os.path.join(ds.dir, "pw-base.json"), "w"))
            base = Server("baseline", bp, subprocess.Popen(
                [BASE, "run", "-c", os.path.join(ds.dir, "pw-base.json"), "--log-level", "warn"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            servers.append(base)
            wait(base, "/-/ready")
        wait(prom, "/-/ready")
        wait(pw, "/-/ready")
        got = vm_count(vm, ds)
        if got != n:
            raise SystemExit("VictoriaMetrics holds %d samples, not %d" % (got, n))
        print("\n### %s: %d series x %d samples, one every %d s; range queries %d..%d step %d s; "
              "VictoriaMetrics with -search.disableCache; median and p95 of %d, keep-alive HTTP\n" %
              (ds.name, SERIES, ds.n, ds.step_s, ds.range[0], ds.range[1], ds.range[2], RUNS))
        print("| query | kind | series | pacewatch med / p95 ms | VM med / p95 ms | Prometheus med / p95 ms "
              "| pw/VM | pw/Prom | VM answer |" +
              (" baseline med ms | pw/baseline | pw CPU ms/query | baseline CPU ms/query | CPU pw/baseline |"
               if base else ""))
        print("|---|---|---|---|---|---|---|---|---|" + ("---|---|---|---|---|" if base else ""))
        rows = []
        for kind, q, vmdiff in ds.queries:
            if ONLY and q not in ONLY:
                continue
            _, rw = pw.ask(ds, kind, q)
            _, rp = prom.ask(ds, kind, q)
            _, rv = vm.ask(ds, kind, q)
            compare(q, rw, rp, "Prometheus", True)
            if base:
                _, rb = base.ask(ds, kind, q)
                if json.dumps(rb) != json.dumps(rw):
                    raise SystemExit("%s: the baseline's answer differs from this pacewatch's" % q)
            if vmdiff and vmdiff.startswith("count: "):
                if len(rw) != len(rv):
                    raise SystemExit("%s: pacewatch answers %d series, VictoriaMetrics %d" % (q, len(rw), len(rv)))
            else:
                compare(q, rw, rv, "VictoriaMetrics", vmdiff is None)
            t = {s.name: [] for s in servers}
            c0 = {s.name: cpu_s(s.proc) for s in (pw, base) if s}
            for _ in range(RUNS):
                for s in servers:
                    t[s.name].append(s.ask(ds, kind, q)[0] * 1000)
            cpu = {k: (cpu_s(s.proc) - c0[k]) * 1000 / RUNS for k, s in
                   (("pacewatch", pw), ("baseline", base)) if s}
            mw, mv, mp = (statistics.median(t[k]) for k in ("pacewatch", "VictoriaMetrics", "Prometheus"))
            rows.append((q, mw / mv, mw / mp))
            print("| `%s` | %s | %d | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2f | %.2f | %s |" %
                  (q, kind, len(rw), mw, p95(t["pacewatch"]), mv, p95(t["VictoriaMetrics"]),
                   mp, p95(t["Prometheus"]), mw / mv, mw / mp,
                   "same values" if vmdiff is None else
                   ("as many series; " + vmdiff[7:]) if vmdiff.startswith("count: ") else
                   "same series; " + vmdiff) +
                  (" %.2f | %.2f | %.1f | %.1f | %s |" % (
                      statistics.median(t["baseline"]), mw / statistics.median(t["baseline"]),
                      cpu["pacewatch"], cpu["baseline"],
                      "%.2f" % (cpu["pacewatch"] / cpu["baseline"]) if cpu["baseline"] else "-")
                   if base else ""),
                  flush=True)
        if not rows:
            return
        print("\n%s: at or below VictoriaMetrics' median: %d of %d (worst pw/VM %.2f, %s); "
              "at most half of Prometheus': %d of %d (worst pw/Prom %.2f, %s)" %
              (ds.name, sum(r[1] <= 1 for r in rows), len(rows), max(r[1] for r in rows),
               max(rows, key=lambda r: r[1])[0], sum(r[2] <= 0.5 for r in rows), len(rows),
               max(r[2] for r in rows), max(rows, key=lambda r: r[2])[0]), flush=True)
        if ds.n72 and FIXED:
            fixed_cost([pw, vm, prom] + ([base] if base else []), ds)
    finally:
        stop(servers)


def main():
    os.makedirs(OUT, exist_ok=True)
    print("load average: %s" % open("/proc/loadavg").read().split(" ", 3)[:3], flush=True)
    for name in DATASETS:
        if name not in ("month", "scrape"):
            raise SystemExit("unknown dataset %r (month, scrape)" % name)
        ds = Dataset(name)
        n = prepare(ds)
        bench(ds, n)
    print("load average: %s" % open("/proc/loadavg").read().split(" ", 3)[:3], flush=True)


if __name__ == "__main__":
    main()
