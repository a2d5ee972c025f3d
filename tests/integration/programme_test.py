#!/usr/bin/python3
"""The programme's data sources (docs/programme.md): the simulator's institution
registry, e-vaccination and e-donation certificate systems and ledger directory,
and the ledger generator's workbooks and CSV files.

Every simulator here runs on 127.0.0.1, started and stopped by this test by PID.
Figures are checked two ways: a few units against the numbers worked out by hand
in docs/programme.md, and every unit against the formulas written there,
re-implemented below from the doc (not from the simulator's code).

The programme's KPIs on these platforms (conf/examples/programme-2025.json) run in
pacewatch against a simulator playing 1 November 2025, the KPIs' dates moved as
scripts/demo moves them: each unit's status is the part docs/programme.md gives it.

usage: programme_test.py PACEWATCH SIMULATOR WORKDIR SOURCEDIR   (Debian's python3, for openpyxl)
"""
import csv
import datetime
import io
import json
import math
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish, free_port, stop_daemon  # noqa: E402

import openpyxl  # noqa: E402

PW, SIM, WORK, SRC = sys.argv[1:5]
GEN = os.path.join(SRC, "scripts/ledgers/generate.py")
DAY = 86400
CST = datetime.timezone(datetime.timedelta(hours=8))
EPOCH = datetime.datetime(2025, 1, 1, tzinfo=CST)
procs = []


def start_sim(name, *args):
    portfile = os.path.join(WORK, name + ".port")
    log = open(os.path.join(WORK, name + ".log"), "w")
    p = subprocess.Popen([SIM, "--listen", "127.0.0.1:0", "--port-file", portfile] + list(args),
                         stdout=log, stderr=subprocess.STDOUT)
    procs.append(p)
    for _ in range(400):
        if os.path.exists(portfile) and open(portfile).read().strip():
            return "http://127.0.0.1:%d" % int(open(portfile).read())
        if p.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit("simulator %s did not start" % name)


def stop_all():
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    for name in os.listdir(WORK):
        if name.endswith(".log"):
            text = open(os.path.join(WORK, name), errors="replace").read()
            for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                check(bad not in text, "no sanitizer report in %s" % name)


def get(url):
    """(status, content type, body bytes)"""
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def jget(url):
    st, _, body = get(url)
    check(st == 200, "%s answers 200 (got %s: %s)" % (url, st, body[:200]))
    return json.loads(body.decode("utf-8"))


