#!/usr/bin/env python3
"""remote_write and sharding with real receivers on 127.0.0.1, each started
and stopped here by PID: the platform simulator, Prometheus 2.42
(--web.enable-remote-write-receiver) and VictoriaMetrics 1.79.

1. pacewatch scrapes the simulator and ships every sample to both.
   VictoriaMetrics is stopped for a while and started again; pacewatch is
   killed -9 while sending and started again.
2. Then, up to a time both cursors have passed: every series and every
   sample (timestamp and value) pacewatch holds is in Prometheus and in
   VictoriaMetrics, with the external labels, and nothing else is; the
   metrics counted the failures; Prometheus logged no out-of-order or
   out-of-bounds sample.
3. Two instances with global.shard {0, 2} and {1, 2} against the same
   simulator: every target is scraped by exactly one of them.
4. A KPI's record across a kill -9 (docs/kpis.md, "Evaluations and the
   record"): pacewatch evaluating the mutual-recognition KPI every second
   ships its pacewatch_kpi_* series to a VictoriaMetrics that keeps every
   raw sample (no deduplication); it is killed -9 just after recording a slot,
   a sample for that slot arrives late, and it is started again within that
   slot. No
   sample pacewatch wrote before the kill changes in its store, VictoriaMetrics
   holds exactly pacewatch's samples, and no timestamp of any series has two
   values there.

usage: remote_write_test.py PACEWATCH SIMULATOR WORKDIR SOURCEDIR
"""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish, free_port, programme_config, stop_daemon  # noqa: E402

PW, SIM, WORK, SRC = sys.argv[1:5]


