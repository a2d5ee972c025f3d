#!/usr/bin/python3
"""Alert notifications with real servers on 127.0.0.1, all started and
stopped here: three SMTP servers (aiosmtpd, Debian's python3-aiosmtpd:
plain; STARTTLS with a certificate made here and AUTH PLAIN; implicit TLS
with AUTH LOGIN), a webhook recorder, and Alertmanager 0.25 (by PID),
against the daemon evaluating a KPI over imported data.

1. The first KpiLagging email, in Chinese as the configuration is: subject
   "[告警 3] 检查检验结果互认项目数：进度落后 3", a text and an HTML part, each
   unit's numbers those of /api/v1/kpis as people read them (docs/kpis.md:
   two decimals), the gaps to the plan and the target with their shares of
   the way, the owner, no group key; the TLS receivers got it over TLS,
   authenticated with the mechanism they were configured for.
2. Timers: nothing more until repeat_interval, then the same group again;
   a new lagging unit and a recovered one are sent within group_interval,
   the recovered one as resolved.
   Its HTML part laid out by headless Chromium 390 px wide (a phone) needs
   no sideways scrolling (email-390.png is left in the work folder).
3. Alertmanager: forwarded alerts are in its /api/v2/alerts with the labels
   and annotations pacewatch has; a resolved one ends. Its webhook and
   pacewatch's (same route, same grouping) agree field by field.
4. Inhibition (a critical alert mutes the unit's warning) and mute time
   intervals in Asia/Shanghai (muted now: never sent; muted at another
   hour: sent).
5. SMTP down, then up: queued notifications show in /api/v1/notifications
   and the metrics, other receivers keep receiving, and everything queued
   arrives once. Then the daemon is killed -9 with a notification queued:
   after the restart it arrives, once.

usage: notify_test.py PACEWATCH WORKDIR SOURCEDIR
"""
import email
import email.policy
import http.server
import json
import os
import shutil
import signal
import ssl
import subprocess
import re
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import chromium_layout, check, finish, free_port, stop_daemon  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult  # noqa: E402

PW, WORK, SRC = sys.argv[1:4]
TITLE = "检查检验结果互认项目数"
LAG = "进度落后"   # KpiLagging's headline in Chinese
SUBJECT3 = "[告警 3] %s：%s 3" % (TITLE, LAG)
lock = threading.Lock()
mail = []      # (server, time, message, tls, auth mechanism, user)
hooks = []     # (path, time, payload)


class Handler:
    def __init__(self, name):
        self.name = name

    async def handle_DATA(self, server, session, envelope):
        tls = (server._tls_protocol is not None or
               server.transport.get_extra_info("ssl_object") is not None)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with lock:
            mail.append((self.name, time.time(), msg, tls, getattr(session, "auth_mech", None),
                         getattr(session, "auth_user", None)))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"pacewatch" and auth_data.password == b"s3cret-\xe5\xaf\x86".decode(
        "utf-8").encode()
    session.auth_mech = mechanism
    session.auth_user = auth_data.login
    return AuthResult(success=ok)


