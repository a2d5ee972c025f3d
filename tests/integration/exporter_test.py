#!/usr/bin/env python3
"""Exporter integration test: pacewatch's HTTP server with real peers on
127.0.0.1, started and stopped here by PID.

- /metrics passes `promtool check metrics`; gzip and OpenMetrics negotiation;
- import: awkward label values (quotes, backslashes, newlines, Chinese) come
  back identical on /metrics and in `pacewatch dump`; 400 with line and
  column; 413 past the body limit; extra_label;
- authentication: 401 without credentials, success with them;
- a client sending one byte a second is timed out while others are served;
- health, readiness, reload;
- a real Prometheus scrapes pacewatch; its query API returns exactly the
  values pacewatch holds, in text format and again preferring OpenMetrics.

usage: exporter_test.py PACEWATCH SIMULATOR WORKDIR SOURCEDIR
"""
import base64
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

PW, SIM, WORK, SRC = sys.argv[1:5]
from pwtest import check, finish, free_port, stop_daemon
READ_TOKEN = "read-token-2025"
WRITE_USER, WRITE_PASS = "ops", "p@ss word"


def http(url, data=None, headers=None, method=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


READ = {"Authorization": "Bearer " + READ_TOKEN}
WRITE = {"Authorization": "Basic " + base64.b64encode(
    ("%s:%s" % (WRITE_USER, WRITE_PASS)).encode()).decode()}

AWKWARD = [
    ('quote"inside', 1.5), ("back\\slash", -2), ("new\nline", 3e-7),
    ("郓城县 \"二期\"\\n", 42), ("济南", 215),
]


def esc(v):
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    open(os.path.join(WORK, "read.token"), "w").write(READ_TOKEN + "\n")
    open(os.path.join(WORK, "write.pass"), "w").write(WRITE_PASS + "\n")
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    store = os.path.join(WORK, "data")
    conf = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
        "storage": {"path": store},
        "http": {"listen": ["127.0.0.1:%d" % port], "max_request_size": "4KiB",
                 "connection_timeout": "2s",
                 "read_auth": {"bearer_token_file": "read.token"},
                 "write_auth": {"username": WRITE_USER, "password_file": "write.pass"}},
        "targets": [],
    }
    cpath = os.path.join(WORK, "pacewatch.json")
    json.dump(conf, open(cpath, "w"))
    log = os.path.join(WORK, "pacewatch.log")
    d = subprocess.Popen([PW, "run", "-c", cpath], stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        wait_healthy(base)
        check(http(base + "/-/healthy")[0] == 200, "/-/healthy")
        check(http(base + "/-/ready")[0] == 200, "/-/ready with no targets")

        # authentication
        check(http(base + "/metrics")[0] == 401, "/metrics without a token is 401")
        check(http(base + "/metrics", headers={"Authorization": "Bearer wrong"})[0] == 401,
              "/metrics with a wrong token is 401")
        check(http(base + "/metrics", headers=READ)[0] == 200, "/metrics with the token")
        body = "".join('awkward_value{note="%s"} %r 1751299140000\n' % (esc(n), v)
                       for n, v in AWKWARD).encode()
        check(http(base + "/api/v1/import/prometheus", body)[0] == 401, "import without credentials")
        st, _, _ = http(base + "/api/v1/import/prometheus?extra_label=source=test", body, WRITE)
        check(st == 204, "import with credentials is 204 (got %s)" % st)

        # import errors
        st, _, msg = http(base + "/api/v1/import/prometheus",
                          b"ok_metric 1\nbroken{a=\"b\" 2\n", WRITE)
        check(st == 400 and b"line 2, column 14" in msg, "400 names line and column: %s" % msg)
        check(b"ok_metric" not in http(base + "/metrics", headers=READ)[2],
              "a rejected import stores nothing")
        st, _, msg = http(base + "/api/v1/import/prometheus", b"x 1\n" * 2000, WRITE)
        check(st == 413, "413 past http.max_request_size (got %s)" % st)

        # the exposition: promtool, values, gzip, OpenMetrics
        st, hdr, text = http(base + "/metrics", headers=READ)
        text = text.decode()
        p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True)
        check(p.returncode == 0, "promtool check metrics: %s %s" % (p.stdout, p.stderr))
        for n, v in AWKWARD:
            line = 'awkward_value{note="%s",source="test"} %s' % (esc(n), fmt(v))
            check(line in text.splitlines(), "exposition has %s" % line)
        check("1751299140000" not in text, "no timestamps by default")
        dump = subprocess.run([PW, "dump", "--storage", store, "--match", "awkward_value"],
                              capture_output=True, text=True).stdout
        for n, v in AWKWARD:
            check('awkward_value{note="%s",source="test"} %s 1751299140000' % (esc(n), fmt(v))
                  in dump, "dump has %s" % n)
        st, hdr, gz = http(base + "/metrics", headers=dict(READ, **{"Accept-Encoding": "gzip"}))
        check(hdr.get("Content-Encoding") == "gzip", "gzip when accepted")
        plain = gzip.decompress(gz).decode()
        check(strip_self(plain) == strip_self(text), "gzip body is the same exposition")
        st, hdr, om = http(base + "/metrics", headers=dict(READ, Accept=(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")))
        check(hdr.get("Content-Type", "").startswith("application/openmetrics-text"),
              "OpenMetrics when preferred")
        check(om.decode().endswith("# EOF\n"), "OpenMetrics ends with # EOF")
        st, hdr, _ = http(base + "/metrics", headers=dict(READ, Accept="text/plain;version=0.0.4"))
        check(hdr.get("Content-Type", "").startswith("text/plain"), "text when asked")

        # a slow client is timed out while others are served
        slow = socket.create_connection(("127.0.0.1", port))
        t0 = time.time()
        served = 0
        closed = False
        for ch in b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n":
            try:
                slow.send(bytes([ch]))
            except OSError:
                closed = True
                break
            if http(base + "/-/healthy")[0] == 200:
                served += 1
            time.sleep(1)
            if time.time() - t0 > 8:
                break
        try:
            slow.settimeout(2)
            closed = closed or slow.recv(100) == b""
        except OSError:
            closed = True
        check(closed, "the slow client was disconnected")
        check(served >= 2, "other clients were served meanwhile (%d)" % served)

        # reload
        check(http(base + "/-/reload", b"", WRITE)[0] == 200, "POST /-/reload")
        check(http(base + "/-/reload", b"")[0] == 401, "reload needs credentials")

        # a real Prometheus (which prefers OpenMetrics) scrapes us
        prometheus_round("OpenMetrics", port)
    finally:
        stop_daemon(d, log)
    # again with OpenMetrics switched off: Prometheus gets text 0.0.4
    conf["http"]["openmetrics"] = False
    json.dump(conf, open(cpath, "w"))
    d = subprocess.Popen([PW, "run", "-c", cpath], stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        wait_healthy(base)
        st, hdr, _ = http(base + "/metrics", headers=dict(READ, Accept="application/openmetrics-text"))
        check(hdr.get("Content-Type", "").startswith("text/plain"),
              "http.openmetrics false: text even when OpenMetrics is asked for")
        prometheus_round("text", port)
    finally:
        stop_daemon(d, log)
    tls_and_ipv6(conf, cpath, log)
    finish()


def tls_and_ipv6(conf, cpath, log):
    """HTTPS from certificate and key files; an IPv6 listen address."""
    import ssl
    cert, key = os.path.join(WORK, "cert.pem"), os.path.join(WORK, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True)
    p4, p6 = free_port(), free_port()
    conf["http"]["listen"] = ["127.0.0.1:%d" % p4, "[::1]:%d" % p6]
    conf["http"]["tls_cert_file"], conf["http"]["tls_key_file"] = cert, key
    conf["http"]["metrics_timestamps"] = True
    json.dump(conf, open(cpath, "w"))
    d = subprocess.Popen([PW, "run", "-c", cpath], stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        ctx = ssl.create_default_context(cafile=cert)
        ok = False
        for _ in range(100):
            try:
                with urllib.request.urlopen("https://127.0.0.1:%d/-/healthy" % p4, context=ctx,
                                            timeout=5) as r:
                    ok = r.status == 200
                    break
            except (OSError, ssl.SSLError):
                time.sleep(0.1)
        check(ok, "HTTPS with the configured certificate")
        req = urllib.request.Request("https://127.0.0.1:%d/metrics" % p4, headers=READ)
        with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
            body = r.read().decode()
        check(any(l.startswith("awkward_value") and l.endswith(" 1751299140000")
                  for l in body.splitlines()), "http.metrics_timestamps adds timestamps")
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/-/healthy" % p4, timeout=5)
            check(False, "plain HTTP to the TLS port is refused")
        except (OSError, urllib.error.URLError, http_client_errors()):
            pass
        noverify = ssl.create_default_context()
        noverify.check_hostname = False
        noverify.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen("https://[::1]:%d/-/healthy" % p6, context=noverify,
                                        timeout=5) as r:
                check(r.status == 200, "served on [::1]")
        except OSError as e:
            check(False, "served on [::1]: %s" % e)
    finally:
        stop_daemon(d, log)


def http_client_errors():
    import http.client
    return http.client.HTTPException


def wait_healthy(base):
    for _ in range(100):
        try:
            if http(base + "/-/healthy")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)


def prometheus_round(proto, port):
    ppath = os.path.join(WORK, "prom-" + proto)
    os.makedirs(ppath)
    pport = free_port()
    yml = os.path.join(ppath, "prometheus.yml")
    open(yml, "w").write(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n"
        "  - job_name: pacewatch\n"
        "    authorization:\n      credentials: '%s'\n"
        "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % (READ_TOKEN, port))
    prom = subprocess.Popen(["prometheus", "--config.file=" + yml,
                             "--storage.tsdb.path=" + ppath + "/data",
                             "--web.listen-address=127.0.0.1:%d" % pport, "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=open(ppath + "/log", "w"))
    purl = "http://127.0.0.1:%d" % pport
    try:
        ok, r = False, b"{}"
        for _ in range(60):
            time.sleep(0.5)
            try:
                st, _, r = http(purl + "/api/v1/query?" + urllib.parse.urlencode(
                    {"query": "awkward_value"}))
                if st == 200 and len(json.loads(r)["data"]["result"]) == len(AWKWARD):
                    ok = True
                    break
            except OSError:
                pass
        check(ok, "%s: Prometheus scraped every awkward series" % proto)
        res = json.loads(r)["data"]["result"] if ok else []
        got = {x["metric"]["note"]: float(x["value"][1]) for x in res}
        for n, v in AWKWARD:
            check(got.get(n) == v, "%s: Prometheus holds %r = %r (got %r)" % (
                proto, n, v, got.get(n)))
        q = subprocess.run(["promtool", "query", "instant", purl, 'awkward_value{note="济南"}'],
                           capture_output=True, text=True)
        check(q.returncode == 0 and "=> 215" in q.stdout,
              "%s: promtool query instant: %s %s" % (proto, q.stdout, q.stderr))
    finally:
        prom.send_signal(signal.SIGTERM)
        prom.wait(timeout=30)


def fmt(v):
    if v == int(v) and abs(v) < 2 ** 53:
        return "%d" % v
    for p in (15, 16, 17):
        s = "%.*g" % (p, v)
        if float(s) == v:
            return s


def strip_self(t):
    """The exposition without pacewatch's own counters, which move."""
    return [l for l in t.splitlines() if not l.startswith("pacewatch_")]


main()
