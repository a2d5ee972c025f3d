#!/usr/bin/env python3
"""Hostile platforms and hostile imports (docs/collector.md, docs/http.md): small HTTP
servers of our own on 127.0.0.1 play platforms that lie, and the daemon (a real process)
must refuse what they ask for. Every server and daemon is started and stopped here, by PID.

1. links: a pagination link to a local file, to another host, an allowed other host
   (no credentials there), same-origin pages (credentials there), a redirect elsewhere.
2. secrets: a URL password and echoed credentials never show in /api/v1/targets,
   /metrics or the log.
3. limits: sample_limit, label_limit, label name and value lengths (per target and the
   global defaults), new_series_limit; each refusal fails the scrape with a reason and
   counts in its pacewatch_* metric.
4. JSON nested 100,000 deep, and a response of more values than the bound.
5. numbers that overflow a float (1e400): refused where promtool refuses them.
6. import: gzip bodies, a zip bomb, an unknown encoding, a corrupt body, the series
   limit, label limits, and the refusal counters.
7. a full disk (a small tmpfs in a mount namespace of the daemon's own): imports answer
   503 naming "no space left on device"; imports and scrapes are logged once per episode
   with the path and errno, and once when storing works again.

usage: collector_hostile_test.py PACEWATCH WORKDIR SOURCEDIR
"""
import base64
import gzip
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

PW, WORK, SRC = sys.argv[1:4]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish, free_port, stop_daemon  # noqa: E402


# ---- a platform of our own ------------------------------------------------------------

class Platform:
    """An HTTP server on 127.0.0.1 whose answers are set per path: routes[path] is a
    function(handler) -> (code, headers, body bytes). Every request is recorded."""

    def __init__(self):
        self.routes = {}
        self.requests = []  # (path, {header: value})
        self.lock = threading.Lock()
        plat = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with plat.lock:
                    plat.requests.append((self.path, dict(self.headers.items())))
                path = urllib.parse.urlsplit(self.path).path
                fn = plat.routes.get(path)
                code, hdrs, body = fn(self) if fn else (404, {}, b"no such page\n")
                self.send_response(code)
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.handle_error = lambda request, address: None  # a client that hung up
        self.port = self.srv.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def seen(self, path_prefix):
        with self.lock:
            return [(p, h) for p, h in self.requests if p.startswith(path_prefix)]

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def jbody(obj, code=200):
    return lambda h: (code, {"Content-Type": "application/json"}, json.dumps(obj).encode())


def text(body, code=200):
    data = body.encode() if isinstance(body, str) else body
    return lambda h: (code, {"Content-Type": "text/plain; version=0.0.4"}, data)


# ---- the daemon ------------------------------------------------------------------------

def start(name, conf, wrap=None):
    """Write conf (a dict) and start `pacewatch run` on it; wrap prefixes the command
    (a mount namespace). Returns (process, log path, http base)."""
    port = free_port()
    conf.setdefault("http", {})["listen"] = ["127.0.0.1:%d" % port]
    conf.setdefault("storage", {}).setdefault("path", os.path.join(WORK, "data-" + name))
    conf["storage"]["sync"] = False
    path = os.path.join(WORK, name + ".json")
    open(path, "w", encoding="utf-8").write(json.dumps(conf, ensure_ascii=False, indent=1))
    log = os.path.join(WORK, name + ".log")
    cmd = (wrap or []) + [PW, "run", "-c", path]
    d = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    base = "http://127.0.0.1:%d" % port
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/-/healthy", timeout=2).read()
            break
        except OSError:
            if d.poll() is not None:
                raise SystemExit("daemon %s exited: %s" % (name, open(log).read()))
            time.sleep(0.05)
    return d, log, base