def as_of_seconds(as_of):
    """asOf (local +08:00) as seconds since 2025-01-01 +08:00"""
    t = datetime.datetime.strptime(as_of, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
    return int((t - EPOCH).total_seconds())


# ---- the formulas of docs/programme.md ------------------------------------------------

PARTS = {"郓城县": "on_track", "青岛第3县": "on_track", "曹县": "lagging", "聊城第2县": "lagging",
         "商河县": "at_risk", "平阴县": "stale", "鄄城县": "absent"}
CITY_ORDER = ["370100", "370200", "370300", "370400", "370500", "370600", "370700", "370800",
              "370900", "371000", "371100", "371300", "371400", "371500", "371600", "371700"]


def ceil_frac(num, den):
    """⌈num / den⌉ for integers, den > 0"""
    return -((-num) // den)


def online_day(part, n, j, p0):
    """d_j of the doc's table, in exact arithmetic (20.04 = 501/25, 16.7 = 167/10)"""
    if part == "on_track":
        k0 = min(n, max(0, ceil_frac(n * (25 * p0 - 501), 25 * 334)))
        return p0 * j // k0 if j < k0 else p0 + 1 + 3 * (j - k0)
    if part == "lagging":
        return 334 * j // n + 90
    if part == "at_risk":
        k = min(n, max(0, ceil_frac(n * (10 * p0 - 167), 3340)))
        return p0 * j // k if j < k else 365
    return 288 * j // n


def bound_at(b, d, s):
    if s < d * DAY or d >= 365:
        return 0
    span = (365 - d) * DAY
    return b * min(s - d * DAY, span) // span


# ---- the registry ---------------------------------------------------------------------

def registry(base):
    """every record of the registry, read page by page; checks the paging"""
    recs, page = [], 1
    while page < 20:
        j = jget(base + "/registry/api/v1/institutions?page=%d&size=500" % page)
        d = j["data"]
        check(j["code"] == 0 and d["page"] == page and d["size"] == 500, "registry page %d: %s" %
              (page, {k: d.get(k) for k in ("page", "size", "total", "isLast")}))
        recs += d["records"]
        if d["isLast"]:
            break
        page += 1
    check(len(recs) == d["total"] == 1774 + 17,
          "the registry lists 1,774 township centres and 17 blood stations (%d, total %s)" %
          (len(recs), d["total"]))
    check(len({r["orgCode"] for r in recs}) == len(recs), "registry codes are unique")
    st = jget(base + "/registry/api/v1/institutions?type=blood_station")["data"]
    check(st["total"] == 17 and st["isLast"] and [r["orgCode"] for r in st["records"]][:1] == ["B370100"]
          and st["records"][0]["orgName"] == "山东省血液中心"
          and {r["orgName"] for r in st["records"]} >= {"莱芜中心血站", "菏泽市中心血站"},
          "blood stations: %s" % [r["orgName"] for r in st["records"]])
    tc = jget(base + "/registry/api/v1/institutions?type=township_centre&size=1000&page=2")["data"]
    check(tc["total"] == 1774 and len(tc["records"]) == 774 and tc["isLast"],
          "township centres, second page of 1000: %s %s" % (tc["total"], len(tc["records"])))
    code, _, body = get(base + "/registry/api/v1/institutions?type=hospital%22%3C")
    refused = json.loads(body.decode("utf-8")) if code == 400 else {}
    check(code == 400 and "unknown type" in refused.get("msg", "") and refused.get("type") == 'hospital"<',
          "an unknown type is refused, naming it: %s %s" % (code, body))
    return recs


def county_table(recs):
    """county code -> (i, k, name, city name, n) from the registry's centres"""
    counties = {}
    for r in recs:
        if r["orgType"] == "血站":
            continue
        cc = r["countyCode"]
        i, k = CITY_ORDER.index(r["cityCode"]), int(cc[4:]) - 21
        c = counties.setdefault(cc, [i, k, r["countyName"], r["cityName"], 0])
        c[4] += 1
        check(r["orgCode"] == "%s%03d" % (cc, c[4]), "centres numbered in order: %s" % r["orgCode"])
    for cc, (i, k, name, city, n) in counties.items():
        want = 22 if name == "郓城县" else 8 + (7 * i + 5 * k) % 11
        check(n == want, "%s has %d centres (doc: %d)" % (name, n, want))
    return counties


def check_evacc(base, counties, p0, first_date, shift=0):
    """both e-vaccination endpoints against the doc's formulas at their asOf; shift:
    days from the programme date played to --start"""
    j = jget(base + "/evacc/api/v1/counties")
    s = as_of_seconds(j["asOf"]) - shift * DAY
    delta = s - p0 * DAY
    seen = {}
    for region in j["data"]["regions"]:
        for c in region["counties"]:
            seen[c["countyCode"]] = c
    for cc, (i, k, name, city, n) in counties.items():
        part = PARTS.get(name, "ahead")
        served = part != "absent" and not (part == "stale" and delta >= DAY // 4)
        check((cc in seen) == served, "%s is %s at delta %.2f d" %
              (name, "served" if served else "left out", delta / DAY))
        if cc not in seen:
            continue
        c = seen[cc]
        days = [online_day(part, n, jj, p0) for jj in range(n)]
        on = sum(1 for d in days if s >= d * DAY)
        bound = certs = 0
        for jj, d in enumerate(days):
            b = bound_at(6000 + 60 * ((37 * jj + 17 * k + 7 * i) % 100), d, s)
            bound += b
            certs += b * 8524 // 10000
        got = (c["centres"], c["centresOnline"], round(c["onlineRate"], 4), c["peopleBound"],
               c["certificates"])
        want = (n, on, round(on / n, 4), bound, certs)
        check(got == want, "%s at %s: %s, doc %s" % (name, j["asOf"], got, want))
    rows, page = [], 1
    while page < 10:  # each page is computed at its own asOf
        pj = jget(base + "/evacc/api/v1/centres?pageNo=%d&pageSize=1000" % page)
        s = as_of_seconds(pj["asOf"]) - shift * DAY
        rows += [dict(r, s=s) for r in pj["rows"]]
        if pj["last"]:
            break
        page += 1
    total = sum(v[4] for cc, v in counties.items() if cc in seen)
    check(len(rows) == pj["total"] == total, "centres: %d rows, total %s, counties say %d" %
          (len(rows), pj["total"], total))
    bad = []
    for r in rows:
        s = r["s"]
        i, k, name, city, n = counties[r["countyCode"]]
        jj = int(r["unitCode"][-3:]) - 1
        d = online_day(PARTS.get(name, "ahead"), n, jj, p0)
        b = bound_at(6000 + 60 * ((37 * jj + 17 * k + 7 * i) % 100), d, s)
        online = s >= d * DAY
        date = (first_date + datetime.timedelta(days=d)).isoformat() if online else None
        want = ("已上线" if online else "未上线", date, b, b * 8524 // 10000)
        got = (r["status"], r["onlineDate"], r["peopleBound"], r["certificates"])
        if got != want:
            bad.append((r["unitName"], got, want))
    check(not bad, "every centre follows the doc (%d differ): %s" % (len(bad), bad[:3]))
    return seen, rows


def test_frozen_november():
    """--start 2025-11-01, clock frozen: the doc's worked example"""
    base = start_sim("nov", "--accel", "0", "--start", "2025-11-01")
    recs = registry(base)
    counties = county_table(recs)
    yc = [r for r in recs if r["countyName"] == "郓城县"]
    check(len(yc) == 22 and yc[0]["orgName"] == "郓州街道社区卫生服务中心" and yc[0]["orgCode"] == "371727001"
          and yc[-1]["orgName"] == "陈坡乡卫生院" and yc[4]["orgType"] == "乡镇卫生院",
          "郓城县's centres: %s" % [r["orgName"] for r in yc[:5]])
    seen, rows = check_evacc(base, counties, 304, datetime.date(2025, 1, 1))
    by_name = {c["countyName"]: c for c in seen.values()}
    # hand-worked in docs/programme.md
    check(by_name["郓城县"]["centresOnline"] == 19 and by_name["郓城县"]["onlineRate"] == 0.8636,
          "郓城县: 19 of 22 online, 0.8636: %s" % by_name["郓城县"])
    check(by_name["曹县"]["centresOnline"] == 9 and by_name["曹县"]["onlineRate"] == 0.6923,
          "曹县: 9 of 13: %s" % by_name["曹县"])
    check(by_name["商河县"]["centresOnline"] == 7 and by_name["商河县"]["onlineRate"] == 0.875,
          "商河县: 7 of 8: %s" % by_name["商河县"])
    check("鄄城县" not in by_name and "平阴县" in by_name, "鄄城县 never reports; 平阴县 does at the start")
    first = [r for r in rows if r["unitCode"] == "371727001"]
    check(first and (first[0]["peopleBound"], first[0]["certificates"], first[0]["onlineDate"]) ==
          (5347, 4557, "2025-01-01"), "郓州街道社区卫生服务中心: 5347 bound, 4557 certificates: %s" % first)
    check(len(rows) == 1774 - 16, "鄄城县's 16 centres are not on the platform: %d rows" % len(rows))


def test_frozen_july():
    """--start 2025-07-01, frozen: the e-donation worked example"""
    base = start_sim("jul", "--accel", "0", "--start", "2025-07-01")
    j = jget(base + "/edonation/api/v1/stations")
    check(j["errcode"] == 0 and j["asOf"] == "2025-07-01 00:00:00", "e-donation asOf: %s" % j.get("asOf"))
    st = {r["stationName"]: r for r in j["data"]}
    check(len(st) == 16 and "莱芜中心血站" not in st and "枣庄市中心血站" in st,
          "16 stations report, 莱芜 only in the registry: %s" % sorted(st))
    jn = st.get("山东省血液中心", {})
    check((jn.get("cases"), jn.get("amountYuan"), jn.get("crossProvinceCases"), jn.get("avgSettleDays"),
           jn.get("zeroTrip"), jn.get("joinedOn"), jn.get("onlineCases")) ==
          ("3163", "1723835.00", "474", 1.0, "是", "2024-06-15", "3163"), "济南 (hand-worked): %s" % jn)
    lc = st.get("聊城市中心血站", {})
    check((lc.get("cases"), lc.get("onlineCases"), lc.get("avgSettleDays"), lc.get("zeroTrip"),
           lc.get("joinedOn")) == ("2045", "0", 15.0, "否", None), "聊城 (hand-worked): %s" % lc)
    hz = st.get("菏泽市中心血站", {})
    check(hz.get("zeroTrip") == "否" and hz.get("joinedOn") is None, "菏泽 joins later: %s" % hz)
    # every station against the doc's table and formulas
    years = [6379, 6982, 3258, 2676, 1518, 4923, 6510, 5796, 3792, 2017, 2059, 7641, 3889, 4125, 2725,
             6101]
    check(sum(years) == 70391, "the stations' years sum to 70,391")
    s = 181 * DAY
    for r in j["data"]:
        i = CITY_ORDER.index(r["cityCode"])
        y = years[i]
        joined_day = 183 if i == 15 else 396 if i == 13 else -200
        cases = y * s // (365 * DAY)
        joined = s >= joined_day * DAY
        online = y * max(0, s - max(DAY * joined_day, 0)) // (365 * DAY) if joined else 0
        want = (str(cases), "%d.00" % (cases * 545), str(online), str(cases * 3 // 20),
                1 + 0.5 * (i % 4) if joined else 15.0)
        got = (r["cases"], r["amountYuan"], r["onlineCases"], r["crossProvinceCases"], r["avgSettleDays"])
        check(got == want, "%s: %s, doc %s" % (r["stationName"], got, want))


def test_moving():
    """the demo's roles on a running clock: --start today playing 2025-11-01, 14,400x
    (a simulated day in 6 s): 平阴县 and 枣庄's station stop at delta 0.25 d, 菏泽's
    station joins at delta 2 d, 郓城县's last three centres come online at delta 1, 4, 7"""
    today = datetime.datetime.now(CST).date()
    base = start_sim("moving", "--accel", "14400", "--start", today.isoformat(), "--plays", "2025-11-01")
    recs = registry(base)
    counties = county_table(recs)
    shift = (today - datetime.date(2025, 11, 1)).days
    p0 = 304
    states = set()
    deadline = time.time() + 90
    while time.time() < deadline:
        j = jget(base + "/edonation/api/v1/stations")
        delta = as_of_seconds(j["asOf"]) - (p0 + shift) * DAY
        st = {r["stationName"]: r for r in j["data"]}
        zz = "枣庄市中心血站" in st
        check(zz == (delta < DAY // 4), "枣庄's station reports only before delta 0.25 d (%.3f d: %s)" %
              (delta / DAY, zz))
        hz = st["菏泽市中心血站"]
        joined = delta >= 2 * DAY
        want_date = (today + datetime.timedelta(days=2)).isoformat() if joined else None
        check((hz["zeroTrip"], hz["joinedOn"]) == (("是" if joined else "否"), want_date),
              "菏泽 joins at delta 2 d (%.3f d): %s" % (delta / DAY, hz))
        states.add((zz, joined))
        if joined and delta >= 8 * DAY:
            break
        time.sleep(1)
    check((True, False) in states or (False, False) in states, "seen before 菏泽 joins: %s" % states)
    check((False, True) in states, "seen 枣庄 gone and 菏泽 joined: %s" % states)
    # the clock shifted: programme day x shows as today + (x - 304)
    seen, rows = check_evacc(base, counties, p0, today - datetime.timedelta(days=p0), shift)
    yc = [c for c in seen.values() if c["countyName"] == "郓城县"][0]
    check(yc["centresOnline"] == 22 and yc["onlineRate"] == 1.0, "郓城县 is complete after delta 7: %s" % yc)
    check(all(c["countyName"] != "平阴县" for c in seen.values()), "平阴县 has stopped reporting")
    check(all(r["countyName"] != "平阴县" for r in rows), "and so have its centres")


def test_faults_and_ledgers(ledgers):
    base = start_sim("faults", "--accel", "0", "--fault", "evacc=http500", "--ledger-dir", ledgers)
    code, _, _ = get(base + "/evacc/api/v1/counties")
    check(code == 500, "--fault evacc=http500 applies to /evacc/api/v1/counties: %s" % code)
    code, _, _ = get(base + "/_admin/fault?endpoint=edonation&kind=http500")
    code2, _, _ = get(base + "/edonation/api/v1/stations")
    check(code == 200 and code2 == 500, "a run-time fault on edonation: %s %s" % (code, code2))
    code, ctype, body = get(base + "/ledgers/")
    listing = json.loads(body.decode("utf-8")) if code == 200 else []
    names = {x["name"]: x["size"] for x in listing}
    files = sorted(os.listdir(ledgers))
    check(code == 200 and sorted(names) == files and
          all(names[f] == os.path.getsize(os.path.join(ledgers, f)) for f in files),
          "/ledgers/ lists the directory with sizes: %s %s" % (code, sorted(names)[:4]))
    code, ctype, body = get(base + "/ledgers/village_clinics.xlsx")
    check(code == 200 and ctype.startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
          and body == open(os.path.join(ledgers, "village_clinics.xlsx"), "rb").read(),
          "a workbook served byte for byte: %s %s" % (code, ctype))
    code, ctype, body = get(base + "/ledgers/outreach.gb18030.csv")
    check(code == 200 and ctype == "text/csv" and
          body == open(os.path.join(ledgers, "outreach.gb18030.csv"), "rb").read(),
          "a CSV served as text/csv without a charset: %s %s" % (code, ctype))
    for bad in ("/ledgers/..%2Fsim.log", "/ledgers/.hidden", "/ledgers/nothing.xlsx", "/ledgers/a%20b"):
        code, _, _ = get(base + bad)
        check(code == 404, "%s is refused with 404 (got %s)" % (bad, code))


def test_kpis():
    """the new KPIs in pacewatch: every unit plays its documented part, and a roster unit
    is the same unit as the platform's (one unit per centre, station and county)"""
    today = datetime.datetime.now(CST).date()
    shift = today - datetime.date(2025, 11, 1)
    base = start_sim("kpis", "--accel", "0", "--start", today.isoformat(), "--plays", "2025-11-01")
    text = open(os.path.join(SRC, "conf/examples/programme-2025.json"), encoding="utf-8").read()
    text = text.replace("http://127.0.0.1:18080", base)
    conf = json.loads("\n".join(line for line in text.splitlines() if not line.strip().startswith("//")))
    keep = {"institution_registry_centres", "institution_registry_stations", "evacc_counties",
            "evacc_centres", "edonation_stations", "dialysis_registry"}
    conf["targets"] = [dict(x, interval="5s") for x in conf["targets"] if x["name"] in keep]
    conf["kpis"] = [k for k in conf["kpis"]
                    if k["name"] in ("evacc_centres_online", "evacc_county_share", "edonation_stations")]
    for k in conf["kpis"]:
        for f in ("start", "deadline"):
            k[f] = (datetime.date.fromisoformat(k[f]) + shift).isoformat()
    http = free_port()
    conf["global"].update(scrape_interval="5s", scrape_timeout="5s", evaluation_interval="2s")
    conf["storage"]["path"] = os.path.join(WORK, "kpi-store")
    conf["http"] = {"listen": ["127.0.0.1:%d" % http]}
    conf.pop("rule_groups", None)
    conf["units"]["file"] = os.path.join(SRC, "conf/examples", conf["units"]["file"])
    cfg = os.path.join(WORK, "kpis.json")
    json.dump(conf, open(cfg, "w", encoding="utf-8"), ensure_ascii=False)
    log = os.path.join(WORK, "pacewatch-kpis.log")
    pw = subprocess.Popen([PW, "run", "-c", cfg], stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    want_units = {"evacc_centres_online": 1774, "evacc_county_share": 136, "edonation_stations": 17}
    kpis = {}
    try:
        end = time.time() + 120
        while time.time() < end and pw.poll() is None:
            time.sleep(2)
            try:
                st, _, body = get("http://127.0.0.1:%d/api/v1/kpis" % http)
            except OSError:
                continue
            if st != 200:
                continue
            kpis = {k["name"]: k for k in json.loads(body)["data"]["kpis"]}
            done = all(len(kpis.get(n, {}).get("units", [])) >= c for n, c in want_units.items())
            statuses = [u["status"] for k in kpis.values() for u in k["units"]]
            if done and "unknown" not in statuses and "pending" not in statuses:
                time.sleep(4)  # one more evaluation after every target's first scrape
                st, _, body = get("http://127.0.0.1:%d/api/v1/kpis" % http)
                kpis = {k["name"]: k for k in json.loads(body)["data"]["kpis"]}
                break
    finally:
        stop_daemon(pw, log)

    def by_status(name, label):
        out = {}
        for u in kpis.get(name, {}).get("units", []):
            out.setdefault(u["status"], set()).add(u["labels"].get(label))
        return out
    for n, c in want_units.items():
        units = kpis.get(n, {}).get("units", [])
        check(len(units) == c, "%s has %d units, one per roster unit (%d): %s" %
              (n, c, len(units), sorted({u["status"] for u in units})))
    cs = by_status("evacc_county_share", "county")
    check(cs.get("on_track") == {"郓城县", "青岛第3县", "商河县"} and cs.get("lagging") == {"曹县", "聊城第2县"}
          and cs.get("not_reporting") == {"鄄城县"} and len(cs.get("met", ())) == 136 - 6,
          "evacc_county_share: on track 郓城县, 青岛第3县 (and 商河县 until its forecast), lagging 曹县 and "
          "聊城第2县, 鄄城县 not reporting, the rest met: %s" %
          {k: (sorted(v) if len(v) < 8 else len(v)) for k, v in cs.items()})
    ce = by_status("evacc_centres_online", "unit_code")
    nc = sorted(ce.get("not_covered", ()))
    check(len(nc) == 3 + 2 + 4 + 5 + 1 and {c[:6] for c in nc} ==
          {"371727", "370223", "371723", "371522", "370132"} and
          {c[:6] for c in ce.get("not_reporting", ())} == {"371728"} and len(ce.get("not_reporting", ())) == 16,
          "evacc_centres_online: 15 centres not yet online (郓城县 3, 青岛第3县 2, 曹县 4, 聊城第2县 5, "
          "商河县 1), 鄄城县's 16 not reporting: %s" % {k: len(v) for k, v in ce.items()})
    ed = by_status("edonation_stations", "unit")
    check(ed.get("not_covered") == {"聊城市中心血站", "菏泽市中心血站"} and ed.get("not_reporting") == {"莱芜中心血站"}
          and len(ed.get("met", ())) == 14, "edonation_stations: %s" % ed)


# ---- the ledgers ----------------------------------------------------------------------

TOWNS = ["郓州街道", "唐塔街道", "张营街道", "潘渡街道", "黄安镇", "杨庄集镇", "侯咽集镇", "黄集镇",
         "李集镇", "郭屯镇", "丁里长镇", "玉皇庙镇", "程屯镇", "随官屯镇", "武安镇", "双桥镇",
         "南赵楼镇", "黄泥冈镇", "唐庙镇", "张鲁集镇", "水堡乡", "陈坡乡"]


def generate(out, *extra):
    p = subprocess.run([sys.executable, GEN, "--out", out] + list(extra), capture_output=True, text=True)
    check(p.returncode == 0, "generate.py %s: %s" % (" ".join(extra), p.stderr[-500:]))


def csv_rows(path, encoding):
    raw = open(path, "rb").read()
    text = raw.decode(encoding)
    check(text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), "%s has CRLF line ends" % path)
    return raw, list(csv.reader(io.StringIO(text, newline="")))


def test_ledgers(out):
    generate(out, "--seed", "2025", "--start", "2025-01-01", "--until", "2026-01-01")
    again = os.path.join(WORK, "ledgers-again")
    generate(again, "--seed", "2025", "--start", "2025-01-01", "--until", "2026-01-01")
    files = sorted(os.listdir(out))
    check(len(files) == 13 + 15 * 3 and files == sorted(os.listdir(again)) and
          all(open(os.path.join(out, f), "rb").read() == open(os.path.join(again, f), "rb").read()
              for f in files), "13 workbooks and 45 CSV files, byte-identical from the same seed")

    # every workbook: title merged over the header's width, the reporting row, a blank row, a header
    for f in files:
        if not f.endswith(".xlsx"):
            continue
        wb = openpyxl.load_workbook(os.path.join(out, f))
        for ws in wb.worksheets:
            merged = {str(r) for r in ws.merged_cells.ranges}
            title = ws.cell(1, 1).value
            check(title.startswith("郓城县2025年") and "台账" in title and
                  "A1:%s1" % openpyxl.utils.get_column_letter(ws.max_column) in merged,
                  "%s/%s: a merged title row: %r %s" % (f, ws.title, title, sorted(merged)[:3]))
            check(str(ws.cell(2, 1).value).startswith("填报单位：郓城县卫生健康局") and
                  all(c.value is None for c in ws[3]), "%s/%s: the reporting unit, a blank row" % (f, ws.title))
            check(ws.cell(4, 1).value in ("序号", "月份"), "%s/%s: the header on row 4: %r" %
                  (f, ws.title, ws.cell(4, 1).value))
            check(any(str(c.value or "").startswith("填表人") for c in ws[ws.max_row]),
                  "%s/%s: the signature line last" % (f, ws.title))
    wb = openpyxl.load_workbook(os.path.join(out, "elderly_care.xlsx"))
    check(wb.sheetnames == ["机构", "安宁疗护", "老年医学科"], "elderly_care's sheets: %s" % wb.sheetnames)

    # village_clinics: the rows, worked by hand from the doc
    ws = openpyxl.load_workbook(os.path.join(out, "village_clinics.xlsx")).active
    head = [c.value for c in ws[4]]
    check(head == ["序号", "乡镇（街道）", "月份", "计划改造数（个）", "其中：第一批（6月底前）", "本月完成（个）",
                   "累计完成（个）", "完成率", "备注"], "village_clinics' header: %s" % head)
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=5, max_row=4 + 22 * 12)]
    merged = {str(r) for r in ws.merged_cells.ranges}
    check("B5:B16" in merged and "A5:A16" in merged and "B257:B268" in merged,
          "each township's name and number merged over its 12 months")
    check([rows[12 * t][1] for t in range(22)] == TOWNS and all(r[1] is None for r in rows if r not in
                                                                [rows[12 * t] for t in range(22)]),
          "townships in code order, the name in the first of its rows only")

    def row(town, month):  # month 1..12
        return rows[12 * TOWNS.index(town) + month - 1]
    first = ws.cell(5, 3)
    check(first.value == datetime.datetime(2025, 1, 31) and first.number_format == 'yyyy"年"m"月"',
          "months are serial dates shown as 2025年1月: %r %s" % (first.value, first.number_format))
    check(ws.cell(5, 8).number_format == "0.0%", "完成率 is a percentage")
    check(sum(rows[12 * t][3] for t in range(22)) == 200 and
          sum(rows[12 * t][4] for t in range(22)) == 106, "200 clinics planned, 106 in the first batch")
    # 郓州街道 (t = 0): plan 7, met early: ⌊7 · 6/6⌋ = 7 by June
    check(row("郓州街道", 1)[3:7] == [7, 4, 1, 1] and row("郓州街道", 6)[6] == 7,
          "郓州街道: plan 7, 4 in the first batch, 1 in January, 7 by June: %s %s" %
          (row("郓州街道", 1), row("郓州街道", 6)))
    # 黄集镇 (t = 7): plan 7 + 21 mod 5 = 8, lagging: November ⌊8 · 0.6⌋ = 4
    check(row("黄集镇", 11)[3] == 8 and row("黄集镇", 11)[6] == 4, "黄集镇 lags: %s" % row("黄集镇", 11))
    # 南赵楼镇 (t = 16): plan 10, stalls at ⌊10 · 0.95 · 6/11⌋ = 5 from June
    check(row("南赵楼镇", 6)[6] == 5 and row("南赵楼镇", 12)[6] == 5 and row("南赵楼镇", 12)[5] == 0,
          "南赵楼镇 stalls at 5: %s" % row("南赵楼镇", 12))
    # 郭屯镇 (t = 9): plan 9, ahead: May ⌊9 · min(1, 1.1 · 5/11)⌋ = 4, done by October
    check(row("郭屯镇", 5)[6] == 4 and row("郭屯镇", 10)[6] == 9, "郭屯镇 ahead: %s" % row("郭屯镇", 5))
    check(row("张鲁集镇", 3)[3] == 10 and all(v is None for v in row("张鲁集镇", 3)[5:8]),
          "张鲁集镇 (plan 7 + 57 mod 5 + 1 = 10) never fills in: %s" % row("张鲁集镇", 3))
    check(row("陈坡乡", 6)[6] is not None and all(v is None for v in row("陈坡乡", 7)[5:8]),
          "陈坡乡 stops after June: %s" % row("陈坡乡", 7))

    # the CSV files: three encodings of the same text, as Excel saves them
    base = os.path.join(out, "village_clinics")
    raw_gb, gb = csv_rows(base + ".gb18030.csv", "gb18030")
    raw_gbb, gbb = csv_rows(base + ".gb18030-bom.csv", "gb18030")
    raw_u8, u8 = csv_rows(base + ".utf8-bom.csv", "utf-8")
    check(raw_gbb[:4] == b"\x84\x31\x95\x33" and raw_u8[:3] == b"\xef\xbb\xbf" and
          raw_gb[:2] == "郓".encode("gb18030"), "BOMs: GB18030 84 31 95 33, UTF-8 EF BB BF, none")
    check(gbb[0][0].lstrip("\ufeff") == gb[0][0] and gbb[1:] == gb[1:] and
          [r[:] for r in u8[1:]] == gb[1:], "the three files hold the same text")
    check(len({len(r) for r in gb}) == 1 and len(gb[0]) == 9, "every row as wide as the sheet (9)")
    check(gb[4] == ["1", "郓州街道", "2025年1月", "7", "4", "1", "1", "14.3%", ""] and gb[5][:3] == ["", "", "2025年2月"],
          "rows as Excel displays them, merged cells empty: %s %s" % (gb[4], gb[5]))
    try:
        raw_gb.decode("gbk")
        gbk_ok = True
    except UnicodeDecodeError:
        gbk_ok = False
    check("㙟".encode("gb18030") in raw_gb and len("㙟".encode("gb18030")) == 4 and not gbk_ok,
          "a character outside GBK (㙟) makes a GBK decoder fail")

    # outreach: months as text, a 小计 row per month, the year's figures of the doc
    _, oc = csv_rows(os.path.join(out, "outreach.utf8-bom.csv"), "utf-8-sig")
    sub = [r for r in oc if len(r) > 1 and r[1] == "小计"]
    check(len(sub) == 12, "a 小计 row per month: %d" % len(sub))
    lectures = [int(r[2]) for r in sub]
    events = [int(r[3]) for r in sub]
    psych = [int(r[4]) for r in sub]
    check(lectures[1] == 0 and sum(lectures) == 11 and events[4] == 5 and events[0] == 7 and
          sum(psych) == 7 and [r[5] for r in sub] == ["2"] * 12,
          "outreach: lectures %s, events %s, psychological %s" % (lectures, events, psych))
    months = [r[0] for r in oc if r[0].startswith("2025年")]
    check(months == ["2025年%d月" % m for m in range(1, 13)], "months as text: %s" % months)
    zl = [r for r in oc if len(r) > 1 and r[1] == "张鲁集镇"]
    check(len(zl) == 12 and all(r[2:] == [""] * 5 for r in zl), "张鲁集镇's outreach rows are blank")

    # dates as text 2025/06/30 in scoliosis, thousands separators
    _, sc = csv_rows(os.path.join(out, "scoliosis.gb18030.csv"), "gb18030")
    check(sc[4][2] == "2025/01/31" and sc[9][2] == "2025/06/30" and sc[4][3] == "4,000",
          "scoliosis: dates as text 2025/06/30, students 4,000: %s" % sc[4])
    ws = openpyxl.load_workbook(os.path.join(out, "scoliosis.xlsx")).active
    check(ws.cell(10, 3).value == "2025/06/30" and ws.cell(5, 4).value == 4000 and
          ws.cell(5, 4).number_format == "#,##0", "scoliosis.xlsx: text date, a number shown 4,000")

    # a shorter run: only the months over by --until
    short = os.path.join(WORK, "ledgers-short")
    generate(short, "--start", "2025-01-01", "--until", "2025-07-01", "--formats", "xlsx")
    ws = openpyxl.load_workbook(os.path.join(short, "village_clinics.xlsx")).active
    check(sorted(os.listdir(short)) == sorted(f for f in files if f.endswith(".xlsx")) and
          ws.cell(4 + 6, 3).value == datetime.datetime(2025, 6, 30) and ws.cell(4 + 7, 2).value == "唐塔街道",
          "until 1 July: six months per township")
    p = subprocess.run([sys.executable, GEN, "--out", short, "--start", "2025-13-01"], capture_output=True,
                       text=True)
    check(p.returncode != 0 and "--start" in p.stderr, "a bad --start is refused, naming it: %s" % p.stderr)


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    ledgers = os.path.join(WORK, "ledgers")
    try:
        test_ledgers(ledgers)
        test_frozen_november()
        test_frozen_july()
        test_faults_and_ledgers(ledgers)
        test_kpis()
        test_moving()
    finally:
        stop_all()
    finish()


if __name__ == "__main__":
    main()