def smtp(name, port, mode, ctx=None):
    kw = {}
    if mode == "starttls":
        kw = dict(tls_context=ctx, require_starttls=True, authenticator=authenticator,
                  auth_required=True, auth_require_tls=True)
    elif mode == "implicit":
        kw = dict(ssl_context=ctx, authenticator=authenticator, auth_required=True,
                  auth_require_tls=False)
    c = Controller(Handler(name), hostname="127.0.0.1", port=port, **kw)
    c.start()
    return c


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with lock:
            hooks.append((self.path, time.time(), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def jget(url):
    return json.loads(get(url))


def post(url, body):
    req = urllib.request.Request(url, data=body.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def wait(cond, timeout, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return None


def mails(server, alertname=None, since=0):
    with lock:
        out = [m for m in mail if m[0] == server and m[1] >= since]
    if alertname:
        out = [m for m in out if alertname in m[2]["subject"]]
    return out


def text_of(msg):
    return msg.get_body(("plain",)).get_content()


def html_of(msg):
    return msg.get_body(("html",)).get_content()


def rows(text):
    """unit -> (section, {field: text}, detail line, link) of the text part's firing and
    resolved lists: "济南: 当前值 50 · 计划应达 100 · 落后计划 50 (25.0%) · ...", then an
    indented line of the rest and one with the unit's page"""
    out, section, lines = {}, None, text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("告警中"):
            section = "firing"
        elif line.startswith("已恢复"):
            section = "resolved"
        elif section and line and not line.startswith(" ") and ": " in line:
            unit, rest = line.split(": ", 1)
            fields = dict(p.split(" ", 1) for p in rest.split(" · "))
            detail = lines[i + 1].strip() if i + 1 < len(lines) else ""
            link = lines[i + 2].strip() if i + 2 < len(lines) else ""
            out[unit] = (section, fields, detail, link)
        elif not line.strip():
            section = None  # the lists end with a blank line
    return out


def human(x):
    """a number as docs/kpis.md shows it to people: at most two decimals, below 1 at most
    four, trailing zeros dropped"""
    t = ("%.2f" % x if abs(x) >= 1 else "%.4f" % x).rstrip("0").rstrip(".")
    return "0" if t == "-0" else t


def shanghai_hour():
    return (time.gmtime().tm_hour + 8) % 24


def ranges_around(h, span):
    """times of day covering [h, h+span) hours, split at midnight"""
    out = []
    end = h + span
    if end <= 24:
        out.append({"start_time": "%02d:00" % h, "end_time": "%02d:00" % end})
    else:
        out.append({"start_time": "%02d:00" % h, "end_time": "24:00"})
        out.append({"start_time": "00:00", "end_time": "%02d:00" % (end - 24)})
    return out


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    # a certificate for 127.0.0.1, made here
    cert, key = os.path.join(WORK, "cert.pem"), os.path.join(WORK, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    pw_file = os.path.join(WORK, "smtp.pass")
    with open(pw_file, "w", encoding="utf-8") as f:
        f.write("s3cret-密\n")

    p_plain, p_tls, p_smtps = free_port(), free_port(), free_port()
    plain = smtp("plain", p_plain, "plain")
    tls = smtp("tls", p_tls, "starttls", ctx)
    smtps = smtp("smtps", p_smtps, "implicit", ctx)
    hook_port = free_port()
    hook_srv = http.server.ThreadingHTTPServer(("127.0.0.1", hook_port), Hook)
    threading.Thread(target=hook_srv.serve_forever, daemon=True).start()

    http_port = free_port()
    base = "http://127.0.0.1:%d" % http_port
    am_port = free_port()
    am_base = "http://127.0.0.1:%d" % am_port
    am_yml = os.path.join(WORK, "am.yml")
    with open(am_yml, "w") as f:
        f.write("""route:
  receiver: hook
  group_by: [alertname, kpi]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - matchers: ['alertname=~"Kpi.*"']
      receiver: hook
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:%d/am
        send_resolved: true
""" % hook_port)
    am_log = open(os.path.join(WORK, "am.log"), "w")
    am = subprocess.Popen(["prometheus-alertmanager", "--config.file", am_yml,
                           "--storage.path", os.path.join(WORK, "am-data"),
                           "--web.listen-address", "127.0.0.1:%d" % am_port,
                           "--cluster.listen-address=", "--web.external-url", base],
                          stdout=am_log, stderr=subprocess.STDOUT)

    now = time.time()
    h = shanghai_hour()
    conf = {
        "global": {"evaluation_interval": "1s", "external_labels": {"province": "山东"}},
        "storage": {"path": os.path.join(WORK, "store"), "sync": True},
        "http": {"listen": ["127.0.0.1:%d" % http_port]},
        "kpis": [{"name": "mr_items", "title": TITLE, "value": "mr_items", "target": 200,
                  "baseline": 0,
                  "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 10 * 86400)),
                  "deadline": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 10 * 86400)),
                  "owner": "省卫健委医政处", "contact": "0531-12345678"}],
        "rule_groups": [{"name": "test", "interval": "1s", "rules": [
            {"alert": "PlatformDown", "expr": "platform_down == 1",
             "labels": {"severity": "critical", "kpi": "mr_items"},
             "annotations": {"summary": "{{ $labels.city }} 互认平台中断"}},
            {"alert": "MutedNow", "expr": "vector(1)", "labels": {"severity": "info"}},
            {"alert": "MutedLater", "expr": "vector(1)", "labels": {"severity": "info"}}]}],
        "notify": {
            "receivers": [
                {"name": "oncall", "email": {"smarthost": "127.0.0.1:%d" % p_plain,
                                             "from": "pacewatch <pw@example.org>",
                                             "to": ["值班 <oncall@example.org>"],
                                             "cc": ["ops@example.org"], "tls": "none"}},
                {"name": "secure", "email": {"smarthost": "127.0.0.1:%d" % p_tls,
                                             "from": "pw@example.org", "to": ["a@example.org"],
                                             "tls": "starttls", "ca_file": cert,
                                             "auth_username": "pacewatch",
                                             "auth_password_file": pw_file,
                                             "auth_mechanism": "PLAIN"}},
                {"name": "smtps", "email": {"smarthost": "127.0.0.1:%d" % p_smtps,
                                            "from": "pw@example.org", "to": ["b@example.org"],
                                            "tls": "implicit", "ca_file": cert,
                                            "auth_username": "pacewatch",
                                            "auth_password_file": pw_file,
                                            "auth_mechanism": "LOGIN"}},
                {"name": "hook", "webhook": {"url": "http://127.0.0.1:%d/pw" % hook_port}},
                {"name": "am", "alertmanager": {"urls": [am_base], "resend_delay": "2s"}},
            ],
            "route": {"receiver": "oncall", "group_by": ["alertname", "kpi"],
                      "group_wait": "1s", "group_interval": "2s", "repeat_interval": "6s",
                      "routes": [
                          {"matchers": ['alertname="MutedNow"'], "mute_time_intervals": ["now"]},
                          {"matchers": ['alertname="MutedLater"'],
                           "mute_time_intervals": ["later"]},
                          {"matchers": ['alertname=~"Kpi.*"'], "receiver": "hook",
                           "continue": True},
                          {"matchers": ['alertname=~"Kpi.*|PlatformDown"'], "receiver": "am",
                           "continue": True},
                          {"matchers": ['alertname="KpiLagging"'], "receiver": "secure",
                           "continue": True},
                          {"matchers": ['alertname="KpiLagging"'], "receiver": "smtps",
                           "continue": True},
                          {"matchers": ['alertname=~".+"'], "receiver": "oncall"}]},
            "inhibit_rules": [{"source_matchers": ['severity="critical"'],
                               "target_matchers": ['severity="warning"'],
                               "equal": ["kpi", "city"]}],
            "time_intervals": [
                {"name": "now", "time_intervals": [{"times": ranges_around(h, 2),
                                                    "location": "Asia/Shanghai"}]},
                {"name": "later", "time_intervals": [{"times": ranges_around((h + 5) % 24, 1),
                                                      "location": "Asia/Shanghai"}]}],
            "retry_min": "500ms", "retry_max": "1s",
        },
    }
    global _deadline
    _deadline = conf["kpis"][0]["deadline"]
    cpath = os.path.join(WORK, "pacewatch.json")
    with open(cpath, "w", encoding="utf-8") as f:
        json.dump(conf, f, ensure_ascii=False, indent=1)
    log = os.path.join(WORK, "pacewatch.log")

    def start():
        p = subprocess.Popen([PW, "run", "-c", cpath], stdout=subprocess.DEVNULL,
                             stderr=open(log, "a"))
        ok = wait(lambda: _up(base), 15)
        check(ok, "daemon answers on %s" % base)
        return p

    procs = [start()]
    try:
        run(procs, base, am_base, start, plain, p_plain, log)
        phone_layout()
    finally:
        if procs[-1].poll() is None:
            procs[-1].kill()
        for s in (tls, smtps):
            s.stop()
        try:
            plain.stop()
        except Exception:
            pass
        hook_srv.shutdown()
        with lock, open(os.path.join(WORK, "hooks.json"), "w", encoding="utf-8") as f:
            json.dump(hooks, f, ensure_ascii=False, indent=1)
        am.send_signal(signal.SIGTERM)
        try:
            am.wait(timeout=10)
        except subprocess.TimeoutExpired:
            am.kill()
    finish()


def _up(base):
    try:
        return get(base + "/-/ready") is not None
    except OSError:
        return False


def imp(base, lines):
    ts = int(time.time() * 1000)
    body = "".join("%s %s %d\n" % (k, v, ts) for k, v in lines)
    check(post(base + "/api/v1/import/prometheus", body) == 204, "import accepted")


first_html = [None]


def phone_layout():
    """the first email on a phone: 390 CSS pixels wide, the table's key columns
    without scrolling sideways"""
    if not first_html[0]:
        return
    png = os.path.join(WORK, "email-390.png")
    lay = chromium_layout(first_html[0], 390, png, WORK)
    if lay:
        check(lay["scrollWidth"] <= 390, "the email is no wider than the phone: %s" % lay)
        check(lay["tables"] and all(t["right"] <= 390 for t in lay["tables"]),
              "every table fits in 390 px (screenshot %s): %s" % (png, lay["tables"]))


def run(procs, base, am_base, start, plain, p_plain, log):
    pw = procs[0]
    cities = [('mr_items{city="济南"}', 50), ('mr_items{city="青岛"}', 60),
              ('mr_items{city="烟台"}', 70), ('mr_items{city="潍坊"}', 150),
              ('platform_down{city="烟台"}', 0)]
    imp(base, cities)

    # 1. the first KpiLagging email
    first = wait(lambda: mails("plain", LAG), 20)
    check(first, "a KpiLagging email arrives")
    if not first:
        print(open(log).read()[-3000:])
        return
    t_first, msg = first[0][1], first[0][2]
    check(msg["subject"] == SUBJECT3,
          "subject decodes to the Chinese title and headline: %r" % msg["subject"])
    check("=?UTF-8?B?" in msg.as_string() or "=?utf-8?" in msg.as_string().lower(),
          "the subject is RFC 2047-encoded on the wire")
    check(msg.get_content_type() == "multipart/alternative", "multipart/alternative")
    parts = [p.get_content_type() for p in msg.iter_parts()]
    check(parts == ["text/plain", "text/html"], "text and HTML parts: %s" % parts)
    for p in msg.iter_parts():
        check(p["Content-Transfer-Encoding"] == "quoted-printable", "parts are quoted-printable")
    for h in ("Date", "Message-ID", "From", "To", "Cc"):
        check(msg[h], "header %s present" % h)
    check("oncall@example.org" in str(msg["To"]) and "值班" in str(msg["To"]),
          "To keeps the Chinese display name: %s" % msg["To"])
    kpis = jget(base + "/api/v1/kpis")["data"]["kpis"][0]
    units = {u["labels"]["city"]: u for u in kpis["units"]}
    r = rows(text_of(msg))
    check(sorted(r) == ["济南", "烟台", "青岛"], "rows for the three laggards: %s" % sorted(r))
    text = text_of(msg)
    for city, (section, f, detail, link) in r.items():
        u = units[city]
        span = abs(u["target"] - u["baseline"])
        gap, gap_t = u["expected"] - u["value"], u["target"] - u["value"]
        check(section == "firing", "%s is in the firing list" % city)
        check(f.get("当前值") == human(u["value"]), "%s value %s = API %s"
              % (city, f.get("当前值"), u["value"]))
        check(f.get("计划应达") == human(u["expected"]), "%s plan now %s = API %s"
              % (city, f.get("计划应达"), u["expected"]))
        check(f.get("落后计划") == "%s (%.1f%%)" % (human(gap), 100 * gap / span),
              "%s behind plan %s = API expected - value %s, of the span %s"
              % (city, f.get("落后计划"), gap, span))
        check(f.get("距目标") == "%s (%.1f%%)" % (human(gap_t), 100 * gap_t / span),
              "%s to target %s" % (city, f.get("距目标")))
        check(detail.startswith(LAG + " · 进度 %.1f%%（计划 %.1f%%）" % (
            100 * u["progress"], 100 * u["expected_progress"])),
              "%s progress = API progress (%s): %s" % (city, u["progress"], detail))
        check("目标 200 · 截止 %s" % conf_deadline() in detail, "%s target and deadline: %s"
              % (city, detail))
        check(link.startswith(base + "/kpis/mr_items/"), "%s links to its page: %s"
              % (city, link))
    chart = re.search(r"^趋势图: (\S+)", text, re.M)
    check(chart and chart.group(1) == base + "/kpis/mr_items/chart.svg",
          "the email links the KPI's chart: %s" % (chart and chart.group(1)))
    if chart:
        svg = get(chart.group(1))
        check(svg.lstrip().startswith(b"<svg") or b"<svg" in svg[:400],
              "the chart link answers an SVG picture: %r" % svg[:120])
    check("负责 省卫健委医政处 · 0531-12345678" in text, "owner and contact: %s" % text[:400])
    check("{}" not in text and "alertname=" not in text, "no group key in the email")
    html = html_of(msg)
    check("<table" in html and "济南" in html and "省卫健委医政处" in html,
          "the HTML part has the table")
    first_html[0] = html  # laid out in a browser at the end, away from the timers
    for srv, mech in (("tls", "PLAIN"), ("smtps", "LOGIN")):
        got = wait(lambda: mails(srv, LAG), 15)
        check(got, "%s receives the KpiLagging email" % srv)
        if got:
            _, _, m, was_tls, used, user = got[0]
            check(was_tls, "%s: delivered over TLS" % srv)
            check(used == mech, "%s: AUTH %s (got %s)" % (srv, mech, used))
            check(user == b"pacewatch", "%s: authenticated as pacewatch" % srv)
            check(m["subject"] == SUBJECT3, "%s: same subject" % srv)

    # 2. repeat_interval: nothing more for the group until 6 s later
    second = wait(lambda: [m for m in mails("plain", LAG) if m[1] > t_first + 0.5], 15)
    check(second, "the group is sent again after repeat_interval")
    if second:
        gap = second[0][1] - t_first
        check(5.5 <= gap <= 10.5, "repeat after 6 s (+ a group_interval): %.1f s" % gap)
    # a new laggard and a recovered unit go out within a group_interval
    t_change = time.time()
    imp(base, [('mr_items{city="威海"}', 40), ('mr_items{city="济南"}', 150)])
    upd = wait(lambda: [m for m in mails("plain", LAG, t_change)
                        if "威海" in rows(text_of(m[2]))], 12)
    check(upd, "the change is notified")
    if upd:
        check(upd[0][1] - t_change < 5.5, "within group_interval: %.1f s" % (upd[0][1] - t_change))
        rr = rows(text_of(upd[0][2]))
        check(rr.get("济南", ("",))[0] == "resolved", "济南 is in the resolved table: %s" % rr)
        check(rr.get("威海", ("",))[0] == "firing", "威海 is firing")
        check(upd[0][2]["subject"] == SUBJECT3,
              "subject counts firing only: %s" % upd[0][2]["subject"])

    # 3. Alertmanager: its alerts, its webhook against ours
    def am_alerts():
        try:
            return json.loads(get(am_base + "/api/v2/alerts"))
        except OSError:
            return None
    got = wait(lambda: [a for a in (am_alerts() or []) if a["labels"].get("city") == "威海"], 15)
    check(got, "Alertmanager has the forwarded alerts")
    ours = {}
    for a in jget(base + "/api/v1/alerts")["data"]["alerts"]:
        if a["state"] == "firing":
            ours[(a["labels"]["alertname"], a["labels"].get("city"))] = a
    theirs = am_alerts() or []
    for a in theirs:
        key = (a["labels"]["alertname"], a["labels"].get("city"))
        if key in ours and a["status"]["state"] == "active":
            want = dict(ours[key]["labels"], province="山东")
            check(a["labels"] == want, "AM labels %s == %s" % (a["labels"], want))
            check(a["annotations"] == ours[key]["annotations"], "AM annotations of %s" % (key,))
    check(any(k[0] == "KpiLagging" and k[1] == "威海" for k in
              [(a["labels"]["alertname"], a["labels"].get("city")) for a in theirs]),
          "KpiLagging 威海 is in Alertmanager")
    # 济南 resolved: it ends in Alertmanager
    def jinan_ended():
        for a in am_alerts() or []:
            if a["labels"].get("city") == "济南" and a["labels"]["alertname"] == "KpiLagging":
                return a["status"]["state"] != "active" or a["endsAt"] < time.strftime(
                    "%Y-%m-%dT%H:%M:%S", time.gmtime())
        return True
    check(wait(jinan_ended, 15), "the resolved alert ends in Alertmanager")
    # webhooks: pacewatch's and Alertmanager's for the same group, field by field
    def last(path):
        with lock:
            c = [x for x in hooks if x[0] == path and x[2]["groupLabels"].get("alertname") ==
                 "KpiLagging"]
        return c[-1][2] if c else None
    ok = wait(lambda: last("/am") and last("/pw") and
              {a["fingerprint"] for a in last("/am")["alerts"]} ==
              {a["fingerprint"] for a in last("/pw")["alerts"]}, 20)
    mine, amp = last("/pw"), last("/am")
    check(ok, "both webhooks reach the same alerts")
    if mine and amp:
        check(set(mine) == set(amp), "same fields: %s vs %s" % (sorted(mine), sorted(amp)))
        for f in ("version", "status", "receiver", "groupLabels", "commonLabels",
                  "commonAnnotations", "externalURL", "groupKey", "truncatedAlerts"):
            check(mine.get(f) == amp.get(f), "webhook %s: %r vs Alertmanager's %r" %
                  (f, mine.get(f), amp.get(f)))
        theirs_by_fp = {a["fingerprint"]: a for a in amp["alerts"]}
        for a in mine["alerts"]:
            b = theirs_by_fp.get(a["fingerprint"])
            check(b is not None, "alert %s in both" % a["fingerprint"])
            if not b:
                continue
            check(set(a) == set(b), "alert fields %s vs %s" % (sorted(a), sorted(b)))
            for f in ("status", "labels", "annotations", "startsAt", "generatorURL",
                      "fingerprint"):
                check(a.get(f) == b.get(f), "alert %s %s: %r vs %r" %
                      (a["labels"].get("city"), f, a.get(f), b.get(f)))
            if a["status"] == "resolved":
                check(a["endsAt"] == b["endsAt"], "resolved endsAt %s vs %s" %
                      (a["endsAt"], b["endsAt"]))

    # 4. inhibition: a critical PlatformDown for 烟台 mutes 烟台's KpiLagging
    t_inh = time.time()
    imp(base, [('platform_down{city="烟台"}', 1)])
    down = wait(lambda: mails("plain", "PlatformDown", t_inh), 15)
    check(down, "the critical alert is emailed")
    if down:
        check(down[0][2]["subject"] == "[告警 1] PlatformDown mr_items",
              "PlatformDown subject: %s" % down[0][2]["subject"])
    after = wait(lambda: [m for m in mails("plain", LAG, (down or [[0, t_inh]])[0][1])],
                 15)
    check(after, "KpiLagging is sent again (repeat)")
    if after:
        rr = rows(text_of(after[0][2]))
        check("烟台" not in rr, "烟台's warning is inhibited: %s" % sorted(rr))
        check(sorted(rr) == ["威海", "青岛"], "the others are still there: %s" % sorted(rr))

    # 5. SMTP down, then up
    plain.stop()
    t_down = time.time()
    imp(base, [('mr_items{city="东营"}', 30)])
    def queued():
        n = jget(base + "/api/v1/notifications")["data"]
        r = [x for x in n["receivers"] if x["name"] == "oncall"][0]
        return n if r["queued"] >= 1 and r["failed"] >= 1 else None
    q = wait(queued, 15)
    check(q, "with SMTP down the notification is queued and attempts fail")
    if q:
        r = [x for x in q["receivers"] if x["name"] == "oncall"][0]
        check("lastError" in r and "127.0.0.1" in r["lastError"],
              "the receiver's last error names the server: %s" % r.get("lastError"))
        qe = [x for x in q["queued"] if x["receiver"] == "oncall"]
        check(qe and qe[0]["attempts"] >= 1 and qe[0]["subject"].startswith("[告警"),
              "/api/v1/notifications lists the queued email: %s" % qe[:1])
        metrics = get(base + "/metrics").decode()
        check('pacewatch_notifications_queued{receiver="oncall"}' in metrics and
              [l for l in metrics.splitlines()
               if l.startswith('pacewatch_notifications_queued{receiver="oncall"}') and
               float(l.split()[-1]) >= 1], "metrics show it queued")
        check([l for l in metrics.splitlines()
               if l.startswith('pacewatch_notifications_failed_total{receiver="oncall"}') and
               float(l.split()[-1]) >= 1], "metrics count the failures")
        check([l for l in metrics.splitlines()
               if l.startswith('pacewatch_notifications_oldest_queued_age_seconds'
                               '{receiver="oncall"}') and float(l.split()[-1]) > 0],
              "metrics show the oldest queued age")
    other = wait(lambda: [m for m in mails("tls", LAG, t_down)
                          if "东营" in rows(text_of(m[2]))], 15)
    check(other, "a failing receiver does not hold up the others")
    time.sleep(2)
    plain = smtp("plain", p_plain, "plain")
    arrived = wait(lambda: [m for m in mails("plain", LAG, t_down)
                            if "东营" in rows(text_of(m[2]))], 20)
    check(arrived, "after SMTP is back, the queued email arrives")
    check(wait(lambda: [x for x in jget(base + "/api/v1/notifications")["data"]["receivers"]
                        if x["name"] == "oncall" and x["queued"] == 0], 15),
          "the outbox drains")

    # kill -9 with a notification queued
    plain.stop()
    t_k = time.time()
    imp(base, [('mr_items{city="滨州"}', 20)])
    q = wait(lambda: [x for x in jget(base + "/api/v1/notifications")["data"]["queued"]
                      if x["receiver"] == "oncall" and x["attempts"] >= 1], 15)
    check(q, "queued again with SMTP down")
    ids = [x["messageId"] for x in (q or [])]
    t_kill = time.time()
    pw.kill()
    pw.wait()
    plain = smtp("plain", p_plain, "plain")
    t_restart = time.time()
    pw = start()
    procs.append(pw)
    got = wait(lambda: all(mails_with_id(i) for i in ids) and ids, 20)
    check(got, "after kill -9 and a restart the queued email arrives: %s" % ids)
    time.sleep(3)
    for i in ids:
        check(len(mails_with_id(i)) == 1, "%s delivered once (got %d)" % (i, len(mails_with_id(i))))
    check([m for m in mails("plain", LAG, t_k) if "滨州" in rows(text_of(m[2]))],
          "the email names the new laggard")

    # mute time intervals, Message-IDs, the daemon's own health
    check(not mails("plain", "MutedNow"), "MutedNow (muted at this hour in Shanghai) never sent")
    check(mails("plain", "MutedLater"), "MutedLater (muted at another hour) is sent")
    with lock:
        for srv in ("plain", "tls", "smtps"):
            # Delivery is at least once: a message the server took while
            # pacewatch was killed (-9) before it recorded the delivery is
            # sent again after the restart, with the same Message-ID (so mail
            # clients show it once). Any other repeat is a bug. The server
            # notes a message when its handler runs, which on a loaded
            # machine can be after the kill: the first copy must have been
            # noted before the new daemon started, the second after the kill.
            times = {}
            for m in mail:
                if m[0] == srv:
                    times.setdefault(m[2]["Message-ID"], []).append(m[1])
            again = {i: t for i, t in times.items() if len(t) > 1}
            check(all(len(t) == 2 and t[0] <= t_restart and t[1] >= t_kill
                      for t in again.values()),
                  "%s: every Message-ID once, but for a message in flight at the kill -9 "
                  "(%d mails, repeated: %s)" % (srv, sum(map(len, times.values())), again))

    # a reload keeps the delivery counters: they are counters, not since-reload figures
    def sent_total():
        for line in get(base + "/metrics").decode().splitlines():
            if line.startswith('pacewatch_notifications_sent_total{receiver="oncall"}'):
                return float(line.split()[-1])
        return None
    before = sent_total()
    check(before and before >= 1, "oncall counted its deliveries before the reload: %s" % before)
    check(post(base + "/-/reload", "") == 200, "POST /-/reload answers 200")
    after = sent_total()
    check(after is not None and before is not None and after >= before,
          "pacewatch_notifications_sent_total does not fall back at a reload: %s then %s"
          % (before, after))
    stop_daemon(pw, log)


def mails_with_id(mid):
    with lock:
        return [m for m in mail if m[0] == "plain" and m[2]["Message-ID"] == mid]


_deadline = None


def conf_deadline():
    return _deadline


if __name__ == "__main__":
    main()