def get(url, data=None, timeout=30):
    req = urllib.request.Request(url, data=data)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def wait(cond, timeout, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = cond()
        except OSError:
            v = None
        if v:
            return v
        time.sleep(step)
    return None


def start_sim():
    portfile = os.path.join(WORK, "sim.port")
    p = subprocess.Popen([SIM, "--listen", "127.0.0.1:0", "--port-file", portfile,
                          "--accel", "3600", "--start", time.strftime("%Y-%m-%d", time.gmtime())],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = wait(lambda: os.path.exists(portfile) and open(portfile).read().strip(), 10, 0.05)
    if not port:
        raise SystemExit("simulator did not start")
    return p, int(port)


def config(sim_port, http_port, store, extra):
    conf = programme_config(SRC, sim_port)
    conf["storage"]["path"] = store
    conf["http"] = {"listen": ["127.0.0.1:%d" % http_port]}
    # the ledger dates its rows in the past (receivers take recent samples);
    # rules and KPIs are not what this test is about
    conf["targets"] = [t for t in conf["targets"] if t["name"] != "outreach_ledger"]
    conf.pop("kpis", None)
    conf.pop("rule_groups", None)
    conf.update(extra)
    path = os.path.join(os.path.dirname(store), os.path.basename(store) + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(conf, f, ensure_ascii=False)
    shutil.copy(os.path.join(SRC, "conf/examples/demo-hotline.token"), os.path.dirname(path))
    return path, conf


def start_pw(cpath, log, base):
    p = subprocess.Popen([PW, "run", "-c", cpath], stdout=subprocess.DEVNULL,
                         stderr=open(log, "a"))
    check(wait(lambda: get(base + "/-/healthy"), 15), "pacewatch answers on %s" % base)
    return p


def start_vm(port, data):
    return subprocess.Popen(["victoria-metrics", "-httpListenAddr", "127.0.0.1:%d" % port,
                             "-storageDataPath", data, "-retentionPeriod", "100y",
                             "-search.latencyOffset", "0s", "-dedup.minScrapeInterval", "1ms",
                             "-loggerLevel", "WARN"],
                            stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(WORK, "vm.log"), "a"))


def metric(base, name, remote):
    text = get(base + "/metrics").decode()
    for line in text.splitlines():
        if line.startswith(name + "{") and 'remote="%s"' % remote in line:
            return float(line.split()[-1])
    return None


def series_key(labels):
    return tuple(sorted(labels.items()))


def parse_dump(text, ext):
    out = {}
    pat = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+) (-?\d+)$')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = pat.match(line)
        if not m:
            check(False, "dump line parses: %r" % line)
            continue
        labels = {"__name__": m.group(1)}
        if m.group(2):
            for k, v in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2)):
                labels[k] = v.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        for k, v in ext.items():
            labels.setdefault(k, v)
        out.setdefault(series_key(labels), {})[int(m.group(4))] = float(m.group(3))
    return out


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    sim, sim_port = start_sim()
    procs = [sim]
    try:
        run(sim_port, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    finish()


def run(sim_port, procs):
    ext = {"province": "山东", "replica": "a"}
    # the receivers
    prom_port, vm_port = free_port(), free_port()
    pdir = os.path.join(WORK, "prom")
    os.makedirs(pdir)
    yml = os.path.join(pdir, "prometheus.yml")
    open(yml, "w").write("global:\n  scrape_interval: 1h\n")
    plog = os.path.join(pdir, "log")
    prom = subprocess.Popen(["prometheus", "--config.file=" + yml, "--storage.tsdb.path=" + pdir +
                             "/data", "--web.listen-address=127.0.0.1:%d" % prom_port,
                             "--web.enable-remote-write-receiver"],
                            stdout=subprocess.DEVNULL, stderr=open(plog, "w"))
    procs.append(prom)
    purl = "http://127.0.0.1:%d" % prom_port
    vurl = "http://127.0.0.1:%d" % vm_port
    vm = start_vm(vm_port, os.path.join(WORK, "vm-data"))
    procs.append(vm)
    check(wait(lambda: get(purl + "/-/ready"), 30), "Prometheus is ready")
    check(wait(lambda: get(vurl + "/health"), 30), "VictoriaMetrics is ready")

    http_port = free_port()
    base = "http://127.0.0.1:%d" % http_port
    store = os.path.join(WORK, "store")
    rw = {"batch_deadline": "1s", "concurrency": 2, "batch_size": 500, "max_span": "3s",
          "min_backoff": "100ms", "max_backoff": "1s", "external_labels": {"replica": "a"}}
    cpath, conf = config(sim_port, http_port, store, {"remote_write": [
        dict(rw, name="prom", url=purl + "/api/v1/write"),
        dict(rw, name="vm", url=vurl + "/api/v1/write")]})
    log = os.path.join(WORK, "pacewatch.log")
    pw = start_pw(cpath, log, base)
    procs.append(pw)
    check(wait(lambda: (metric(base, "pacewatch_remote_write_samples_sent_total", "prom") or 0) > 0
               and (metric(base, "pacewatch_remote_write_samples_sent_total", "vm") or 0) > 0, 20),
          "samples flow to both receivers")

    # VictoriaMetrics down for a while
    vm.send_signal(signal.SIGTERM)
    vm.wait(timeout=30)
    check(wait(lambda: (metric(base, "pacewatch_remote_write_samples_failed_total", "vm") or 0) > 0,
               15), "failed requests to the stopped receiver are counted")
    time.sleep(5)
    lag = metric(base, "pacewatch_remote_write_lag_seconds", "vm")
    check(lag is not None and lag >= 4, "the stopped receiver's lag grows: %s" % lag)
    check((metric(base, "pacewatch_remote_write_lag_seconds", "prom") or 99) < 4,
          "the other receiver keeps up")
    vm = start_vm(vm_port, os.path.join(WORK, "vm-data"))
    procs.append(vm)
    check(wait(lambda: get(vurl + "/health"), 30), "VictoriaMetrics is back")
    check(wait(lambda: (metric(base, "pacewatch_remote_write_lag_seconds", "vm") or 99) < 3, 30),
          "it catches up")

    # pacewatch killed -9 while sending, then started again
    time.sleep(1.3)
    pw.kill()
    pw.wait()
    time.sleep(2)
    pw = start_pw(cpath, log, base)
    procs.append(pw)
    time.sleep(4)

    # everything up to a time both cursors have passed: the cursor counts
    # commits, and a scrape stamped before the cut commits up to its
    # timeout (900 ms) later
    cut = int(time.time() * 1000) - 2500
    ok = wait(lambda: all((metric(base, "pacewatch_remote_write_cursor_timestamp_seconds", r) or 0)
                          * 1000 >= cut + 2000 for r in ("prom", "vm")), 30)
    check(ok, "both cursors pass the cut")
    # the metrics say nothing was dropped
    for r in ("prom", "vm"):
        check(metric(base, "pacewatch_remote_write_samples_dropped_total", r) == 0,
              "%s: nothing dropped" % r)
    stop_daemon(pw, log)
    end = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(cut // 1000)) + ".%03dZ" % (cut % 1000)
    text = subprocess.run([PW, "dump", "--storage", store, "--end", end],
                          capture_output=True, text=True, check=True).stdout
    ours = parse_dump(text, ext)
    nsamples = sum(len(v) for v in ours.values())
    check(len(ours) > 100 and nsamples > 1000,
          "pacewatch holds data: %d series, %d samples" % (len(ours), nsamples))

    # Prometheus: every raw sample up to the cut
    span = int((cut - min(min(v) for v in ours.values())) / 1000) + 60
    q = urllib.parse.urlencode({"query": '{__name__=~".+"}[%ds]' % span, "time": "%.3f" % (cut / 1000)})
    res = json.loads(get(purl + "/api/v1/query?" + q))["data"]["result"]
    theirs = {}
    for s in res:
        theirs[series_key(s["metric"])] = {int(round(float(t) * 1000)): float(v)
                                           for t, v in s["values"]}
    compare("Prometheus", ours, theirs)

    # VictoriaMetrics: its export of everything up to the cut
    time.sleep(2)  # its in-memory parts are searchable after a flush
    body = urllib.parse.urlencode({"match[]": '{__name__!=""}', "end": "%.3f" % (cut / 1000)})
    raw = get(vurl + "/api/v1/export", body.encode()).decode()
    theirs = {}
    for line in raw.splitlines():
        j = json.loads(line)
        d = theirs.setdefault(series_key(j["metric"]), {})
        for v, t in zip(j["values"], j["timestamps"]):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue  # staleness markers
            d[int(t)] = float(v)
    theirs = {k: v for k, v in theirs.items() if v}
    compare("VictoriaMetrics", ours, theirs)

    prom_log = open(plog).read()
    for bad in ("out of order", "out-of-order", "out of bounds", "duplicate sample"):
        check(bad not in prom_log, "Prometheus logged no '%s'" % bad)

    # sharding: two instances split the targets
    names = [t["name"] for t in conf["targets"]]
    bases, ps = [], []
    for idx in range(2):
        port = free_port()
        b = "http://127.0.0.1:%d" % port
        cp, _ = config(sim_port, port, os.path.join(WORK, "shard%d" % idx),
                       {"global": dict(conf["global"], shard={"index": idx, "count": 2},
                                       external_labels={"province": "山东", "shard": str(idx)})})
        p = start_pw(cp, os.path.join(WORK, "shard%d.log" % idx), b)
        procs.append(p)
        bases.append(b)
        ps.append(p)
    seen = []
    for b in bases:
        ok = wait(lambda: get(b + "/-/ready"), 20)
        check(ok, "shard at %s is ready (scraped each of its targets)" % b)
        t = json.loads(get(b + "/api/v1/targets"))["data"]["activeTargets"]
        seen.append({x["labels"]["job"] for x in t})
        up = json.loads(get(b + "/api/v1/query?query=up"))["data"]["result"]
        check({x["metric"]["job"] for x in up} == seen[-1],
              "its store has up only for its own targets: %s" % sorted(seen[-1]))
    check(seen[0] and seen[1], "each shard has targets: %s" % seen)
    check(not (seen[0] & seen[1]), "no target is scraped twice: %s" % (seen[0] & seen[1]))
    check(seen[0] | seen[1] == set(names), "every target is scraped: %s vs %s" %
          (sorted(seen[0] | seen[1]), sorted(names)))
    for i, p in enumerate(ps):
        stop_daemon(p, os.path.join(WORK, "shard%d.log" % i))

    kpi_record(sim_port, procs, ext)


def kpi_series(store, end_ms=None):
    args = [PW, "dump", "--storage", store, "--match", '{__name__=~"pacewatch_kpi_.*"}']
    if end_ms is not None:
        args += ["--end", "%.3f" % (end_ms / 1000)]
    return parse_dump(subprocess.run(args, capture_output=True, text=True, check=True).stdout,
                      {"province": "山东", "replica": "k"})


def kpi_record(sim_port, procs, ext):
    vm_port = free_port()
    vurl = "http://127.0.0.1:%d" % vm_port
    raw_vm = subprocess.Popen(["victoria-metrics", "-httpListenAddr", "127.0.0.1:%d" % vm_port,
                               "-storageDataPath", os.path.join(WORK, "vm-raw"),
                               "-retentionPeriod", "100y", "-search.latencyOffset", "0s",
                               "-loggerLevel", "WARN"],
                              stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(WORK, "vm-raw.log"), "a"))
    procs.append(raw_vm)
    check(wait(lambda: get(vurl + "/health"), 30), "the raw VictoriaMetrics is ready")
    http_port = free_port()
    base = "http://127.0.0.1:%d" % http_port
    store = os.path.join(WORK, "kpi-store")
    prog = programme_config(SRC, sim_port)
    mr = [k for k in prog["kpis"] if k["name"] == "mr_items"][0]
    cpath, _ = config(sim_port, http_port, store, {
        "global": dict(prog["global"], evaluation_interval="10s"),
        "kpis": [mr],
        "remote_write": [{"name": "vm", "url": vurl + "/api/v1/write", "batch_deadline": "1s",
                          "max_span": "3s", "min_backoff": "100ms", "max_backoff": "1s",
                          "external_labels": {"replica": "k"}}]})
    log = os.path.join(WORK, "kpi.log")
    pw = start_pw(cpath, log, base)
    procs.append(pw)
    def slots():
        return sorted({t for ts in kpi_series(store).values() for t in ts})
    # killed just after a slot was recorded (slots every 10 s) and started again
    # within the same slot: the restarted daemon must not evaluate it again
    first = wait(slots, 30)
    check(first, "the KPI is recorded")
    second = wait(lambda: [t for t in slots() if t > first[-1]], 15)
    check(second, "a second slot is recorded")
    time.sleep(0.5)
    before = kpi_series(store)
    before_ms = max(t for ts in before.values() for t in ts)
    pw.kill()
    pw.wait()
    # a sample for that slot arrives late (a delayed scrape, a ledger row): a
    # second evaluation of the slot would see it and write other numbers
    line = subprocess.run([PW, "dump", "--storage", store, "--match",
                           'mr_items_recognised{city="济南"}'], capture_output=True, text=True,
                          check=True).stdout.strip().splitlines()[-1]
    late = os.path.join(WORK, "late.prom")
    with open(late, "w", encoding="utf-8") as f:
        f.write("%s 9999 %d\n" % (line.rsplit(" ", 2)[0], before_ms - 200))
    subprocess.run([PW, "import", "--storage", store, late], check=True, capture_output=True)
    pw = start_pw(cpath, log, base)
    procs.append(pw)
    check(time.time() * 1000 < before_ms + 10000, "restarted within the slot it had recorded")
    time.sleep(15)
    cut = int(time.time() * 1000) - 2500
    check(wait(lambda: (metric(base, "pacewatch_remote_write_cursor_timestamp_seconds", "vm")
                        or 0) * 1000 >= cut + 2000, 30), "the KPI receiver's cursor passes the cut")
    stop_daemon(pw, log)
    after = kpi_series(store)
    nb = sum(len(v) for v in before.values())
    check(nb > 50, "KPI samples before the kill: %d" % nb)
    changed = [(k, t, v, after.get(k, {}).get(t)) for k, ts in before.items()
               for t, v in ts.items() if after.get(k, {}).get(t) != v]
    check(not changed, "no KPI sample written before the kill -9 is rewritten after it "
          "(%d, e.g. %s)" % (len(changed), changed[:2]))
    slots = sorted({t for ts in after.values() for t in ts})
    check(slots and slots[-1] >= before_ms + 10000, "the restarted daemon goes on recording")
    time.sleep(2)
    body = urllib.parse.urlencode({"match[]": '{__name__=~"pacewatch_kpi_.*"}',
                                   "end": "%.3f" % (cut / 1000)})
    raw = get(vurl + "/api/v1/export", body.encode()).decode()
    theirs, twice = {}, []
    for line in raw.splitlines():
        j = json.loads(line)
        d = theirs.setdefault(series_key(j["metric"]), {})
        for v, t in zip(j["values"], j["timestamps"]):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue  # staleness markers
            if int(t) in d and d[int(t)] != float(v):
                twice.append((series_key(j["metric"]), t, d[int(t)], v))
            d[int(t)] = float(v)
    check(not twice, "no timestamp has two values in VictoriaMetrics (%d, e.g. %s)"
          % (len(twice), twice[:2]))
    ours = {k: {t: v for t, v in ts.items() if t <= cut} for k, ts in after.items()}
    compare("VictoriaMetrics (the KPI's record)", {k: v for k, v in ours.items() if v},
            {k: v for k, v in theirs.items() if v})


def compare(who, ours, theirs):
    missing = [k for k in ours if k not in theirs]
    extra = [k for k in theirs if k not in ours]
    check(not missing, "%s has every series (%d missing, e.g. %s)" %
          (who, len(missing), missing[:2]))
    check(not extra, "%s has no other series (%d, e.g. %s)" % (who, len(extra), extra[:2]))
    diffs = 0
    example = None
    for k, v in ours.items():
        t = theirs.get(k)
        if t is None:
            continue
        if t != v:
            diffs += 1
            if example is None:
                gone = sorted(set(v) - set(t))[:3]
                more = sorted(set(t) - set(v))[:3]
                example = (dict(k), gone, more)
    check(diffs == 0, "%s holds exactly our samples (%d series differ, e.g. %s)" %
          (who, diffs, example))
    print("%s: %d series, %d samples compared" % (who, len(ours), sum(len(v) for v in ours.values())))


if __name__ == "__main__":
    main()
