"""The example programme moved in time, for scripts/demo and
tests/integration/programme_e2e_test.py (docs/programme.md, "A demo alive on any
day"): the KPIs' dates move so that `today` plays `start`, and the durations
pacewatch measures over the simulator's numbers (stale_after, forecast) shrink
by the acceleration, to at least a minute, except for the KPIs that read
ledgers (quotas and the ledger targets' metrics, and roll-ups of them): ledger
rows carry their own dates on the simulated calendar, a month apart."""
import datetime, json, re

UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def load(path):
    text = open(path, encoding="utf-8").read()
    return json.loads("\n".join(l for l in text.splitlines() if not l.strip().startswith("//")))


def ledger_kpis(conf):
    """names of the KPIs that read a ledger target's metrics, or roll them up"""
    metrics = set()
    for t in conf["targets"]:
        metrics.update((t.get("ledger") or t.get("csv") or {}).get("values", {}))
    names = set()
    for k in conf["kpis"]:
        text = " ".join(str(k.get(f, "")) for f in ("value", "target"))
        if "period" in k or any(re.search(r"\b%s\b" % re.escape(m), text) for m in metrics):
            names.add(k["name"])
    changed = True
    while changed:
        changed = False
        for k in conf["kpis"]:
            if "rollup" in k and k["rollup"]["kpi"] in names and k["name"] not in names:
                names.add(k["name"])
                changed = True
    return names


def shift(conf, start, today, accel):
    """conf (a dict) moved so that today plays start; returns the date that plays 2025-01-01"""
    delta = today - start

    def moved(s):
        m = re.match(r"(\d{4}-\d{2}-\d{2})(.*)", s)
        return (datetime.date.fromisoformat(m.group(1)) + delta).isoformat() + m.group(2) if m else s

    def shortened(d):
        secs = sum(float(n) * UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", d))
        return "%ds" % max(round(secs / accel), 60) if accel > 1 else d

    keep = ledger_kpis(conf)
    for k in conf["kpis"]:
        for f in ("start", "deadline"):
            k[f] = moved(k[f])
        for ms in k.get("milestones", []):
            ms["at"] = moved(ms["at"])
        if k["name"] not in keep:
            for f in ("stale_after", "forecast"):
                if f in k:
                    k[f] = shortened(k[f])
    return datetime.date(2025, 1, 1) + delta
