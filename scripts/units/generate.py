#!/usr/bin/env python3
"""Writes the programme's units table (docs/kpis.md, "The units table") for
conf/examples/programme-2025.json: Shandong, its 16 cities and their counties as
the platform simulator's dialysis registry lists them (codes, names, residents),
and 郓城县's townships and institutions as its ledgers name them.

    tools/simulator --listen 127.0.0.1:18080 --accel 0 &
    scripts/units/generate.py --sim http://127.0.0.1:18080 > conf/examples/programme-units.csv

The ledgers (scripts/ledgers/generate.py) carry no codes, only names: a township
or an institution of 郓城县 therefore has its name as the ledgers write it as its
code, which is what the ledger KPIs' unit_code labels hold. Attributes: a county's
residents; centre 1 for a township or community health centre, general_hospital 1
for a level-2+ public general hospital (the rosters of roster_units). Deterministic: the
same simulator gives the same bytes (UTF-8, LF line ends)."""
import argparse, csv, io, json, sys, urllib.request

TOWNSHIPS = ["郓州街道", "唐塔街道", "张营街道", "潘渡街道", "黄安镇", "杨庄集镇", "侯咽集镇",
             "黄集镇", "李集镇", "郭屯镇", "丁里长镇", "玉皇庙镇", "程屯镇", "随官屯镇", "武安镇",
             "双桥镇", "南赵楼镇", "黄泥冈镇", "唐庙镇", "张鲁集镇", "水堡乡", "陈坡乡"]
INSTITUTIONS = ["郓城县人民医院", "郓城县第二人民医院", "郓城县第三人民医院", "郓城县中医医院",
                "郓城县妇幼保健院", "郓城县精神卫生中心"]
YUNCHENG = "371727"
GENERAL = INSTITUTIONS[:3]  # the level-2+ public general hospitals


def centre(t, j):
    return t + ("社区卫生服务中心" if j < 4 else "卫生院")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sim", required=True, help="the simulator's base URL")
    a = ap.parse_args()
    with urllib.request.urlopen(a.sim.rstrip("/") + "/dialysis/registry", timeout=30) as r:
        reg = json.load(r)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["code", "name", "kind", "parent", "residents", "centre", "general_hospital"])
    w.writerow(["370000", "山东省", "province", "", "", "", ""])
    for c in reg["cities"]:
        w.writerow([c["code"], c["name"] + "市", "city", "370000", "", "", ""])
    for c in reg["cities"]:
        for k in c["counties"]:
            w.writerow([k["code"], k["name"], "county", c["code"], k["residents"], "", ""])
    for t in TOWNSHIPS:
        w.writerow([t, t, "township", YUNCHENG, "", "", ""])
    for j, t in enumerate(TOWNSHIPS):
        w.writerow([centre(t, j), centre(t, j), "institution", t, "", "1", ""])
    for i in INSTITUTIONS:
        w.writerow([i, i, "institution", YUNCHENG, "", "", "1" if i in GENERAL else ""])
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    main()
