#!/usr/bin/python3
"""pacewatch's own pages (docs/pages.md) in a real browser: the platform simulator
and pacewatch on the example programme (its dates moved so that today plays
2025-11-01, as scripts/demo does), headless Chromium (Debian's chromium) over
its DevTools protocol, all on 127.0.0.1, started and stopped here by PID.

- every page answers 200 and loads in Chromium with no console error and no
  failed load; nothing is fetched from anywhere but pacewatch itself;
- the overview holds one card per KPI of /api/v1/kpis with the same owner and
  the same count of units per status, laggards first; a KPI's page holds its
  units, in /api/v1/kpis' order, with the same status and value; every link
  on the pages resolves (200), and the links alert emails carry
  (/kpis/<kpi>/<16-hex unit id>) open the unit's page;
- a unit named `<script>...` (a hostile label value from a platform) renders
  as text: no element is made of it, no script of it runs;
- axe-core (npm's, pinned in tests/a11y) finds no accessibility violation on any page
  at 1280 or 390 px;
- screenshots at 1280 px and 390 px of every page, and a print-to-PDF of /,
  are written to WORKDIR as artifacts; at 390 px no page is wider than the
  screen;
- each page is under 300 KB, and / is drawn in under 100 ms server-side,
  measured as the best of 20 requests on loopback (which bounds the server's
  time from above), in this sanitizer build;
- with an SMTP sink (aiosmtpd) as receiver: the outbox page shows the
  receiver as the API does, and a missed unit's page lists the notification
  about its alert.

usage: pages_test.py PACEWATCH SIMULATOR WORKDIR SOURCEDIR
"""
import base64
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import Chromium, check, finish, free_port, programme_config, stop_daemon  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402

PW, SIM, WORK, SRC = sys.argv[1:5]
AXE = sys.argv[5] if len(sys.argv) > 5 else None  # axe-core's axe.min.js (scripts/check installs it)
mails = []


class Sink:
    async def handle_DATA(self, server, session, envelope):
        mails.append(envelope.content)
        return "250 OK"
START = datetime.date(2025, 11, 1)
HOSTILE = "<script>window.pwned=1</script>&\"'"


def get(url, timeout=20):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def wait(cond, timeout, step=0.5):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return None