def call(base, path, data=None, headers=None, timeout=60):
    req = urllib.request.Request(base + path, data=data, headers=headers or {},
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def targets(base):
    st, body = call(base, "/api/v1/targets")
    return {t["scrapePool"]: t for t in json.loads(body)["data"]["activeTargets"]}, body


def query(base, q):
    st, body = call(base, "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    return json.loads(body)["data"]["result"] if st == 200 else None


def wait_for(cond, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.2)
    return False


def scraped(base, jobs):
    """every job has been scraped at least once"""
    t, _ = targets(base)
    return all(j in t and t[j]["health"] != "unknown" for j in jobs)


def metric(base, name, job=None):
    """a value of pacewatch's own /metrics, or None"""
    _, body = call(base, "/metrics")
    pat = re.escape(name) + (r'\{job="%s"\}' % re.escape(job) if job else "") + r" (\S+)$"
    for line in body.splitlines():
        m = re.match(pat, line)
        if m:
            return float(m.group(1))
    return None


def json_target(name, url, **kw):
    t = {"name": name, "url": url, "interval": "1s", "timeout": "900ms",
         "metrics": [{"path": "$.items[*]", "metric": "hostile_items", "value": "@.v",
                      "labels": {"k": "@.k"}}]}
    t.update(kw)
    return t


def prom_target(name, url, **kw):
    t = {"name": name, "url": url, "interval": "1s", "timeout": "900ms", "format": "prometheus"}
    t.update(kw)
    return t


# ---- 1 and 2: links and secrets ----------------------------------------------------------

TOKEN = "tok-SECRET-1234"
HEADER_SECRET = "hdr-SECRET-5678"
URL_PASSWORD = "pa55-SECRET"
PEM = "-----BEGIN PRIVATE KEY-----\nKEYSECRETBYTES0123456789\n-----END PRIVATE KEY-----\n"


def part_links_and_secrets():
    plat, other = Platform(), Platform()
    keyfile = os.path.join(WORK, "key.pem")
    open(keyfile, "w").write(PEM)
    tokfile = os.path.join(WORK, "token")
    open(tokfile, "w").write(TOKEN + "\n")
    page = {"items": [{"k": "p1", "v": 1}]}
    plat.routes["/file/p1"] = jbody(dict(page, next="file://" + keyfile))
    plat.routes["/other/p1"] = jbody(dict(page, next=other.base + "/steal"))
    plat.routes["/allowed/p1"] = jbody(dict(page, next=other.base + "/ok2"))
    plat.routes["/same/p1"] = jbody(dict(page, next="/same/p2"))
    plat.routes["/same/p2"] = jbody({"items": [{"k": "p2", "v": 2}], "next": plat.base + "/same/p3"})
    plat.routes["/same/p3"] = jbody({"items": [{"k": "p3", "v": 3}]})
    plat.routes["/userinfo/p1"] = jbody(dict(page, next="http://x:y@127.0.0.1:%d/same/p3" % plat.port))
    # a URL with user:password@ paging by relative links: its own pages get them
    plat.routes["/pw/p1"] = jbody(dict(page, next="/pw/p2"))
    plat.routes["/pw/p2"] = jbody({"items": [{"k": "pw2", "v": 2}]})
    plat.routes["/redir"] = lambda h: (302, {"Location": other.base + "/redirected"}, b"moved\n")

    def echo(h):  # an error page quoting what it was sent
        auth = h.headers.get("Authorization") or ""
        decoded = ""
        if auth.startswith("Basic "):
            decoded = base64.b64decode(auth[6:]).decode("latin-1")
        return 401, {"Content-Type": "text/plain"}, (
            "denied: Authorization=%s X-Api-Key=%s decoded=%s\n" % (
                auth, h.headers.get("X-Api-Key"), decoded)).encode()
    plat.routes["/echo"] = echo
    other.routes["/steal"] = jbody({"items": [{"k": "stolen", "v": 7}]})
    other.routes["/ok2"] = jbody({"items": [{"k": "ok2", "v": 2}]})
    other.routes["/redirected"] = jbody({"items": [{"k": "redirected", "v": 9}]})

    creds = {"bearer_token_file": tokfile, "headers": {"X-Api-Key": HEADER_SECRET}}
    nxt = {"next": "$.next", "max_pages": 5}
    conf = {"global": {"scrape_interval": "1s", "scrape_timeout": "900ms"}, "targets": [
        json_target("file_link", plat.base + "/file/p1", pagination=nxt, **creds),
        json_target("other_host", plat.base + "/other/p1", pagination=nxt, **creds),
        json_target("allowed_other", plat.base + "/allowed/p1",
                    pagination=dict(nxt, allowed_origins=[other.base]), **creds),
        json_target("same_origin", plat.base + "/same/p1", pagination=nxt, **creds),
        json_target("userinfo_link", plat.base + "/userinfo/p1", pagination=nxt, **creds),
        json_target("redirect", plat.base + "/redir", **creds),
        json_target("url_password", "http://pwuser:%s@127.0.0.1:%d/echo" % (URL_PASSWORD, plat.port)),
        json_target("echo_token", plat.base + "/echo", **creds),
        json_target("url_password_pages", "http://pwuser:%s@127.0.0.1:%d/pw/p1"
                    % (URL_PASSWORD, plat.port), pagination=nxt),
    ]}
    d, log, base = start("links", conf)
    try:
        jobs = [t["name"] for t in conf["targets"]]
        check(wait_for(lambda: scraped(base, jobs), 20), "every target scraped once")
        time.sleep(2.5)  # a few scrapes each
        t, raw = targets(base)

        # a link to a local file is refused, and nothing of the file shows anywhere
        f = t["file_link"]
        check(f["health"] == "down", "file link: the scrape fails (%s)" % f["health"])
        check("file://" + keyfile in f["lastError"] and "refused" in f["lastError"],
              "file link: the error names the link and refuses it: " + f["lastError"])
        check(f["lastError"].startswith('pagination: next link "file://'),
              "the error reads as docs/collector.md shows it, quotes unescaped: " + f["lastError"])
        # another host: not followed at all, its samples not stored under our job
        o = t["other_host"]
        check(o["health"] == "down" and other.base + "/steal" in o["lastError"]
              and "refused" in o["lastError"], "other host: refused with the link: " + o["lastError"])
        check(not other.seen("/steal"), "other host: never asked (%d requests)" % len(other.seen("/steal")))
        check(not query(base, 'hostile_items{k="stolen"}'), "other host: nothing stored of it")
        # an allowed other origin is followed, without any credential
        a = t["allowed_other"]
        check(a["health"] == "up", "allowed origin: the scrape succeeds: " + a["lastError"])
        ok2 = other.seen("/ok2")
        check(len(ok2) >= 1, "allowed origin: its page is fetched")
        for _, h in ok2:
            low = {k.lower(): v for k, v in h.items()}
            check("authorization" not in low, "allowed origin: no Authorization sent there: %s" % low)
            check("x-api-key" not in low, "allowed origin: no custom header sent there: %s" % low)
        check(query(base, 'hostile_items{job="allowed_other",k="ok2"}'),
              "allowed origin: its samples are stored")
        # same origin, relative and absolute links: followed with the credentials
        s = t["same_origin"]
        check(s["health"] == "up", "same origin: the scrape succeeds: " + s["lastError"])
        for p in ("/same/p1", "/same/p2", "/same/p3"):
            hs = plat.seen(p)
            check(hs and all(h.get("Authorization") == "Bearer " + TOKEN and
                             h.get("X-Api-Key") == HEADER_SECRET for _, h in hs),
                  "same origin: %s gets the target's credentials" % p)
        check(len(query(base, 'hostile_items{job="same_origin"}') or []) == 3,
              "same origin: the three pages' samples")
        u = t["userinfo_link"]
        check(u["health"] == "down" and "refused" in u["lastError"] and "y@" not in u["lastError"],
              "a link with user:password@ is refused, its password not shown: " + u["lastError"])
        # a redirect elsewhere: not followed, no credential goes there
        r = t["redirect"]
        check(r["health"] == "down" and "HTTP 302" in r["lastError"],
              "redirect: fails with its status: " + r["lastError"])
        check(not other.seen("/redirected"), "redirect: the other host is never asked")

        # a URL's user:password@ goes to the pages of its origin, as a link names them
        w = t["url_password_pages"]
        check(w["health"] == "up", "URL credentials, relative link: followed: " + w["lastError"])
        want = "Basic " + base64.b64encode(("pwuser:" + URL_PASSWORD).encode()).decode()
        for pth in ("/pw/p1", "/pw/p2"):
            hs = plat.seen(pth)
            check(hs and all(h.get("Authorization") == want for _, h in hs),
                  "URL credentials: %s gets them (%s)" % (pth, [h.get("Authorization") for _, h in hs]))

        # secrets: the URL's password, echoed credentials
        p = t["url_password"]
        check(p["scrapeUrl"] == "http://pwuser:<secret>@127.0.0.1:%d/echo" % plat.port,
              "scrapeUrl with the password redacted: " + p["scrapeUrl"])
        check(p["health"] == "down" and "HTTP 401" in p["lastError"], "the echo page fails: " + p["lastError"])
        check("<secret>" in p["lastError"], "the echoed password is redacted: " + p["lastError"])
        e = t["echo_token"]
        check("<secret>" in e["lastError"], "the echoed token is redacted: " + e["lastError"])
        basic = base64.b64encode(("pwuser:" + URL_PASSWORD).encode()).decode()
        _, metrics_text = call(base, "/metrics")
        text_all = raw + metrics_text
        for secret in (URL_PASSWORD, TOKEN, HEADER_SECRET, basic, "KEYSECRETBYTES", "PRIVATE KEY"):
            check(secret not in text_all, "/api/v1/targets and /metrics never show %s" % secret)
    finally:
        logtext = stop_daemon(d, log)
        plat.stop()
        other.stop()
    for secret in (URL_PASSWORD, TOKEN, HEADER_SECRET, basic, "KEYSECRETBYTES", "PRIVATE KEY"):
        check(secret not in logtext, "the log never shows %s" % secret)
    check("pwuser:<secret>@" in logtext, "the log shows the URL redacted")


# ---- 3: limits --------------------------------------------------------------------------

def series(n, prefix="lim", labels=""):
    return "".join('%s{i="%d"%s} %d\n' % (prefix, i, labels, i) for i in range(n))


def part_limits():
    plat = Platform()
    plat.routes["/ten"] = text(series(10))
    plat.routes["/eleven"] = text(series(11))
    plat.routes["/labels6"] = text('lim6{a="1",b="2",c="3"} 1\n')  # + __name__ job instance
    plat.routes["/labels70"] = text("lim70{%s} 1\n" % ",".join('l%d="v"' % i for i in range(67)))
    plat.routes["/longname"] = text('limn{abcdefghijk="v"} 1\n')
    plat.routes["/longvalue"] = text('limv{a="%s"} 1\n' % ("x" * 11))
    plat.routes["/longdefault"] = text('limd{a="%s"} 1\n' % ("y" * 2049))
    plat.routes["/json4"] = jbody({"items": [{"k": str(i), "v": i} for i in range(4)]})
    conf = {"global": {"scrape_interval": "1s", "scrape_timeout": "900ms"}, "targets": [
        prom_target("at_limit", plat.base + "/ten", sample_limit=10),
        prom_target("over_limit", plat.base + "/eleven", sample_limit=10),
        prom_target("many_labels", plat.base + "/labels6", label_limit=5),
        prom_target("default_labels", plat.base + "/labels70"),
        prom_target("long_name", plat.base + "/longname", label_name_length_limit=10),
        prom_target("long_value", plat.base + "/longvalue", label_value_length_limit=10),
        prom_target("default_value", plat.base + "/longdefault"),
        json_target("json_over", plat.base + "/json4", sample_limit=3),
    ]}
    d, log, base = start("limits", conf)
    try:
        jobs = [t["name"] for t in conf["targets"]]
        check(wait_for(lambda: scraped(base, jobs), 20), "every target scraped once")
        time.sleep(1.5)
        t, _ = targets(base)
        check(t["at_limit"]["health"] == "up", "sample_limit 10 takes 10 samples: "
              + t["at_limit"]["lastError"])
        cases = [  # job, words the error must hold, counter
            ("over_limit", ["sample_limit exceeded", "more than 10 samples",
                            "targets[].sample_limit"], "sample_limit"),
            ("json_over", ["sample_limit exceeded", "more than 3 samples"], "sample_limit"),
            ("many_labels", ["label_limit exceeded", "metric: lim6", "number of labels: 6",
                             "limit: 5"], "label_limits"),
            ("default_labels", ["label_limit exceeded", "number of labels: 70", "limit: 64"],
             "label_limits"),
            ("long_name", ["label_name_length_limit exceeded", "abcdefghijk", "length: 11",
                           "limit: 10"], "label_limits"),
            ("long_value", ["label_value_length_limit exceeded", "label name: a", "length: 11",
                            "limit: 10"], "label_limits"),
            ("default_value", ["label_value_length_limit exceeded", "length: 2049",
                               "limit: 2048"], "label_limits"),
        ]
        for job, words, counter in cases:
            tt = t[job]
            check(tt["health"] == "down", "%s: the scrape fails" % job)
            for w in words:
                check(w in tt["lastError"], "%s: the error says %r: %s" % (job, w, tt["lastError"]))
            n = metric(base, "pacewatch_target_scrapes_exceeded_%s_total" % counter, job)
            check(n is not None and n >= 1, "%s: counted in pacewatch_target_scrapes_exceeded_%s_total "
                  "(%s)" % (job, counter, n))
            up = query(base, 'up{job="%s"}' % job)
            check(up and up[0]["value"][1] == "0", "%s: up is 0" % job)
        check(not query(base, 'lim{job="over_limit"}'), "nothing of a refused scrape is stored")
        check(len(query(base, 'lim{job="at_limit"}') or []) == 10, "all of an accepted one is")
        check(metric(base, "pacewatch_target_scrapes_exceeded_sample_limit_total", "at_limit") == 0,
              "an accepted scrape is not counted")
    finally:
        stop_daemon(d, log)
        plat.stop()


def part_new_series():
    plat = Platform()
    n = {"scrape": 0}

    def churn(h):  # 60 series no scrape had before
        n["scrape"] += 1
        return 200, {}, series(60, "churn", ',s="%d"' % n["scrape"]).encode()
    plat.routes["/churn"] = churn
    plat.routes["/stable"] = text(series(5, "stable"))
    conf = {"global": {"scrape_interval": "1s", "scrape_timeout": "900ms",
                       "new_series_limit": 100},
            "targets": [prom_target("churn", plat.base + "/churn"),
                        prom_target("stable", plat.base + "/stable")]}
    t0 = time.time()
    d, log, base = start("new-series", conf)
    try:
        check(wait_for(lambda: targets(base)[0]["churn"]["health"] == "down", 15),
              "a target adding new series each scrape is stopped")
        t, _ = targets(base)
        err = t["churn"]["lastError"]
        check("new_series_limit exceeded" in err and "60 new series" in err
              and "global.new_series_limit" in err, "the reason names the limit: " + err)
        n1 = metric(base, "pacewatch_target_scrapes_exceeded_new_series_limit_total", "churn")
        check(n1 is not None and n1 >= 1, "counted (%s)" % n1)
        time.sleep(4)
        t, _ = targets(base)
        check(t["stable"]["health"] == "up", "the stable target keeps working: "
              + t["stable"]["lastError"])
        stored = len(query(base, "count by (s) (count_over_time(churn[10m]))") or [])
        elapsed = time.time() - t0
        allowed = 1 + (100 + 100 * elapsed / 60) // 60  # the first scrape, then the allowance
        check(stored <= allowed, "at most %d scrapes of new series stored in %.0f s (%d)"
              % (allowed, elapsed, stored))
    finally:
        stop_daemon(d, log)
        plat.stop()


# ---- 4 and 5: JSON bounds, numbers --------------------------------------------------

def promtool_accepts(body):
    p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                       text=True)
    return "parsing error" not in (p.stdout + p.stderr)


NUMBERS = ["1e400", "-1e400", "1.8e308", "1.7976931348623157e308", "1e-400", "+Inf", "-Inf",
           "NaN", "4.9e-324"]


def part_json_and_numbers():
    plat = Platform()
    deep = "[" * 100000 + "]" * 100000
    plat.routes["/deep"] = lambda h: (200, {"Content-Type": "application/json"}, deep.encode())
    plat.routes["/wide"] = lambda h: (200, {}, ("[" + "0," * 1000000 + "0]").encode())
    plat.routes["/ok"] = jbody({"items": [{"k": "a", "v": 1}]})
    # 64 MiB of JSON in some 64 KiB of gzip: max_response_size holds for what it inflates to
    zbomb = gzip.compress(b'{"items": [' + b" " * (64 << 20) + b"]}", 9)
    plat.routes["/zbomb"] = lambda h: (200, {"Content-Type": "application/json",
                                             "Content-Encoding": "gzip"}, zbomb)
    plat.routes["/inf"] = text("num 1\nnum_inf 1e400\n")
    plat.routes["/csv"] = text("k,v\na,1\nb,1e400\n")
    plat.routes["/jsonstr"] = jbody({"items": [{"k": "a", "v": "1e400"}]})
    conf = {"global": {"scrape_interval": "1s", "scrape_timeout": "900ms"}, "targets": [
        json_target("deep", plat.base + "/deep"),
        json_target("wide", plat.base + "/wide"),
        json_target("ok", plat.base + "/ok"),
        json_target("zbomb", plat.base + "/zbomb", max_response_size="1MiB"),
        prom_target("inf", plat.base + "/inf"),
        {"name": "csv_inf", "url": plat.base + "/csv", "format": "csv", "interval": "1s",
         "timeout": "900ms", "csv": {"labels": {"k": "k"}, "values": {"csv_v": "v"}}},
        json_target("json_inf", plat.base + "/jsonstr"),
    ]}
    d, log, base = start("json", conf)
    try:
        jobs = [t["name"] for t in conf["targets"]]
        check(wait_for(lambda: scraped(base, jobs), 30), "every target scraped once")
        t, _ = targets(base)
        check(t["deep"]["health"] == "down" and "deeper than 256 levels" in t["deep"]["lastError"],
              "JSON 100,000 deep fails the scrape: " + t["deep"]["lastError"])
        check(t["wide"]["health"] == "down" and "more than 1000000 JSON values" in t["wide"]["lastError"],
              "a million and one values fail the scrape: " + t["wide"]["lastError"])
        check(t["ok"]["health"] == "up", "the daemon goes on with the others")
        check(t["zbomb"]["health"] == "down" and "max_response_size" in t["zbomb"]["lastError"]
              and "1048576" in t["zbomb"]["lastError"],
              "a gzip response inflating past max_response_size fails the scrape: "
              + t["zbomb"]["lastError"])
        check(t["inf"]["health"] == "down" and "line 2, column 9" in t["inf"]["lastError"]
              and "out of range" in t["inf"]["lastError"], "1e400 scraped: " + t["inf"]["lastError"])
        check(t["csv_inf"]["health"] == "down" and "out of range" in t["csv_inf"]["lastError"],
              "1e400 in a CSV cell: " + t["csv_inf"]["lastError"])
        check(t["json_inf"]["health"] == "down" and "out of range" in t["json_inf"]["lastError"],
              "1e400 in a JSON string: " + t["json_inf"]["lastError"])
        for v in NUMBERS:
            body = "# HELP num_%d h\n# TYPE num_%d gauge\nnum_%d %s\n" % ((len(v),) * 3 + (v,))
            st, msg = call(base, "/api/v1/import/prometheus", body.encode())
            want = promtool_accepts(body)
            check((st == 204) == want, "import of %s: %s as promtool (%s: %s)"
                  % (v, "accepted" if want else "refused", st, msg.strip()))
            if not want:
                check("line 3, column %d" % (len("num_%d " % len(v)) + 1) in msg
                      and "out of range" in msg, "the refusal of %s names its place: %s" % (v, msg))
    finally:
        stop_daemon(d, log)
        plat.stop()


# ---- 6: import --------------------------------------------------------------------------

def part_import():
    conf = {"http": {"max_request_size": "1MiB", "import_series_limit": 100},
            "global": {"label_value_length_limit": 10}}
    d, log, base = start("import", conf)
    imp = "/api/v1/import/prometheus"
    try:
        body = series(20, "gz").encode()
        st, msg = call(base, imp, gzip.compress(body), {"Content-Encoding": "gzip"})
        check(st == 204, "a gzip body is imported (%s %s)" % (st, msg))
        check(len(query(base, "gz") or []) == 20, "all its series are there")
        # two gzip members one after the other are one body, as gzip -c a b makes it
        st, msg = call(base, imp, gzip.compress(b"gz2 1\n") + gzip.compress(b"gz3 1\n"),
                       {"Content-Encoding": "gzip"})
        check(st == 204 and query(base, "gz3"), "concatenated gzip members (%s %s)" % (st, msg))
        bomb = gzip.compress(b"bomb 1\n" * ((64 << 20) // 7), 9)
        check(len(bomb) < 1 << 20, "the bomb itself is below max_request_size (%d)" % len(bomb))
        st, msg = call(base, imp, bomb, {"Content-Encoding": "gzip"})
        check(st == 413 and "http.max_request_size" in msg and "1048576" in msg
              and "decompress" in msg, "a zip bomb is refused with 413 naming the limit: %s %s"
              % (st, msg))
        check(not query(base, "bomb"), "nothing of the bomb is stored")
        st, msg = call(base, imp, b"x 1\n", {"Content-Encoding": "br"})
        check(st == 415 and '"br"' in msg, "another encoding: 415 naming it: %s %s" % (st, msg))
        st, msg = call(base, imp, gzip.compress(body)[:40] + b"garbage" * 10,
                       {"Content-Encoding": "gzip"})
        check(st == 400 and "gzip" in msg, "a corrupt gzip body: 400: %s %s" % (st, msg))
        st, msg = call(base, imp, series(100, "s100").encode())
        check(st == 204, "100 series with import_series_limit 100 (%s %s)" % (st, msg))
        # 101 series, one of them twice: counted once
        st, msg = call(base, imp, (series(101, "s101") + 's101{i="3"} 7\n').encode())
        check(st == 413 and "http.import_series_limit" in msg and "100" in msg,
              "101 series: 413 naming the limit: %s %s" % (st, msg))
        check(not query(base, "s101"), "nothing of it is stored")
        st, msg = call(base, imp, gzip.compress(series(101, "s101gz").encode()),
                       {"Content-Encoding": "gzip"})
        check(st == 413, "the limit holds for gzip bodies too (%s)" % st)
        st, msg = call(base, imp, b'ok 1\nlv{a="01234567890"} 1\n')
        check(st == 400 and "line 2" in msg and "label_value_length_limit" in msg,
              "a label value over global.label_value_length_limit: %s %s" % (st, msg))
        for name, want in (("series_limit", 2), ("label_limits", 1), ("size_limit", 1)):
            n = metric(base, "pacewatch_import_requests_exceeded_%s_total" % name)
            check(n == want, "pacewatch_import_requests_exceeded_%s_total is %d (%s)" % (name, want, n))
    finally:
        stop_daemon(d, log)


# ---- 7: a full disk ---------------------------------------------------------------------

def part_disk_full():
    if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        print("SKIP: disk full needs a mount namespace (unshare -m as root)")
        return
    mnt = os.path.join(WORK, "small-disk")
    os.makedirs(mnt, exist_ok=True)
    store = os.path.join(mnt, "data")
    # and a platform whose every scrape writes new series, so that scrapes need room too
    plat = Platform()
    n = {"scrape": 0}

    def churn(h):
        n["scrape"] += 1
        return 200, {}, series(300, "disk", ',s="%d",pad="%s"' % (n["scrape"], "q" * 60)).encode()
    plat.routes["/churn"] = churn
    conf = {"storage": {"path": store},
            "global": {"scrape_interval": "1s", "scrape_timeout": "900ms", "new_series_limit": 0},
            "targets": [prom_target("disk", plat.base + "/churn")]}
    # the tmpfs exists in the daemon's own mount namespace only; exec keeps the PID
    wrap = ["unshare", "-m", "sh", "-c",
            'mount -t tmpfs -o size=16m tmpfs "$0" && exec "$@"', mnt]
    d, log, base = start("disk-full", conf, wrap)
    imp = "/api/v1/import/prometheus"
    ballast = "/proc/%d/root%s/ballast" % (d.pid, mnt)

    def fill():
        with open(ballast, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (256 << 10))
                    f.flush()
            except OSError:
                pass

    def big(k):
        return "".join('full_%d{i="%d",pad="%s"} 1\n' % (k, i, "p" * 60) for i in range(3000)).encode()
    def scrape_lines(words):
        return [l for l in open(log, encoding="utf-8", errors="replace").read().splitlines()
                if "storing scrapes into" in l and words in l]
    try:
        st, msg = call(base, imp, b"before 1\n")
        check(st == 204, "an import before the disk fills (%s %s)" % (st, msg))
        for episode in (1, 2):
            fill()
            check(wait_for(lambda: len(scrape_lines("failed")) >= episode, 30),
                  "episode %d: the scrapes' failure to store is logged" % episode)
            for k in range(2):
                st, msg = call(base, imp, big(episode * 10 + k))
                check(st == 503 and "no space left on device" in msg and store in msg,
                      "episode %d, import %d: 503 naming the cause and the path: %s %s"
                      % (episode, k, st, msg))
            time.sleep(2.5)  # more scrapes fail, and are not logged again
            os.remove(ballast)
            st, msg = call(base, imp, b"after 1\n")
            check(st == 204, "episode %d: imports work once there is room (%s %s)"
                  % (episode, st, msg))
            check(wait_for(lambda: len(scrape_lines("works again")) >= episode, 30),
                  "episode %d: scrapes are stored again, and that is logged" % episode)
    finally:
        text = stop_daemon(d, log)
        plat.stop()
    lines = [l for l in text.splitlines() if "storing scrapes into" in l and " error " in l]
    check(len(lines) == 2, "scrapes: one error line per episode (%d):\n%s"
          % (len(lines), "\n".join(lines)))
    for l in lines:
        check(store in l and "errno" in l and "no space left on device" in l,
              "scrapes: the line names the path, the cause and errno: " + l)
    check(len(scrape_lines("works again")) == 2, "scrapes: one line when it works again")
    lines = [l for l in text.splitlines() if "storing" in l and "import" in l and " error " in l]
    check(len(lines) == 2, "one error line per episode (%d):\n%s" % (len(lines), "\n".join(lines)))
    for l in lines:
        check(store in l and "errno" in l and "no space left on device" in l,
              "the line names the path, the cause and errno: " + l)
    again = [l for l in text.splitlines() if "import" in l and "works again" in l]
    check(len(again) == 2, "and one line when it works again (%d)" % len(again))


if __name__ == "__main__":
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    parts = sys.argv[4:] or ["links", "limits", "new_series", "json", "import", "disk_full"]
    table = {"links": part_links_and_secrets, "limits": part_limits,
             "new_series": part_new_series, "json": part_json_and_numbers,
             "import": part_import, "disk_full": part_disk_full}
    for p in parts:
        print("--", p, flush=True)
        table[p]()
    finish()
