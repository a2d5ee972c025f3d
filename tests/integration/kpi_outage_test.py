#!/usr/bin/python3
"""A platform outage end to end: the simulator, pacewatch and a real SMTP server
(Debian's aiosmtpd), all on 127.0.0.1, started and stopped here by PID.

The 12356 hotline KPI "every line has at least 2 seats" is past its deadline,
and three cities staff only one seat: KpiMissed fires for them and is emailed.
Then the hotline platform answers HTTP 500 (the simulator's fault injection):

1. for 8 s, shorter than the KPI's stale_after (30 s): the platform-down alert
   is emailed and then its resolution, and no KPI email at all goes out (the
   staleness markers of the failed scrapes do not make a KPI unit stale; the
   missed units stay missed);
2. for 45 s, longer than stale_after: KpiStale is emailed for the units, and
   KpiMissed is not resolved, during the outage or after it: only reaching
   the target resolves a missed target.

usage: kpi_outage_test.py PACEWATCH SIMULATOR WORKDIR SOURCEDIR
"""
import email
import email.policy
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish, free_port, programme_config, stop_daemon  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402

PW, SIM, WORK, SRC = sys.argv[1:5]
KPI_TITLE = "12356热线每条线路不少于2个坐席"
DOWN_TITLE = "平台无法采集"
lock = threading.Lock()
mail = []  # (time, subject, text)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with lock:
            mail.append((time.time(), str(msg["subject"]),
                         msg.get_body(("plain",)).get_content()))
        return "250 OK"


def since(t):
    with lock:
        return [m for m in mail if m[0] >= t]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def wait(cond, timeout, step=0.25):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return None


def firing(base, alertname):
    """cities of the firing alerts of that name"""
    try:
        alerts = json.loads(get(base + "/api/v1/alerts"))["data"]["alerts"]
    except OSError:
        return None
    return sorted(a["labels"].get("city", "") for a in alerts
                  if a["labels"].get("alertname") == alertname and a["state"] == "firing")


def start_sim():
    portfile = os.path.join(WORK, "sim.port")
    # at the simulated clock's own pace: the figures stay where they are
    p = subprocess.Popen([SIM, "--listen", "127.0.0.1:0", "--port-file", portfile,
                          "--accel", "1", "--start", "2025-06-15"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = wait(lambda: os.path.exists(portfile) and open(portfile).read().strip(), 10)
    if not port:
        raise SystemExit("simulator did not start")
    return p, int(port)


def fault(sim_port, kind):
    get("http://127.0.0.1:%d/_admin/fault?endpoint=hotline&kind=%s" % (sim_port, kind))


def config(sim_port, smtp_port, http_port):
    conf = programme_config(SRC, sim_port)
    conf["global"]["evaluation_interval"] = "1s"
    conf["storage"] = {"path": os.path.join(WORK, "store")}
    conf["http"] = {"listen": ["127.0.0.1:%d" % http_port]}
    conf["targets"] = [t for t in conf["targets"] if t["name"] == "hotline_12356"]
    conf["targets"][0]["bearer_token_file"] = os.path.join(SRC, "conf/examples/demo-hotline.token")
    seats = [k for k in conf["kpis"] if k["name"] == "hotline_seats"][0]
    seats["stale_after"] = "30s"
    conf["kpis"] = [seats]
    down = conf["rule_groups"][0]["rules"][0]
    down["for"] = "2s"
    conf["rule_groups"] = [{"name": "platforms", "rules": [down]}]
    conf["notify"] = {
        "receivers": [{"name": "值班", "email": {
            "smarthost": "127.0.0.1:%d" % smtp_port, "tls": "none",
            "from": "pacewatch <pw@example.org>", "to": ["值班室 <duty@example.org>"]}}],
        "route": {"receiver": "值班", "group_by": ["alertname", "kpi"], "group_wait": "1s",
                  "group_interval": "2s", "repeat_interval": "1h"}}
    path = os.path.join(WORK, "pacewatch.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(conf, f, ensure_ascii=False, indent=1)
    return path


def kpi_mails(t):
    return [m for m in since(t) if KPI_TITLE in m[1]]


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    smtp_port, http_port = free_port(), free_port()
    smtp = Controller(Handler(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    sim, sim_port = start_sim()
    base = "http://127.0.0.1:%d" % http_port
    log = os.path.join(WORK, "pacewatch.log")
    pw = subprocess.Popen([PW, "run", "-c", config(sim_port, smtp_port, http_port)],
                          stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        run(base, sim_port)
    finally:
        if pw.poll() is None:
            stop_daemon(pw, log)
        sim.terminate()
        sim.wait()
        smtp.stop()
    finish()


def run(base, sim_port):
    # the missed target, emailed
    missed = wait(lambda: [m for m in kpi_mails(0) if "逾期未达标" in m[1]], 30)
    check(missed, "KpiMissed is emailed for the cities with one seat")
    if not missed:
        return
    cities = firing(base, "KpiMissed")
    check(cities and len(cities) == 3, "KpiMissed fires for three cities: %s" % cities)
    check(not wait(lambda: kpi_mails(missed[-1][0] + 0.01), 5),
          "nothing more about the KPI while all is well")

    # 1. an outage shorter than stale_after
    t1 = time.time()
    fault(sim_port, "http500")
    down = wait(lambda: [m for m in since(t1) if DOWN_TITLE in m[1] and "[告警" in m[1]], 15)
    check(down, "the platform-down alert is emailed during an 8 s outage")
    time.sleep(max(0.0, t1 + 8 - time.time()))
    fault(sim_port, "none")
    back = wait(lambda: [m for m in since(t1) if DOWN_TITLE in m[1] and "[已恢复]" in m[1]], 20)
    check(back, "its resolution is emailed when the platform answers again")
    # until well past the moment stale_after would have passed since the outage began
    time.sleep(max(0.0, t1 + 40 - time.time()))
    check(not kpi_mails(t1), "no KPI email for an outage shorter than stale_after: %s"
          % [m[1] for m in kpi_mails(t1)])
    check(firing(base, "KpiMissed") == cities, "the three cities are still missed")
    check(firing(base, "KpiStale") == [], "and not stale")

    # 2. an outage longer than stale_after
    t2 = time.time()
    fault(sim_port, "http500")
    stale = wait(lambda: [m for m in kpi_mails(t2) if "数据未更新" in m[1]], 60)
    check(stale, "KpiStale is emailed once stale_after has passed in a 45 s outage")
    if stale:
        check(stale[0][0] - t2 >= 25, "not before stale_after (30 s): after %.1f s"
              % (stale[0][0] - t2))
        check(all(c in stale[0][2] for c in ("枣庄", "聊城", "菏泽")),
              "the stale units are named: %s" % stale[0][2][:600])
    check(firing(base, "KpiMissed") == cities, "during the outage the cities are still missed")
    time.sleep(max(0.0, t2 + 45 - time.time()))
    fault(sim_port, "none")
    wait(lambda: firing(base, "KpiStale") == [], 20)
    time.sleep(5)
    resolved = [m[1] for m in kpi_mails(t2) if "[已恢复]" in m[1] and "逾期未达标" in m[1]]
    check(not resolved, "KpiMissed is never resolved by missing data: %s" % resolved)
    check(firing(base, "KpiMissed") == cities, "after the outage the cities are still missed")
    check(firing(base, "KpiStale") == [], "and no longer stale")


if __name__ == "__main__":
    main()
