"""The dataset the PromQL differential test loads into both Prometheus and
pacewatch: the programme's platforms over four hours of 2026-01-01, with the
awkward cases a query engine must get right — counter resets, NaN and ±Inf,
a gap longer than the lookback delta, series that stop, sparse series,
classic histograms, label values full of regex metacharacters, and metric
pairs whose label sets collide once the name is dropped.

write(dir) writes data.om (OpenMetrics, for promtool tsdb
create-blocks-from openmetrics) and data.prom (the text format with
millisecond timestamps, for pacewatch import). Deterministic."""
import math
import os
import random

T0 = 1767225600  # 2026-01-01T00:00:00Z
HOURS = 4
CITIES = ["杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴"]


def series():
    rnd = random.Random(20260101)
    out = []  # (name, labels dict, [(t_ms, value)])
    end = T0 + HOURS * 3600

    def add(name, labels, pts):
        out.append((name, labels, pts))

    # mutual recognition: counters every 15 s, one reset in 温州 at 2h
    for ci, city in enumerate(CITIES):
        v, pts = 50.0 * ci, []
        for t in range(T0, end, 15):
            v += rnd.randint(0, 5) + ci * 0.001  # no two cities' rates tie
            if city == "温州" and t == T0 + 7200:
                v = 3
            pts.append((t * 1000, v))
        add("mr_recognised_total", {"city": city, "platform": "mr", "instance": "mr-1:80"}, pts)

    # hotline calls by outcome, every 30 s
    for city in CITIES[:4]:
        for outcome, rate in (("answered", 9), ("abandoned", 2)):
            v, pts = 0.0, []
            for t in range(T0, end, 30):
                v += rnd.randint(0, rate)
                pts.append((t * 1000, v))
            add("hotline_calls_total", {"city": city, "outcome": outcome, "instance": "hl:80"}, pts)

    # dialysis coverage per county: gauges in [0, 1], NaN now and then
    for ci, city in enumerate(CITIES[:3]):
        for cj, county in enumerate(("东区", "西区")):
            pts = []
            for i, t in enumerate(range(T0, end, 60)):
                val = round(0.5 + 0.4 * math.sin(i / 17.0 + ci * 1.3 + cj * 0.7), 4)
                if i % 37 == 5:
                    val = float("nan")
                pts.append((t * 1000, val))
            add("dialysis_coverage_ratio", {"city": city, "county": county}, pts)

    # childcare spots per 1,000 people; 湖州 has a 20-minute gap at 1h
    for city in CITIES:
        pts = []
        for t in range(T0, end, 15):
            if city == "湖州" and T0 + 3600 <= t < T0 + 3600 + 1200:
                continue
            pts.append((t * 1000, round(3.9 + (t - T0) / 20000.0 + CITIES.index(city) * 0.1, 6)))
        add("childcare_spots_per_1000", {"city": city, "target": "4.8"}, pts)

    # outreach events: integers every minute; 嘉兴 stops at 2h
    for city in CITIES:
        pts, v = [], 0
        for t in range(T0, end, 60):
            if city == "嘉兴" and t >= T0 + 7200:
                break
            if rnd.random() < 0.1:
                v += 1
            pts.append((t * 1000, float(v)))
        add("outreach_events_month", {"city": city}, pts)

    # sparse: one sample every 10 minutes
    pts = [(t * 1000, float((t - T0) // 600)) for t in range(T0, end, 600)]
    add("ledger_entries", {"source": "ledger"}, pts)

    # classic histogram of platform response times
    bounds = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
    for city in CITIES[:3]:
        counts = [0.0] * len(bounds)
        tot, bucket_pts = 0.0, [[] for _ in bounds]
        sum_pts, count_pts = [], []
        for t in range(T0, end, 30):
            for _ in range(rnd.randint(0, 6)):
                d = rnd.expovariate(3.0)
                tot += d
                for bi, b in enumerate(bounds):
                    if b == "+Inf" or d <= float(b):
                        counts[bi] += 1
            for bi in range(len(bounds)):
                bucket_pts[bi].append((t * 1000, counts[bi]))
            sum_pts.append((t * 1000, round(tot, 6)))
            count_pts.append((t * 1000, counts[-1]))
        for bi, b in enumerate(bounds):
            add("platform_request_seconds_bucket", {"city": city, "le": b}, bucket_pts[bi])
        add("platform_request_seconds_sum", {"city": city}, sum_pts)
        add("platform_request_seconds_count", {"city": city}, count_pts)

    # special values
    for kind, val in (("inf", float("inf")), ("neginf", float("-inf")), ("zero", 0.0),
                      ("neg", -2.5), ("big", 1.5e300), ("tiny", 3e-300)):
        add("special_value", {"kind": kind}, [(t * 1000, val) for t in range(T0, end, 60)])

    # regex metacharacters in values
    for path in ("/api/v1", "/api/v2", "/health", "a.b", "a+b", "(x)", "多字节"):
        add("http_path_hits_total", {"path": path},
            [(t * 1000, float((t - T0) // 60)) for t in range(T0, end, 60)])

    # regular expressions (issue 17): 302 values of a run of a's and digits,
    # on which a backtracking engine gives up for "(a|aa)*b|a*[0-9]+"; a's
    # ending in b; case, scripts, and a series without the label v
    probe = [(t * 1000, 1.0) for t in range(T0, end, 600)]
    for i in range(302):
        add("regex_probe", {"v": "a" * i + str(i)}, probe)
    for v in ("a" * 40 + "b", "JiNaN", "jinan", "济南", "青岛", "a)", "xb", "A-1", "a.b"):
        add("regex_probe", {"v": v}, probe)
    add("regex_probe", {"w": "no v"}, probe)

    # pairs that collide without their name
    for name in ("coll_a", "coll_b"):
        add(name, {"x": "1"}, [(t * 1000, 1.0 if name == "coll_a" else 2.0)
                              for t in range(T0, end, 60)])
    return out


def fmt(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def esc(v):
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def labelstr(labels):
    return ",".join('%s="%s"' % (k, esc(v)) for k, v in sorted(labels.items()))


def write(d):
    ss = series()
    n = 0
    with open(os.path.join(d, "data.om"), "w", encoding="utf-8") as om, \
            open(os.path.join(d, "data.prom"), "w", encoding="utf-8") as pt:
        for name, labels, pts in ss:
            ls = labelstr(labels)
            for t, v in pts:
                om.write("%s{%s} %s %d.%03d\n" % (name, ls, fmt(v), t // 1000, t % 1000))
                pt.write("%s{%s} %s %d\n" % (name, ls, fmt(v), t))
                n += 1
        om.write("# EOF\n")
    return n


if __name__ == "__main__":
    import sys
    print(write(sys.argv[1]))
