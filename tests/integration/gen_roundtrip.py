#!/usr/bin/env python3
"""Write a Prometheus text file in pacewatch dump's canonical form: series
sorted by (metric name, labels), HELP/TYPE before each metric, values in the
shortest form that round-trips, awkward label values. Usage: gen N OUT"""
import math
import random
import struct
import sys

def fmt(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    if abs(v) < 2**53 and v == int(v):
        return "%d" % int(v)
    for p in (15, 16, 17):
        s = "%.*g" % (p, v)
        if float(s) == v:
            return s
    return s

def esc(s, quote=True):
    s = s.replace("\\", "\\\\").replace("\n", "\\n")
    return s.replace('"', '\\"') if quote else s

def main():
    total, out = int(sys.argv[1]), sys.argv[2]
    rnd = random.Random(2025)
    cities = ["济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁",
              "泰安", "威海", "日照", "临沂", "德州", "聊城", "滨州", "菏泽"]
    awkward = ['quote"inside', "back\\slash", "new\nline", "郓城县\n\"二\\期\"", "", "a,b=c}"]
    metrics = {
        "mr_recognitions_total": ("counter", "检查检验结果互认次数 (recognitions)"),
        "hotline_calls_offered_total": ("counter", "12356 心理援助热线 calls\\n offered"),
        "dialysis_hospitals": ("gauge", "Hospitals offering hemodialysis\nper county"),
        "childcare_spots_per_1000": ("gauge", ""),
        "odd_values": ("", "values that test the float path"),
    }
    series = []
    for m in metrics:
        for i, c in enumerate(cities):
            labels = {"city": c, "code": "37%02d00" % (i + 1)}
            if m == "odd_values":
                labels["note"] = awkward[i % len(awkward)]
            labels = {k: v for k, v in labels.items() if v != ""}
            series.append((m, labels))
    per = total // len(series)
    extra = total - per * len(series)

    def enc(s):
        b = s[0].encode() + b"\0"
        for k in sorted(s[1]):
            b += k.encode() + b"\0" + s[1][k].encode() + b"\0"
        return b
    series.sort(key=enc)
    specials = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 5e-324, 1e308,
                0.1, 1 / 3, -2.5e-7, 2**53 + 2.0, 123456.789]
    lines = []
    last = None
    for si, (m, labels) in enumerate(series):
        if m != last:
            typ, help_ = metrics[m]
            if help_:
                lines.append("# HELP %s %s" % (m, esc(help_, False)))
            if typ:
                lines.append("# TYPE %s %s" % (m, typ))
            last = m
        lab = ",".join('%s="%s"' % (k, esc(labels[k])) for k in sorted(labels))
        head = m + ("{" + lab + "}" if lab else "")
        n = per + (1 if si < extra else 0)
        t = 1735660800000 - 40 * 86400000 + rnd.randrange(1000)
        v = float(rnd.randrange(1000000))
        for j in range(n):
            t += 15000 + rnd.randrange(-20, 20)
            if m.endswith("_total"):
                v += rnd.randrange(0, 40)
            elif m == "odd_values":
                v = specials[j % len(specials)] if j % 3 else rnd.uniform(-1e6, 1e6)
            else:
                v = round(rnd.uniform(0, 10), rnd.randrange(0, 4)) if j % 50 == 0 else v
            lines.append("%s %s %d" % (head, fmt(v), t))
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

main()