def config(sim_port, http_port, smtp_port):
    conf = programme_config(SRC, sim_port)
    today = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date()
    shift = today - START

    def moved(s):
        m = re.match(r"(\d{4}-\d{2}-\d{2})(.*)", s)
        return (datetime.date.fromisoformat(m.group(1)) + shift).isoformat() + m.group(2) \
            if m else s
    for k in conf["kpis"]:
        for f in ("start", "deadline"):
            k[f] = moved(k[f])
        for ms in k.get("milestones", []):
            ms["at"] = moved(ms["at"])
    for t in conf["targets"]:
        if "bearer_token_file" in t:
            t["bearer_token_file"] = os.path.join(SRC, "conf/examples/demo-hotline.token")
    conf["global"]["evaluation_interval"] = "1s"
    conf["storage"] = {"path": os.path.join(WORK, "store")}
    conf["http"] = {"listen": ["127.0.0.1:%d" % http_port]}
    conf["notify"] = {
        "receivers": [{"name": "值班 <duty>", "email": {
            "smarthost": "127.0.0.1:%d" % smtp_port, "tls": "none",
            "from": "pacewatch <pw@example.org>", "to": ["值班室 <duty@example.org>"]}}],
        "route": {"receiver": "值班 <duty>", "group_by": ["alertname", "kpi"],
                  "group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}}
    path = os.path.join(WORK, "pacewatch.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(conf, f, ensure_ascii=False, indent=1)
    return path


def start_sim():
    portfile = os.path.join(WORK, "sim.port")
    today = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date()
    p = subprocess.Popen([SIM, "--listen", "127.0.0.1:0", "--port-file", portfile,
                          "--accel", "3600", "--start", today.isoformat()],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = wait(lambda: os.path.exists(portfile) and open(portfile).read().strip(), 10)
    if not port:
        raise SystemExit("simulator did not start")
    return p, int(port)


LINKS_JS = ("Array.prototype.map.call(document.querySelectorAll('a[href]'),"
            " function (a) { return a.getAttribute('href'); })")


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    sim, sim_port = start_sim()
    http_port, smtp_port = free_port(), free_port()
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    conf = config(sim_port, http_port, smtp_port)
    base = "http://127.0.0.1:%d" % http_port
    log = os.path.join(WORK, "pacewatch.log")
    pw = subprocess.Popen([PW, "run", "-c", conf], stdout=subprocess.DEVNULL,
                          stderr=open(log, "w"))
    browser = None
    try:
        browser = Chromium(WORK)
        run(base, browser)
    finally:
        if browser:
            browser.close()
        if pw.poll() is None:
            stop_daemon(pw, log)
        sim.terminate()
        sim.wait()
        smtp.stop()
    finish()


def kpis(base):
    try:
        code, _, body = get(base + "/api/v1/kpis")
    except OSError:
        return []
    return json.loads(body)["data"]["kpis"] if code == 200 else []


def evaluated(base):
    ks = kpis(base)
    return ks if ks and all(k["units"] for k in ks) else None


def unit_id(u):
    """the 16-hex id alert emails link to: Prometheus' fingerprint of the labels"""
    h = 0xcbf29ce484222325
    for name in sorted(u["labels"]):
        for part in (name, u["labels"][name]):
            for byte in part.encode():
                h ^= byte
                h = (h * 0x100000001b3) & 0xffffffffffffffff
            h ^= 0xff
            h = (h * 0x100000001b3) & 0xffffffffffffffff
    return "%016x" % h


def import_hostile(base):
    """a platform's unit named <script>...: a hostile label value, imported"""
    body = ('mr_items_recognised{city="%s",job="mutual_recognition",'
            'instance="127.0.0.1"} 3\n' % HOSTILE.replace("\\", "\\\\").replace('"', '\\"'))
    req = urllib.request.Request(base + "/api/v1/import/prometheus", data=body.encode(),
                                 method="POST")
    with urllib.request.urlopen(req, timeout=20) as r:
        return r.status


def import_unstaffed(base, n):
    """n more hotline lines with no seat staffed: missed (hotline_seats' deadline has passed),
    so that a card has more laggards than it lists"""
    body = "".join('hotline_seats_staffed{city="测试%d",job="hotline_test",instance="127.0.0.1"} 0\n'
                   % i for i in range(n))
    req = urllib.request.Request(base + "/api/v1/import/prometheus", data=body.encode(),
                                 method="POST")
    with urllib.request.urlopen(req, timeout=20) as r:
        return r.status


def page(browser, url, width, png):
    browser.open(url, width, 900, mobile=width < 600)
    errs = browser.errors()
    check(not errs, "%s at %d px: no console errors or failed loads: %s" % (url, width, errs))
    lay = browser.eval("[document.documentElement.scrollWidth, window.innerWidth]")
    if width < 600:
        check(lay[0] <= lay[1] + 1, "%s at %d px is no wider than the screen: %s"
              % (url, width, lay))
        if "/kpis/" in url:
            # the units table fits the phone's width: no sideways scrolling to see a status
            over = browser.eval("Array.prototype.map.call(document.querySelectorAll('.tw'),"
                                " function (t) { return t.scrollWidth - t.clientWidth; })")
            check(all(o <= 1 for o in over), "%s at %d px: tables fit their boxes: %s"
                  % (url, width, over))
    browser.screenshot(png)
    check(os.path.getsize(png) > 10000, "%s: a screenshot %s" % (url, png))


def run(base, browser):
    ks = wait(lambda: evaluated(base), 90)
    check(ks, "every KPI evaluated with units (/api/v1/kpis)")
    if not ks:
        return
    code = import_hostile(base)
    check(code == 204, "a hostile unit name imported (got %s)" % code)
    hostile = wait(lambda: [u for k in kpis(base) if k["name"] == "mr_items" for u in k["units"]
                            if HOSTILE in json.dumps(u["labels"], ensure_ascii=False)
                            or "script" in u["name"]], 30)
    check(hostile, "the unit named <script> is a unit of mr_items")
    check(import_unstaffed(base, 6) == 204, "six unstaffed hotline lines imported")
    seats = wait(lambda: [u for k in kpis(base) if k["name"] == "hotline_seats" for u in k["units"]
                          if u["name"].startswith("测试") and u["status"] == "missed"], 30)
    check(seats and len(seats) == 6, "the six unstaffed lines are missed units of hotline_seats: %s"
          % [(u["name"], u["status"]) for u in seats or []])
    ks = kpis(base)

    # every page: 200, HTML, under 300 KB, no console errors, screenshots
    pages = ["/", "/alerts", "/targets", "/notifications"]
    for k in ks:
        pages.append("/kpis/" + k["name"])
        if k["units"]:
            pages.append("/kpis/%s/%s" % (k["name"], unit_id(k["units"][0])))
    for u in hostile or []:
        pages.append("/kpis/mr_items/" + unit_id(u))
    for p in pages:
        code, ctype, body = get(base + p)
        check(code == 200, "%s answers 200 (got %s)" % (p, code))
        check(ctype.startswith("text/html"), "%s is HTML (%s)" % (p, ctype))
        check(len(body) < 300 * 1024, "%s is under 300 KB (%d bytes)" % (p, len(body)))
        check(b"window.pwned" not in body or b"&lt;script&gt;window.pwned" in body,
              "%s: the hostile name only ever appears escaped" % p)
    code, ctype, body = get(base + "/kpis/mr_items/chart.svg")
    check(code == 200 and ctype.startswith("image/svg+xml") and body.startswith(b"<svg"),
          "the KPI's chart alone is an SVG document (%s %s)" % (code, ctype))
    for bad in ("/kpis/no_such_kpi", "/kpis/mr_items/0000000000000000", "/kpis/mr_items/x/y"):
        code, _, body = get(base + bad)
        check(code == 404 and b"<h1>" in body, "%s is 404 with a page saying so (%s)" % (bad, code))

    # a KPI page gives the deadline's last day, to its end (the day before the deadline's
    # midnight, in Shanghai)
    k = [x for x in ks if x["name"] == "mr_items"][0]
    last = (datetime.datetime.fromisoformat(k["deadline"].replace("Z", "+00:00"))
            .astimezone(datetime.timezone(datetime.timedelta(hours=8)))
            - datetime.timedelta(days=1))
    _, _, body = get(base + "/kpis/mr_items")
    want = "（至 %d月%d日 24 时，" % (last.month, last.day)
    check(want in body.decode(), "the KPI page says %s for the deadline %s" % (want, k["deadline"]))

    # /targets: scrapes come every few seconds, so their times are to the second, and
    # each shown time is the instant its datetime attribute says
    _, _, body = get(base + "/targets")
    rows = re.findall(r'<tr[^>]*data-target="[^"]*">(.*?)</tr>', body.decode(), re.S)
    times = [t for r in rows for t in re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', r)]
    check(rows and len(times) >= len(rows), "/targets: a time per target row (%d rows, %d times)"
          % (len(rows), len(times)))
    for iso, shown in times:
        m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) ([+-])(\d\d):(\d\d)",
                         shown)
        check(m, "/targets: %r is shown to the second with its offset" % shown)
        if not m:
            continue
        sign = 1 if m.group(7) == "+" else -1
        off = datetime.timedelta(hours=int(m.group(8)), minutes=int(m.group(9))) * sign
        local = datetime.datetime(*map(int, m.groups()[:6]),
                                  tzinfo=datetime.timezone(off))
        utc = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
        check(abs((utc - local).total_seconds()) < 1,
              "/targets: %r and datetime=%r are the same instant" % (shown, iso))

    shots = {}
    for width in (1280, 390):
        for p in pages:
            name = (p.strip("/").replace("/", "_") or "index") + "-%d.png" % width
            png = os.path.join(WORK, name)
            page(browser, base + p, width, png)
            shots[p, width] = png

    # the overview against the API
    browser.open(base + "/", 1280)
    cards = browser.eval(
        "Array.prototype.map.call(document.querySelectorAll('section.card'), function (c) {"
        " var n = {}; c.querySelectorAll('.counts [data-status]').forEach(function (s) {"
        " n[s.getAttribute('data-status')] = +s.getAttribute('data-n'); });"
        " return {kpi: c.getAttribute('data-kpi'), title: c.querySelector('h2').textContent,"
        " meta: c.textContent, counts: n}; })")
    check(sorted(c["kpi"] for c in cards) == sorted(k["name"] for k in ks),
          "one card per KPI: %s" % [c["kpi"] for c in cards])
    rank = ["missed", "not_reporting", "not_covered", "below_peers", "lagging", "at_risk",
            "stale", "met", "on_track"]
    by = {k["name"]: k for k in ks}
    worst, many = [], False
    for c in cards:
        k = by.get(c["kpi"])
        if not k:
            continue
        want = {}
        for u in k["units"]:
            want[u["status"]] = want.get(u["status"], 0) + 1
        # the page and the API are two reads: an evaluation may fall between
        if c["counts"] != want:
            k = [x for x in kpis(base) if x["name"] == c["kpi"]][0]
            want = {}
            for u in k["units"]:
                want[u["status"]] = want.get(u["status"], 0) + 1
        check(c["counts"] == want, "%s: units per status as the API says: %s / %s"
              % (c["kpi"], c["counts"], want))
        check((k.get("title") or k["name"]) in c["title"], "%s: its title" % c["kpi"])
        if k.get("owner"):
            check(k["owner"] in c["meta"], "%s: its owner %s" % (c["kpi"], k["owner"]))
        worst.append(min(rank.index(u["status"]) for u in k["units"]) if k["units"] else 9)
        # a card lists the first five laggards and says how many more are behind
        behind = sum(1 for u in k["units"] if rank.index(u["status"]) < rank.index("met"))
        many = many or behind > 5
        more = re.findall(r"等 (\d+) 个", c["meta"])
        check(more == ([str(behind - 5)] if behind > 5 else []),
              "%s: the card's 等 N 个 counts the laggards not listed (%d behind): %s"
              % (c["kpi"], behind, more))
    check(worst == sorted(worst), "laggards first: the cards' worst statuses %s" % worst)
    check(many, "a card has more than five laggards (hotline_seats: 3 cities and 6 test lines)")

    # accessibility: axe-core's rules (WCAG 2 A and AA, and its best practices) find
    # nothing on the four top pages (and / at 390 px), on a KPI page and a unit page
    # for every status some unit has (every badge and layout the data makes), and on
    # the hostile unit's page (about 1 s a page in this build, so not all 80 pages)
    axe = open(AXE).read() if AXE and os.path.exists(AXE) else None
    check(axe, "axe-core at %s (scripts/check installs it: npm ci in build/a11y)" % AXE)
    audit = [(p, 1280) for p in pages[:4]] + [("/", 390)]
    for st in rank:
        hit = [(k, u) for k in ks for u in k["units"] if u["status"] == st][:1]
        for k, u in hit:
            for p in ("/kpis/" + k["name"], "/kpis/%s/%s" % (k["name"], unit_id(u))):
                if (p, 1280) not in audit:
                    audit.append((p, 1280))
    audit += [("/kpis/mr_items/" + unit_id(u), 1280) for u in hostile or []]
    t_audit = time.time()
    for p, width in audit if axe else ():
        browser.open(base + p, width)
        browser.eval(axe + ";0")
        r = browser.call("Runtime.evaluate", {
            "expression": "axe.run(document, {resultTypes: ['violations']}).then(function (r) {"
                          " return r.violations.map(function (v) { return {id: v.id,"
                          " impact: v.impact, help: v.help, nodes: v.nodes.length,"
                          " first: v.nodes[0].html.slice(0, 200)}; }); })",
            "awaitPromise": True, "returnByValue": True})
        vs = r.get("result", {}).get("value")
        check(vs == [], "%s at %d px: no accessibility violation (axe-core): %s"
              % (p, width, json.dumps(vs if vs is not None else r, ensure_ascii=False)[:1500]))
    print("pages: axe-core audited %d pages in %.0f s" % (len(audit) if axe else 0,
                                                          time.time() - t_audit))

    # every link of every page resolves
    seen = set()
    for p in pages:
        browser.open(base + p, 1280)
        for href in browser.eval(LINKS_JS):
            check(href.startswith("/") or href.startswith("http"), "%s: link %s" % (p, href))
            if href.startswith("/") and href not in seen:
                seen.add(href)
                code, _, _ = get(base + href)
                check(code == 200, "%s: the link %s resolves (got %s)" % (p, href, code))
        n = browser.eval("document.querySelectorAll('[src],link[href]').length")
        check(n == 0, "%s fetches nothing: %d elements with src or link href" % (p, n))

    # the alerts page links each KPI alert to its unit's page
    browser.open(base + "/alerts", 1280)
    linked = browser.eval("Array.prototype.map.call(document.querySelectorAll("
                          "'table.alerts tbody th a'), function (a) {"
                          " return a.getAttribute('href'); })")
    active = [a for a in json.loads(get(base + "/api/v1/alerts")[2])["data"]["alerts"]
              if "kpi" in a["labels"]]
    check(active and len([h for h in linked if re.match(r"^/kpis/[^/]+/[0-9a-f]{16}$", h)])
          >= len(active) - 2, "KPI alerts link to their units' pages: %d links, %d alerts"
          % (len(linked), len(active)))

    # a KPI's page: its units in the API's order, same status and value
    for k in ks:
        browser.open(base + "/kpis/" + k["name"], 1280)
        rows = browser.eval(
            "Array.prototype.map.call(document.querySelectorAll('table.units tbody tr'),"
            " function (r) { return {id: r.getAttribute('data-unit'),"
            " name: r.cells[0].textContent, status: r.cells[1].textContent}; })")
        api = [x for x in kpis(base) if x["name"] == k["name"]][0]
        check(len(rows) == len(api["units"]), "%s: one row per unit (%d / %d)"
              % (k["name"], len(rows), len(api["units"])))
        check(sorted(r["id"] for r in rows) == sorted(unit_id(u) for u in api["units"]),
              "%s: the rows' unit ids are the emails' ids" % k["name"])
        check(sorted(r["name"] for r in rows) == sorted(u["name"] for u in api["units"]),
              "%s: the units' names" % k["name"])
        # a quota's missed is about its previous period: the badge says which
        if api.get("previous_period") and any(u["status"] == "missed" for u in api["units"]):
            pers = browser.eval(
                "Array.prototype.map.call(document.querySelectorAll('table.units small.per'),"
                " function (e) { return e.textContent; })")
            nmissed = len([u for u in api["units"] if u["status"] == "missed"])
            check(pers and len(pers) == nmissed and set(pers) == {api["previous_period"]},
                  "%s: each missed unit names the period it missed (%s): %s"
                  % (k["name"], api["previous_period"], pers[:3] if pers else pers))

    # the hostile name renders as text
    for u in hostile or []:
        browser.open(base + "/kpis/mr_items/" + unit_id(u), 1280)
        check(browser.eval("window.pwned === undefined"), "no script made of a unit's name ran")
        h1 = browser.eval("document.querySelector('h1').textContent")
        check("<script>window.pwned=1</script>" in h1, "the name is shown as text: %r" % h1)
        browser.open(base + "/kpis/mr_items", 1280)
        check(browser.eval("window.pwned === undefined"), "nor on the KPI's page")
        check(browser.eval("document.querySelectorAll('main script').length") == 0,
              "no script element in the page's content")

    # printing the overview: a PDF document, A4
    browser.open(base + "/", 1280)
    pdf = browser.call("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69,
                                           "printBackground": True,
                                           "preferCSSPageSize": True})["data"]
    data = base64.b64decode(pdf)
    with open(os.path.join(WORK, "index.pdf"), "wb") as f:
        f.write(data)
    check(data.startswith(b"%PDF-") and len(data) > 5000, "/ prints to a PDF (%d bytes)"
          % len(data))

    # notifications: the outbox's receivers as the API says, and a unit's page lists
    # the notifications about its alerts (the notification log)
    check(wait(lambda: mails, 60), "alert emails are sent")
    time.sleep(3)
    api = json.loads(get(base + "/api/v1/notifications")[2])["data"]
    browser.open(base + "/notifications", 1280)
    rows = browser.eval("Array.prototype.map.call(document.querySelectorAll("
                        "'table.receivers tbody tr'), function (r) {"
                        " return [r.cells[0].textContent, r.cells[2].textContent]; })")
    check(len(rows) == len(api["receivers"]) == 1 and rows[0][0].startswith("值班 <duty>"),
          "the receiver, its name as text: %s" % rows)
    check(rows and int(rows[0][1]) >= 1, "sent counted: %s" % rows)
    missed = [(k["name"], u) for k in kpis(base) for u in k["units"] if u["status"] == "missed"]
    check(missed, "a missed unit")

    def notified():
        browser.open(base + "/kpis/%s/%s" % (missed[0][0], unit_id(missed[0][1])), 1280)
        return browser.eval("Array.prototype.map.call(document.querySelectorAll("
                            "'table.sent tbody tr'), function (r) { return r.textContent; })")
    sent = missed and wait(lambda: [r for r in notified()
                                    if "KpiMissed" in r and "告警中" in r], 30)
    check(sent, "the missed unit's page lists the notification about it: %s"
          % (notified() if missed else None))
    if missed:
        browser.screenshot(os.path.join(WORK, "unit-notified-1280.png"))

    # the time to draw / server-side: the best of 20 requests on loopback
    best = 1e9
    for _ in range(20):
        t = time.perf_counter()
        code, _, body = get(base + "/")
        best = min(best, time.perf_counter() - t)
    print("/ : %d bytes, best of 20 requests %.1f ms" % (len(body), best * 1000), flush=True)
    check(best < 0.1, "/ is drawn in under 100 ms (best of 20: %.1f ms)" % (best * 1000))


if __name__ == "__main__":
    main()
