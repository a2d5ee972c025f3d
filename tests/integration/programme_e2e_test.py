#!/usr/bin/env python3
"""programme_e2e: the example programme end to end, as scripts/demo runs it
(docs/programme.md): today plays 1 November 2025, the ledgers of 郓城县 are
generated for January to October on the simulator's calendar and served by the
simulator under /ledgers/, pacewatch runs conf/examples/programme-2025.json.
Checks that every one of the 20 items has a KPI with a unit that has a value
and a status, that every panel of exporters/grafana/pacewatch-kpis.json returns
data, and figures worked by hand from the ledger rules in docs/programme.md.

    programme_e2e_test.py PACEWATCH SIMULATOR WORKDIR SRCDIR"""
import csv
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

PW, SIM, WORK, SRC = sys.argv[1:5]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "scripts"))
import democonf  # noqa: E402
from pwtest import check, finish, free_port, programme_config, stop_daemon  # noqa: E402

PLAYS = datetime.date(2025, 11, 1)
ACCEL = 3600
ITEMS = ["N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "S1", "S2", "S3", "S4", "S5", "S6",
         "S7", "S8", "S9", "S10", "H1", "H2"]
TOWNSHIPS = ["郓州街道", "唐塔街道", "张营街道", "潘渡街道", "黄安镇", "杨庄集镇", "侯咽集镇",
             "黄集镇", "李集镇", "郭屯镇", "丁里长镇", "玉皇庙镇", "程屯镇", "随官屯镇", "武安镇",
             "双桥镇", "南赵楼镇", "黄泥冈镇", "唐庙镇", "张鲁集镇", "水堡乡", "陈坡乡"]


def jget(base, path, params=None, timeout=60):
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {"raw": e.read().decode("utf-8", "replace")}
    except (OSError, ValueError) as e:
        return 0, {"raw": str(e)}


def wait_port_file(path, proc, what):
    deadline = time.time() + 60
    while time.time() < deadline:
        if os.path.exists(path) and open(path).read().strip():
            return int(open(path).read())
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit("%s did not start" % what)


def item_ok(kpis):
    """the items with a KPI that has a unit with a value and a status"""
    ok = set()
    for k in kpis:
        if any(u.get("value") is not None and u.get("status") for u in k["units"]):
            ok.add(k["item"].split(" ")[0])
    return ok


