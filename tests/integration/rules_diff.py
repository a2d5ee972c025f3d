#!/usr/bin/env python3
"""Alerting and recording rules, differentially against Prometheus 2.42.

The rule groups of tests/cases/rules/rules.json (pacewatch's rule_groups,
which are a Prometheus rule file's groups) run in pacewatch over the series
of tests/cases/rules/series.json (`pacewatch rules --start 0 --end 59m
--json`, every evaluation interval, as promtool does). Every firing alert
pacewatch reports at every step, labels and expanded annotations included,
becomes an expectation in a `promtool test rules` file; promtool then runs
Prometheus' own rule engine over the same series and must agree at every
step, for every alert name (an empty expectation included).

usage: rules_diff.py PACEWATCH WORKDIR SOURCE_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish  # noqa: E402

PW, WORK, SRC = sys.argv[1:4]
CASES = os.path.join(SRC, "tests/cases/rules")


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    rules = json.load(open(os.path.join(CASES, "rules.json"), encoding="utf-8"))
    data = json.load(open(os.path.join(CASES, "series.json"), encoding="utf-8"))
    step_ms = 60000
    n = max(len(v.split()) for v in data["series"].values())

    # pacewatch: import the series, replay the rules, one JSON line per step
    with open(os.path.join(WORK, "series.prom"), "w", encoding="utf-8") as f:
        for name, vals in data["series"].items():
            for i, v in enumerate(vals.split()):
                if v != "_":
                    f.write("%s %s %d\n" % (name, v, i * step_ms))
    store = os.path.join(WORK, "store")
    subprocess.run([PW, "import", "--storage", store, os.path.join(WORK, "series.prom")],
                   check=True, capture_output=True)
    cfg = dict(rules)
    cfg["storage"] = {"path": store}
    cfg["global"] = {"evaluation_interval": "1m"}
    cfg_path = os.path.join(WORK, "pacewatch.json")
    json.dump(cfg, open(cfg_path, "w", encoding="utf-8"), ensure_ascii=False)
    p = subprocess.run([PW, "check-config", cfg_path], capture_output=True, text=True)
    check(p.returncode == 0, "check-config accepts the rules: %s%s" % (p.stdout, p.stderr))
    p = subprocess.run([PW, "rules", "-c", cfg_path, "--start", "0", "--end",
                        str((n - 1) * step_ms // 1000), "--json"],
                       capture_output=True, text=True, encoding="utf-8")
    check(p.returncode == 0, "pacewatch rules: %s" % p.stderr[-2000:])
    steps = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    check(len(steps) == n, "one line per step (%d of %d)" % (len(steps), n))

    names = [r["alert"] for g in rules["rule_groups"] for r in g["rules"] if "alert" in r]
    tests, fired = [], 0
    for s in steps:
        t = s["t"] // 1000
        firing = [a for a in s["data"]["alerts"] if a["state"] == "firing"]
        fired += len(firing)
        for name in names:
            exp = [{"exp_labels": {k: v for k, v in a["labels"].items() if k != "alertname"},
                    "exp_annotations": a["annotations"]}
                   for a in firing if a["labels"]["alertname"] == name]
            tests.append({"eval_time": "%ds" % t, "alertname": name, "exp_alerts": exp})
    check(fired > 20, "the rules fire now and then (%d firing alert-steps)" % fired)

    # the ALERTS and ALERTS_FOR_STATE series at every step, pending alerts included
    def series(name, labels):
        esc = lambda v: v.replace("\\", "\\\\").replace('"', '\\"')
        return "%s{%s}" % (name, ", ".join('%s="%s"' % (k, esc(v)) for k, v in sorted(labels.items())))

    def seconds(rfc3339):
        from datetime import datetime
        return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp())

    exprs = []
    for s in steps:
        t = s["t"] // 1000
        live = [a for a in s["data"]["alerts"] if a["state"] in ("pending", "firing")]
        exprs.append({"expr": "ALERTS", "eval_time": "%ds" % t, "exp_samples": [
            {"labels": series("ALERTS", dict(a["labels"], alertstate=a["state"])), "value": 1}
            for a in live]})
        exprs.append({"expr": "ALERTS_FOR_STATE", "eval_time": "%ds" % t, "exp_samples": [
            {"labels": series("ALERTS_FOR_STATE", a["labels"]), "value": seconds(a["activeAt"])}
            for a in live]})
    # every alert name fires at least once somewhere (else the check would be weak)
    for name in names:
        some = any(a["labels"]["alertname"] == name and a["state"] == "firing"
                   for s in steps for a in s["data"]["alerts"])
        check(some, "%s fires at some step" % name)

    # promtool: the same rules (a rule file's groups; JSON is YAML), the same series
    prom_rules = os.path.join(WORK, "prom-rules.json")
    json.dump({"groups": rules["rule_groups"]}, open(prom_rules, "w", encoding="utf-8"),
              ensure_ascii=False)
    p = subprocess.run(["promtool", "check", "rules", prom_rules], capture_output=True, text=True)
    check(p.returncode == 0, "promtool check rules: %s %s" % (p.stdout, p.stderr))
    test_file = os.path.join(WORK, "test.json")
    json.dump({"rule_files": [prom_rules], "evaluation_interval": "1m",
               "tests": [{"interval": data["interval"],
                          "input_series": [{"series": k, "values": v}
                                           for k, v in data["series"].items()],
                          "alert_rule_test": tests, "promql_expr_test": exprs}]},
              open(test_file, "w", encoding="utf-8"), ensure_ascii=False)
    p = subprocess.run(["promtool", "test", "rules", test_file], capture_output=True, text=True)
    out = p.stdout + p.stderr
    check(p.returncode == 0 and "SUCCESS" in out,
          "Prometheus agrees with pacewatch at every step (%d checks):\n%s" %
          (len(tests), "\n".join(out.splitlines()[:80])))
    print("%d steps x %d alert names = %d alert checks, %d ALERTS/ALERTS_FOR_STATE checks; "
          "%d firing alert-steps" % (len(steps), len(names), len(tests), len(exprs), fired),
          flush=True)
    finish()


if __name__ == "__main__":
    main()
