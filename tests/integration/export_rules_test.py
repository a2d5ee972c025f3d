#!/usr/bin/env python3
"""`pacewatch export-rules` against Prometheus' own rule engine:

1. The rule file exported from the programme's configuration
   (conf/examples/programme-2025.json) passes `promtool check rules`.
2. For a linear KPI, a KPI with milestones (a value and a fraction), and a
   step KPI counting down (at_most): the same series go into a pacewatch
   store and into `promtool test rules` with the exported rules; at five
   times, every unit's pacewatch_kpi_value, _target, _expected, _forecast
   and _progress_ratio recorded by Prometheus equal what `pacewatch kpi
   --at` computes (to 1e-9, relative: the trajectory is the same sum in a
   different order).

usage: export_rules_test.py PACEWATCH WORKDIR SOURCEDIR
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish  # noqa: E402

PW, WORK, SRC = sys.argv[1:4]
MINUTES = 600


def series():
    """name{labels} -> values at 0, 1, ..., MINUTES minutes"""
    out = {}
    out['items{city="济南"}'] = [5 + 0.25 * x + (x % 7) * 0.5 for x in range(MINUTES + 1)]
    out['items{city="青岛"}'] = [0.4 * x - (x % 5) for x in range(MINUTES + 1)]
    out['items2{city="济南"}'] = [20 + 0.12 * x + (x % 3) for x in range(MINUTES + 1)]
    out['items2{city="烟台"}'] = [30 + 0.05 * x for x in range(MINUTES + 1)]
    out['waiting{county="历下区"}'] = [60 - 0.05 * x + (x % 11) * 0.1 for x in range(MINUTES + 1)]
    return out


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)

    # 1. the programme's rules
    prog = os.path.join(WORK, "programme.yml")
    with open(prog, "w") as f:
        p = subprocess.run([PW, "export-rules", "-c",
                            os.path.join(SRC, "conf/examples/programme-2025.json")],
                           stdout=f, stderr=subprocess.PIPE, text=True)
    check(p.returncode == 0, "export-rules exits 0: %s" % p.stderr)
    p = subprocess.run(["promtool", "check", "rules", prog], capture_output=True, text=True)
    check(p.returncode == 0, "promtool check rules accepts it: %s %s" % (p.stdout, p.stderr))
    text = open(prog, encoding="utf-8").read()
    check("not exported: a calendar quota" in text, "quotas are said not to be carried")
    check("hysteresis" in text, "hysteresis is said not to be carried")

    # roll-ups (no value expression) and below-the-peers KPIs (no target): export-rules
    # passed their missing value or target on (a null pointer) and crashed
    units = os.path.join(WORK, "units.csv")
    with open(units, "w", encoding="utf-8") as f:
        f.write("code,name,kind,parent\n370000,山东省,province,\n370100,济南市,city,370000\n")
    hier = {"units": {"file": units}, "kpis": [
        {"name": "base", "value": "items", "coverage": ">= 1", "unit_code": "city_code",
         "start": "2025-01-01", "deadline": "2025-12-01"},
        {"name": "up", "rollup": {"kpi": "base", "to": "province"}, "target": 1,
         "start": "2025-01-01", "deadline": "2025-12-01"},
        {"name": "behind", "value": "items", "peers": {"group_by": ["city_code"]},
         "start": "2025-01-01", "deadline": "2025-12-01"}]}
    hpath = os.path.join(WORK, "hier.json")
    with open(hpath, "w", encoding="utf-8") as f:
        json.dump(hier, f, ensure_ascii=False)
    p = subprocess.run([PW, "export-rules", "-c", hpath], capture_output=True, text=True)
    check(p.returncode == 0 and not p.stderr, "export-rules of a roll-up and a below-the-peers "
          "KPI exits 0: %s %s" % (p.returncode, p.stderr[-500:]))
    check("# KPI up" in p.stdout and "not exported: a roll-up" in p.stdout,
          "roll-ups are said not to be exported")
    check("# KPI behind" in p.stdout and "not exported: a below-the-peers KPI" in p.stdout,
          "below-the-peers KPIs are said not to be exported")

    # severities: the KPI's for each alert, unless severities overrides one
    sev = {"kpis": [{"name": "sev", "value": "items", "target": 200, "baseline": 0,
                     "start": "2025-01-01", "deadline": "2025-12-01", "severity": "critical",
                     "severities": {"KpiAtRisk": "info"}}]}
    spath = os.path.join(WORK, "sev.json")
    with open(spath, "w", encoding="utf-8") as f:
        json.dump(sev, f)
    p = subprocess.run([PW, "export-rules", "-c", spath], capture_output=True, text=True)
    check(p.returncode == 0, "export-rules of the severities: %s" % p.stderr)
    got, alert = {}, None
    for line in p.stdout.splitlines():
        t = line.strip()
        if t.startswith("- alert:"):
            alert = t.split(":", 1)[1].strip().strip('"')
        elif t.startswith("severity:") and alert:
            got[alert] = t.split(":", 1)[1].strip().strip('"')
    check(got == {"KpiMissed": "critical", "KpiLagging": "critical", "KpiAtRisk": "info"},
          "each exported alert has the KPI's severity, KpiAtRisk its override: %s" % got)

    # 2. the same KPIs in both engines
    conf = {
        "global": {"evaluation_interval": "1m"},
        "storage": {"path": os.path.join(WORK, "store")},
        "kpis": [
            {"name": "lin", "title": "线性", "value": "items", "target": 200, "baseline": 0,
             "start": "1970-01-01T00:00:00Z", "deadline": "1970-01-01T10:00:00Z",
             "forecast": "2h"},
            {"name": "ms", "title": "分阶段", "value": "items2", "target": 100, "baseline": 20,
             "start": "1970-01-01T00:00:00Z", "deadline": "1970-01-01T10:00:00Z",
             "milestones": [{"at": "1970-01-01T03:00:00Z", "value": 50},
                            {"at": "1970-01-01T06:00:00Z", "fraction": 0.8}],
             "forecast": "1h"},
            {"name": "wait", "value": "waiting", "direction": "at_most", "target": 10,
             "baseline": 60, "curve": "step", "start": "1970-01-01T00:00:00Z",
             "deadline": "1970-01-01T10:00:00Z",
             "milestones": [{"at": "1970-01-01T05:00:00Z", "value": 40}]},
        ],
    }
    cpath = os.path.join(WORK, "kpis.json")
    with open(cpath, "w", encoding="utf-8") as f:
        json.dump(conf, f, ensure_ascii=False)
    rules = os.path.join(WORK, "kpis.yml")
    with open(rules, "w") as f:
        p = subprocess.run([PW, "export-rules", "-c", cpath], stdout=f, stderr=subprocess.PIPE,
                           text=True)
    check(p.returncode == 0, "export-rules: %s" % p.stderr)
    p = subprocess.run(["promtool", "check", "rules", rules], capture_output=True, text=True)
    check(p.returncode == 0, "promtool check rules: %s %s" % (p.stdout, p.stderr))

    data = series()
    imp = os.path.join(WORK, "data.prom")
    with open(imp, "w", encoding="utf-8") as f:
        for s, vals in data.items():
            for x, v in enumerate(vals):
                f.write("%s %r %d\n" % (s, v, x * 60000))
    subprocess.run([PW, "import", "--storage", conf["storage"]["path"], imp], check=True,
                   capture_output=True)

    tests = []
    for minute in (60, 150, 300, 480, 599):
        at = "1970-01-01T%02d:%02d:00Z" % (minute // 60, minute % 60)
        p = subprocess.run([PW, "kpi", "-c", cpath, "--at", at, "--json"], capture_output=True,
                           text=True)
        check(p.returncode == 0, "pacewatch kpi --at %s: %s" % (at, p.stderr))
        if p.returncode:
            continue
        got = json.loads(p.stdout)
        for k in got["kpis"]:
            for u in k["units"]:
                labels = dict(u["labels"], kpi=k["name"])
                want = {"value": u["value"], "target": u["target"], "expected": u["expected"],
                        "forecast": u["forecast"]}
                if u["target"] != u["baseline"]:
                    want["progress_ratio"] = (u["value"] - u["baseline"]) / (u["target"] -
                                                                             u["baseline"])
                for m, v in want.items():
                    if v is None:
                        continue
                    sel = ",".join('%s="%s"' % (a, b) for a, b in sorted(labels.items()))
                    tests.append({
                        "eval_time": "%dm" % minute,
                        "expr": "abs(pacewatch_kpi_%s{%s} - (%r)) <= bool %r"
                                % (m, sel, v, 1e-9 * (1 + abs(v))),
                        "exp_samples": [{"labels": "{%s}" % sel, "value": 1}]})
    check(len(tests) >= 5 * 5 * 4, "enough comparisons: %d" % len(tests))
    unit = {
        "rule_files": [rules],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": s, "values": " ".join(repr(v) for v in vals)}
                             for s, vals in data.items()],
            "promql_expr_test": tests}],
    }
    upath = os.path.join(WORK, "test.yml")
    with open(upath, "w", encoding="utf-8") as f:
        json.dump(unit, f, ensure_ascii=False)  # JSON is YAML
    p = subprocess.run(["promtool", "test", "rules", upath], capture_output=True, text=True)
    out = (p.stdout + p.stderr).strip()
    check(p.returncode == 0, "Prometheus records what pacewatch computes:\n%s" % out[-3000:])
    print("%d comparisons of recorded KPI series" % len(tests))
    finish()


if __name__ == "__main__":
    main()