def village_clinics_by_rule():
    """郓城县's upgraded village clinics at the end of October (month 9, due
    November: M = 10), per township, from the rules of docs/programme.md"""
    total = {}
    for t, name in enumerate(TOWNSHIPS):
        plan = 7 + (3 * t) % 5 + (1 if t >= 19 else 0)
        m, M = 9, 10
        if name in ("郓州街道", "唐塔街道"):           # met early
            v = plan
        elif name in ("黄集镇", "水堡乡"):              # lagging: 60% of the pace
            v = plan * 6 * (m + 1) // (10 * (M + 1))
        elif name == "南赵楼镇":                       # stalls after June at 95% of June's plan
            v = plan * 95 * 6 // (100 * 11)
        elif name == "陈坡乡":                         # stale after June: June's row, ahead
            v = plan * min(11 * 6, 10 * 11) // (10 * 11)
        elif name == "张鲁集镇":                       # never reports
            v = 0
        else:                                          # ahead: 110% of the pace, capped
            v = min(plan, plan * 11 * (m + 1) // (10 * (M + 1)))
        total[name] = v
    return total


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    ledgers = os.path.join(WORK, "ledgers")
    os.makedirs(ledgers)
    today = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date()
    ledger_start = datetime.date(2025, 1, 1) + (today - PLAYS)
    subprocess.run(["/usr/bin/python3", os.path.join(SRC, "scripts/ledgers/generate.py"),
                    "--out", ledgers, "--start", ledger_start.isoformat(),
                    "--until", today.isoformat()], check=True, stdout=subprocess.DEVNULL)

    sim_pf = os.path.join(WORK, "sim.port")
    sim = subprocess.Popen([SIM, "--listen", "127.0.0.1:0", "--port-file", sim_pf,
                            "--accel", str(ACCEL), "--start", today.isoformat(),
                            "--plays", PLAYS.isoformat(), "--ledger-dir", ledgers],
                           stdout=subprocess.DEVNULL, stderr=open(os.path.join(WORK, "sim.log"), "w"))
    daemon = None
    try:
        sim_port = wait_port_file(sim_pf, sim, "the simulator")
        conf = programme_config(SRC, sim_port, ledgers=True, heavy=True)
        plays_jan1 = democonf.shift(conf, PLAYS, today, ACCEL)
        check(plays_jan1 == ledger_start, "the ledgers start on the day that plays 1 January")
        # polled every 5 s, the per-institution targets (two pages of about
        # 1,770 centres) every 30 s, as the example does: a sanitizer build on a
        # loaded box keeps up
        for t in conf["targets"]:
            t["interval"] = "30s" if t["name"] in ("institution_registry_centres",
                                                    "evacc_centres") else "5s"
        conf["global"]["scrape_interval"], conf["global"]["scrape_timeout"] = "5s", "4s"
        http_port = free_port()
        conf["storage"]["path"] = os.path.join(WORK, "data")
        conf["http"] = {"listen": ["127.0.0.1:%d" % http_port]}
        conf["global"]["evaluation_interval"] = "5s"
        path = os.path.join(WORK, "pacewatch.json")
        json.dump(conf, open(path, "w", encoding="utf-8"), ensure_ascii=False)
        shutil.copy(os.path.join(SRC, "conf/examples/demo-hotline.token"), WORK)
        r = subprocess.run([PW, "check-config", "-c", path], capture_output=True, text=True)
        check(r.returncode == 0, "check-config: %s" % r.stdout + r.stderr)
        log = os.path.join(WORK, "daemon.log")
        t_run = time.time()
        daemon = subprocess.Popen([PW, "run", "-c", path], cwd=WORK,
                                  stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        base = "http://127.0.0.1:%d" % http_port

        # every item shows a unit with a value and a status (deadline: a loaded box)
        deadline = time.time() + 300
        kpis, ok = [], set()
        while time.time() < deadline:
            st, j = jget(base, "/api/v1/kpis")
            if st == 200:
                kpis = j["data"]["kpis"]
                ok = item_ok(kpis)
                if ok >= set(ITEMS):
                    break
            if daemon.poll() is not None:
                break
            time.sleep(2)
        check(set(ITEMS) <= ok, "every item has a KPI with a unit with a value and a status; "
              "missing: %s" % sorted(set(ITEMS) - ok))

        def hand_worked(kpis):
            """[(holds, what)] for the figures worked by hand"""
            out = []
            byname = {k["name"]: k for k in kpis}
            items = {k["item"].split(" ")[0] for k in kpis}
            out.append((items == set(ITEMS), "the KPIs' items are the 20: %s" % sorted(items)))

            def unit(kpi, **labels):
                for u in byname.get(kpi, {"units": []})["units"]:
                    if all(u["labels"].get(a) == b for a, b in labels.items()):
                        return u
                return None

            # the county's upgraded village clinics (roll-up: sum), from the rules, and
            # the ledger's last rows agree with them
            by_rule = village_clinics_by_rule()
            out.append((village_last == {t: v for t, v in by_rule.items() if t != "张鲁集镇"},
                        "the ledger's last rows are the rules': %s, %s" % (village_last, by_rule)))
            # 陈坡乡 stopped in June: its rows are older than stale_after. It is in the sum
            # (stale, last known value June's) when pacewatch read the ledger before the KPI's
            # first evaluation, else a roster unit that never reported (docs/kpis.md, Units)
            cp = unit("village_clinics", township="陈坡乡")
            out.append((bool(cp) and cp["status"] in ("stale", "not_reporting", "lagging"),
                        "village_clinics lists 陈坡乡: %s" % cp))
            want = sum(by_rule.values()) - (by_rule["陈坡乡"] if cp and cp["value"] is None else 0)
            zl = unit("village_clinics", township="张鲁集镇")
            out.append((bool(zl) and zl["status"] == "not_reporting",
                        "张鲁集镇 never reports: %s" % zl))
            for name in ("village_clinics_county", "village_clinics_heze"):
                u = unit(name, county_code="371727")
                out.append((bool(u) and u["value"] == want and u["name"] == "郓城县",
                            "%s 郓城县 = %d, the townships' sum: %s" % (name, want, u)))
            # 郓州街道 met its scoliosis screening early: 62% of 4,000 students
            u = unit("scoliosis_screening", township="郓州街道")
            out.append((bool(u) and u["value"] is not None and abs(u["value"] - 2480 / 4000) < 1e-9
                        and u["status"] == "met",
                        "scoliosis_screening 郓州街道 = 2480 / 4000, met: %s" % u))
            # the hospice share: the centres with a 开展日期 / the 22 centres of the roster
            u = unit("hospice_share", county_code="371727")
            out.append((bool(u) and u["value"] is not None
                        and abs(u["value"] - len(offering) / 22) < 1e-9,
                        "hospice_share 郓城县 = %d / 22: %s" % (len(offering), u)))
            n = len(byname.get("hospice_centres", {"units": []})["units"])
            out.append((n == 22, "hospice_centres has the 22 centres of the roster: %d" % n))
            # the county's psychological lectures in 2025 (a yearly quota): one in March,
            # April, May, July, September and October so far
            u = unit("psych_lectures")
            out.append((bool(u) and u["value"] == 6, "psych_lectures 郓城县 = 6 by October: %s" % u))
            # the mental-clinics ledger through its value_map (已开设 1, 未开设 0): psychological
            # clinics at the centre and 人民医院 from January, 妇幼保健院 from September: 3 by
            # October; sleep clinics at the centre from January, 人民医院 from June: 2
            for name, want in (("psych_clinic", 3), ("sleep_clinic", 2)):
                u = unit(name)
                out.append((bool(u) and u["value"] == want and u["status"] == "met",
                            "%s 郓城县 = %d hospitals, met: %s" % (name, want, u)))
            # outpatient deposits (已停止 1, 仍收取 0): every hospital stopped, 中医医院 in April,
            # after the deadline, the others in March; all six have stopped by October
            ds = byname.get("deposits_outpatient", {"units": []})["units"]
            out.append((len(ds) == 6 and all(u["value"] == 1 and u["status"] == "met" for u in ds),
                        "deposits_outpatient: the six hospitals stopped, met: %s"
                        % [(u["name"], u["value"], u["status"]) for u in ds]))
            return out

        # read from the generated ledgers (the CSV beside each workbook)
        rows = list(csv.reader(open(os.path.join(ledgers, "village_clinics.utf8-bom.csv"),
                                    encoding="utf-8-sig")))
        hdr = next(i for i, r in enumerate(rows) if "累计完成（个）" in r)
        col, village_last, town = rows[hdr].index("累计完成（个）"), {}, None
        for r in rows[hdr + 1:]:
            if len(r) > 2 and r[1]:
                town = r[1]
            if town in TOWNSHIPS and len(r) > col and r[col]:
                village_last[town] = int(r[col])
        rows = list(csv.reader(open(os.path.join(ledgers, "elderly_care-hospice.utf8-bom.csv"),
                                    encoding="utf-8-sig")))
        hdr = next(i for i, r in enumerate(rows) if "开展日期" in r)
        col, name, offering = rows[hdr].index("开展日期"), None, set()
        for r in rows[hdr + 1:]:
            if len(r) > 1 and r[1]:
                name = r[1]
            # a data row has its month (the footer 填表人：… below the data has none)
            if len(r) > col and r[col] and name and re.match(r"\d{4}/\d+/\d+$", r[2]):
                offering.add(name)

        def kpis_now():
            st, j = jget(base, "/api/v1/kpis")
            return j["data"]["kpis"] if st == 200 else []

        # the roll-ups and rosters settle within a few evaluations: poll, with a deadline
        deadline = time.time() + 240
        while True:
            results = hand_worked(kpis_now())
            if all(h for h, _ in results) or time.time() > deadline or daemon.poll() is not None:
                break
            time.sleep(2)
        for holds, what in results:
            check(holds, what)
        # "/" in a visits column is blank: 妇幼保健院 has no sleep clinic, so no sleep visits,
        # while the centre's are there; 中医医院 was still charging outpatient deposits in
        # March (0) and had stopped in April (1): its first 1 comes a month after the others'
        def series(q):
            st, j = jget(base, "/api/v1/query", {"query": q})
            return j["data"]["result"] if st == 200 else None
        sv = series('count by (institution) (count_over_time(ledger_sleep_clinic_visits[400d]))')
        check(sv is not None and {r["metric"].get("institution") for r in sv} ==
              {"郓城县精神卫生中心", "郓城县人民医院"},
              "sleep visits of the two hospitals with a sleep clinic only: %s" % sv)
        # months still charging: the samples less the sum of the 1s
        zeros = series('count_over_time(ledger_outpatient_deposits_stopped[400d])'
                       ' - sum_over_time(ledger_outpatient_deposits_stopped[400d])')
        n0 = {r["metric"].get("institution"): float(r["value"][1]) for r in zeros or []}
        check(len(n0) == 6 and n0["郓城县中医医院"] > max(v for k, v in n0.items()
                                                      if k != "郓城县中医医院"),
              "中医医院 charged outpatient deposits longer than the other five: %s" % n0)

        # every panel of the KPI dashboard returns data, as an instant query
        dash = json.load(open(os.path.join(SRC, "exporters/grafana/pacewatch-kpis.json"),
                              encoding="utf-8"))
        queries = []
        for p in dash["panels"]:
            if p["type"] == "row":
                continue
            for t in p.get("targets", []):
                expr = t["expr"]
                for k, v in (("${kpi}", ".*"), ("$kpi", ".*"), ("$__rate_interval", "1m"),
                             ("$__interval", "5s"), ("$__range", "2m")):
                    expr = expr.replace(k, v)
                queries.append((p.get("title"), expr))
        n = len(queries)
        deadline = time.time() + 180  # alerts fire after their `for`: poll
        while True:
            empty = []
            for title, expr in queries:
                st, j = jget(base, "/api/v1/query", {"query": expr})
                if not (st == 200 and j.get("data", {}).get("result")):
                    empty.append((title, expr, st, str(j)[:300]))
            if not empty or time.time() > deadline or daemon.poll() is not None:
                break
            time.sleep(3)
        for title, expr, st, j in empty:
            check(False, "panel %r: %s returns data: %s %s" % (title, expr, st, j))
        check(n >= 20, "the dashboard has panel queries: %d" % n)
        print("e2e: %d KPIs, %d panel queries" % (len(kpis), n))
        # No false "not reporting" at start: the first evaluation waits for the
        # first round of scrapes (docs/kpis.md), so a ledger KPI's record never
        # held more units not reporting than the two that never report.
        mx = 0
        for expr in ('count(pacewatch_kpi_condition{kpi="scoliosis_screening",'
                     'condition="not_reporting"} == 1)',
                     'count(ALERTS{alertname="KpiUnitMissing",kpi="scoliosis_screening"})'):
            st, j = jget(base, "/api/v1/query_range",
                         {"query": expr, "start": t_run, "end": time.time(), "step": 1})
            for srs in j.get("data", {}).get("result", []):
                mx = max([mx] + [int(float(v)) for _, v in srs["values"]])
        check(mx <= 2, "scoliosis_screening: at most the 2 townships that never report were "
              "ever not reporting or alerted as missing (at most %d)" % mx)
        # the board for the whole programme: every page answers, and what
        # / costs (printed, not asserted: this is a sanitizer build on a
        # shared machine; docs/pages.md has the Release figures)
        took, size = [], 0
        for _ in range(10):
            t0 = time.time()
            with urllib.request.urlopen(base + "/", timeout=60) as r:
                body = r.read()
            took.append(time.time() - t0)
            size = len(body)
        check(size < 300 * 1024, "/ of the whole programme is under 300 KB: %d bytes" % size)
        for k in kpis:
            with urllib.request.urlopen(base + "/kpis/" + urllib.parse.quote(k["name"]),
                                        timeout=60) as r:
                kb = len(r.read())
            check(kb < 300 * 1024, "/kpis/%s is under 300 KB: %d bytes" % (k["name"], kb))
        print("e2e: / for %d KPIs: median %.1f ms, %d bytes (sanitizer build)"
              % (len(kpis), 1000 * sorted(took)[5], size))
        for k in kpis:
            counts = {}
            for u in k["units"]:
                counts[u["status"]] = counts.get(u["status"], 0) + 1
            print("  %-28s %s" % (k["name"], counts))
    finally:
        if daemon is not None:
            stop_daemon(daemon, os.path.join(WORK, "daemon.log"))
        sim.terminate()
        sim.wait(timeout=30)
    finish()


if __name__ == "__main__":
    main()
