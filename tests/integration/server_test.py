"""The HTTP server under hostile clients, and its TLS.

usage: server_test.py PACEWATCH WORKDIR tls
       server_test.py PACEWATCH WORKDIR connections
       server_test.py PACEWATCH WORKDIR soak SECONDS

tls: check-config and run refuse a key that is not PEM or not the
certificate's, and an expired certificate, at the key, naming the file;
a certificate that expires soon is a warning. The server refuses TLS 1.0
and 1.1 and non-AEAD ciphers, serves TLS 1.2 and 1.3, and only 1.3 with
http.tls_min_version TLS1.3 (openssl s_client is the client).

connections: a client that sends a header line every second is cut at
http.header_timeout, not kept for as long as it trickles; one address gets
http.per_ip_connection_limit connections, no more; and with 300 slow
clients (a header line every 13 s) and 2,000 idle sockets holding the main
listener, a client scraping /metrics on the health listener every second
gets every answer within 1 s.

soak: the same load, plus huge and endless queries, bad imports and
reloads (SIGHUP) for SECONDS; every scrape within 1 s, the daemon's RSS
under a bound, no sanitizer report, exit 0 on SIGTERM. scripts/check runs
it for about two minutes.

The hostile clients run in a child process (this script with "attack"),
so that their sockets do not slow the scraper; it is started and stopped
by PID, as is the daemon.
"""
import json
import os
import random
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish, free_port, stop_daemon  # noqa: E402

# The daemon's resident set under AddressSanitizer stays under this (its
# shadow memory and quarantine included): measured 94 MiB under the slow
# and idle clients, 590 MiB with the huge queries of the soak.
RSS_LIMIT_MIB = 1024


def http_get(url, timeout=5.0):
    t0 = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as r:
        r.read()
        return r.status, time.monotonic() - t0


def wait_healthy(base, secs=60):
    end = time.time() + secs
    while time.time() < end:
        try:
            if http_get(base + "/-/healthy", 2)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def start(pw, work, conf, name="pacewatch"):
    cpath = os.path.join(work, name + ".json")
    json.dump(conf, open(cpath, "w"))
    log = os.path.join(work, name + ".log")
    d = subprocess.Popen([pw, "run", "-c", cpath], stdout=subprocess.DEVNULL,
                         stderr=open(log, "w"))
    return d, log


def base_conf(work, port, hport, **http):
    conf = {"global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
            "storage": {"path": os.path.join(work, "data")},
            "http": {"listen": ["127.0.0.1:%d" % port],
                     "health_listen": ["127.0.0.1:%d" % hport]},
            "targets": []}
    conf["http"].update(http)
    return conf


# ---- TLS ---------------------------------------------------------------------

def openssl(*args, cwd=None):
    return subprocess.run(["openssl"] + list(args), capture_output=True, text=True, cwd=cwd,
                          timeout=60)


def s_client(port, *args):
    """True when openssl s_client completes a handshake with these options"""
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-brief"]
                       + list(args), input="", capture_output=True, text=True, timeout=30)
    return p.returncode == 0 and "CONNECTION ESTABLISHED" in p.stdout + p.stderr


def tls(pw, work):
    d = os.path.join(work, "tls")
    os.makedirs(d)
    for n in ("a", "b"):
        r = openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", n + ".key",
                    "-out", n + ".crt", "-days", "365", "-subj", "/CN=127.0.0.1", cwd=d)
        check(r.returncode == 0, "openssl makes a certificate: %s" % r.stderr)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "soon.key", "-out",
            "soon.crt", "-days", "3", "-subj", "/CN=127.0.0.1", cwd=d)
    open(os.path.join(d, "ca.cnf"), "w").write(
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n"
        "default_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n")
    open(os.path.join(d, "index.txt"), "w").close()
    open(os.path.join(d, "serial"), "w").write("01\n")
    openssl("req", "-new", "-key", "a.key", "-subj", "/CN=127.0.0.1", "-out", "old.csr", cwd=d)
    r = openssl("ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", "a.key", "-in",
                "old.csr", "-out", "old.crt", "-startdate", "20200101000000Z", "-enddate",
                "20200102000000Z", cwd=d)
    check(r.returncode == 0, "openssl makes an expired certificate: %s" % r.stderr)
    open(os.path.join(d, "garbage.key"), "w").write(
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ1dC1ub3QtYS1rZXk=\n-----END PRIVATE KEY-----\n")
    port, hport = free_port(), free_port()

    def conf_with(cert, key, **extra):
        c = base_conf(work, port, hport, tls_cert_file=os.path.join(d, cert),
                      tls_key_file=os.path.join(d, key), **extra)
        path = os.path.join(d, "conf-%s-%s.json" % (cert, key))
        json.dump(c, open(path, "w"), indent=1)
        return c, path

    def check_config(cert, key):
        _, path = conf_with(cert, key)
        p = subprocess.run([pw, "check-config", path], capture_output=True, text=True,
                           timeout=60)
        return p.returncode, p.stdout + p.stderr

    rc, out = check_config("a.crt", "a.key")
    check(rc == 0 and "warning" not in out, "a good certificate and key: ok (%d) %s" % (rc, out))
    rc, out = check_config("a.crt", "garbage.key")
    check(rc == 1 and "http.tls_key_file" in out and "garbage.key" in out
          and "no usable PEM private key" in out and "c2VjcmV0" not in out,
          "a key that is not a key: an error at http.tls_key_file naming the file, not its "
          "content (%d) %s" % (rc, out))
    rc, out = check_config("a.crt", "b.key")
    check(rc == 1 and "http.tls_key_file" in out and "does not belong" in out,
          "another certificate's key: an error (%d) %s" % (rc, out))
    rc, out = check_config("a.key", "a.key")
    check(rc == 1 and "http.tls_cert_file" in out and "no usable PEM certificate" in out,
          "a key for a certificate: an error (%d) %s" % (rc, out))
    rc, out = check_config("old.crt", "a.key")
    check(rc == 1 and "expired on 2020-01-02" in out, "an expired certificate: an error (%d) %s"
          % (rc, out))
    rc, out = check_config("soon.crt", "soon.key")
    check(rc == 0 and "warning: the certificate" in out and "expires on" in out,
          "a certificate that expires in 3 days: ok with a warning (%d) %s" % (rc, out))

    # run with a bad key says so, not "cannot listen ... in use"
    c, _ = conf_with("a.crt", "garbage.key")
    dm, log = start(pw, work, c, "tls-bad")
    try:
        rc = dm.wait(timeout=60)
    except subprocess.TimeoutExpired:
        dm.kill()
        rc = "still running"
    text = open(log).read()
    check(rc not in (0, "still running") and "private key" in text and "in use" not in text,
          "run with a bad key fails and says why (%s): %s" % (rc, text[-500:]))

    for minv, served, refused in (("TLS1.2", ["-tls1_2", "-tls1_3"],
                                   ["-tls1", "-tls1_1"]),
                                  ("TLS1.3", ["-tls1_3"], ["-tls1_2", "-tls1_1"])):
        c, _ = conf_with("a.crt", "a.key", tls_min_version=minv)
        dm, log = start(pw, work, c, "tls-" + minv)
        try:
            ok = False
            for _ in range(300):
                if s_client(hport, "-tls1_3"):
                    ok = True
                    break
                time.sleep(0.2)
            check(ok, "%s: the server answers TLS" % minv)
            for v in served:
                check(s_client(port, v), "%s: %s is served" % (minv, v))
            for v in refused:
                # the client is willing (security level 0 allows the old
                # versions); the server must refuse
                check(not s_client(port, v, "-cipher", "DEFAULT@SECLEVEL=0"),
                      "%s: %s is refused" % (minv, v))
            if minv == "TLS1.2":
                check(not s_client(port, "-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"),
                      "a CBC cipher with RSA key exchange is refused")
                check(not s_client(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256"),
                      "a CBC cipher with ECDHE is refused")
                check(s_client(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"),
                      "ECDHE with AES-GCM is served")
        finally:
            stop_daemon(dm, log)


# ---- the hostile clients (a child process) -----------------------------------

def attack(port, nslow, nidle, period, extra, seconds):
    """nslow clients sending a header line every period seconds, nidle
    sockets that send nothing; each reopened when the server closes it.
    extra: huge queries, bad imports. Runs until killed or seconds pass."""
    import resource
    resource.setrlimit(resource.RLIMIT_NOFILE, (19000, 19000))
    sel = selectors.DefaultSelector()
    socks = {}   # sock -> [kind, next_send]
    stats = {"opened": 0, "closed": 0}

    def open_one(kind):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", port))
        except OSError:
            s.close()
            return
        socks[s] = [kind, time.monotonic() + random.uniform(0, period), 0]
        sel.register(s, selectors.EVENT_READ)
        stats["opened"] += 1

    for _ in range(nslow):
        open_one("slow")
    for _ in range(nidle):
        open_one("idle")
    end = time.monotonic() + seconds
    if extra:
        import threading
        threading.Thread(target=hostile_requests, args=(port, end), daemon=True).start()
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                kind = socks.pop(s)[0]
                sel.unregister(s)
                s.close()
                stats["closed"] += 1
                open_one(kind)
        now = time.monotonic()
        for s, st in list(socks.items()):
            if st[0] == "slow" and now >= st[1]:
                line = b"GET /metrics HTTP/1.1\r\n" if st[2] == 0 else \
                    b"X-Slow-%d: %s\r\n" % (st[2], b"x" * 10)
                try:
                    s.send(line)
                except OSError:
                    pass
                st[2] += 1
                st[1] = now + period
    print(json.dumps(stats), flush=True)


def hostile_requests(port, end):
    """huge and endless queries, bad imports, one after the other"""
    # 200 KB of matchers, a sum over 4,000 terms, 20,000 nested sums (which
    # overflowed the parser's stack before query/ bounded its depth)
    big = "sum(up{%s})" % ",".join('a%d=~"x.*y"' % i for i in range(12000))
    long_sum = " + ".join("rate(up[5m])" for _ in range(4000))
    deep = "sum(" * 20000 + "up" + ")" * 20000
    while time.monotonic() < end:
        try:
            what = random.choice(["query", "sum", "deep", "range", "import", "import"])
            if what in ("query", "sum", "deep"):
                q = {"query": big, "sum": long_sum, "deep": deep}[what]
                urllib.request.urlopen(urllib.request.Request(
                    "http://127.0.0.1:%d/api/v1/query" % port,
                    data=urllib.parse.urlencode({"query": q}).encode()), timeout=5)
            elif what == "range":
                urllib.request.urlopen(
                    "http://127.0.0.1:%d/api/v1/query_range?query=up&start=0&end=1e10"
                    "&step=0.001" % port, timeout=5)
            else:
                body = b"bad{line=\"x\" 1\n" + os.urandom(2000) + b"\n" + b"y 1\n" * 200
                urllib.request.urlopen(urllib.request.Request(
                    "http://127.0.0.1:%d/api/v1/import/prometheus" % port, data=body),
                    timeout=5)
        except Exception:  # refusals are the expected answers
            pass
        time.sleep(0.2)


def start_attack(port, nslow, nidle, period, extra, seconds, work):
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "attack", str(port),
                             str(nslow), str(nidle), str(period), "1" if extra else "0",
                             str(seconds)], stdout=open(os.path.join(work, "attack.out"), "w"),
                            stderr=subprocess.STDOUT)


def rss_mib(pid):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:  # it died: the checks below say so
        pass
    return 0.0


def scrape_under_load(pw, work, seconds, extra):
    port, hport = free_port(), free_port()
    # the main pool is where the hostile clients go: let them fill it (a
    # per-address limit above the pool, since they all come from
    # 127.0.0.1), so that the deadlines and the health listener do the work
    conf = base_conf(work, port, hport, connection_limit=256, per_ip_connection_limit=4000,
                     header_timeout="5s", request_timeout="20s", connection_timeout="10s")
    d, log = start(pw, work, conf, "load")
    att = None
    worst, n, late, errors, max_rss = 0.0, 0, [], [], 0.0
    try:
        check(wait_healthy("http://127.0.0.1:%d" % hport), "the daemon starts")
        att = start_attack(port, 300, 2000, 13, extra, seconds + 30, work)
        time.sleep(5)  # let the attack fill the pool
        # the main listener is indeed full or refusing
        try:
            st, dt = http_get("http://127.0.0.1:%d/-/healthy" % port, 2)
            print("main listener answered in %.2f s" % dt)
        except OSError as e:
            print("main listener refused: %s" % e)
        end = time.monotonic() + seconds
        next_reload = time.monotonic() + 10
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                st, dt = http_get("http://127.0.0.1:%d/metrics" % hport, 5)
                n += 1
                worst = max(worst, dt)
                if dt >= 1.0:
                    late.append(round(dt, 2))
            except OSError as e:
                errors.append(str(e))
            max_rss = max(max_rss, rss_mib(d.pid))
            if extra and time.monotonic() >= next_reload:
                d.send_signal(signal.SIGHUP)
                next_reload = time.monotonic() + 10
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
        print("%d scrapes, worst %.3f s, RSS at most %.0f MiB" % (n, worst, max_rss))
        check(n >= seconds * 0.8, "a scrape every second (%d in %d s)" % (n, seconds))
        check(not errors, "every scrape answered: %s" % errors[:5])
        check(not late, "every scrape within 1 s (late: %s)" % late[:10])
        check(max_rss < RSS_LIMIT_MIB, "RSS %.0f MiB under %d MiB" % (max_rss, RSS_LIMIT_MIB))
        check(d.poll() is None, "the daemon still runs")
    finally:
        if att:
            att.send_signal(signal.SIGTERM)
            try:
                att.wait(timeout=10)
            except subprocess.TimeoutExpired:
                att.kill()
                att.wait()
        stop_daemon(d, log)


def deadlines(pw, work):
    """a trickle does not extend the header deadline; the per-address limit"""
    port, hport = free_port(), free_port()
    conf = base_conf(work, port, hport, header_timeout="3s", connection_timeout="30s",
                     per_ip_connection_limit=8)
    d, log = start(pw, work, conf, "deadlines")
    try:
        check(wait_healthy("http://127.0.0.1:%d" % port), "the daemon starts")
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(0.5)
        t0 = time.monotonic()
        s.send(b"GET /metrics HTTP/1.1\r\n")
        closed_at = None
        i = 0
        while time.monotonic() - t0 < 20:
            try:
                s.send(b"X-Trickle-%d: 1\r\n" % i)
                i += 1
                if s.recv(100) == b"":
                    closed_at = time.monotonic() - t0
                    break
            except socket.timeout:
                continue
            except OSError:
                closed_at = time.monotonic() - t0
                break
        s.close()
        check(closed_at is not None and 2.5 <= closed_at <= 8,
              "a client trickling header lines is cut at http.header_timeout (3 s): %s"
              % closed_at)
        held, gone = [], 0
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", port))
            held.append(s)
        time.sleep(1.5)
        for s in held:
            s.settimeout(0.2)
            try:
                if s.recv(10) == b"":
                    gone += 1
            except socket.timeout:
                pass
            except OSError:
                gone += 1
            s.close()
        check(gone >= 12, "20 connections from one address with a limit of 8: %d closed" % gone)
    finally:
        stop_daemon(d, log)


def main():
    if sys.argv[1] == "attack":
        attack(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]),
               sys.argv[6] == "1", float(sys.argv[7]))
        return
    pw, work, what = sys.argv[1], sys.argv[2], sys.argv[3]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    if what == "tls":
        tls(pw, work)
    elif what == "connections":
        deadlines(pw, work)
        scrape_under_load(pw, work, 30, False)
    elif what == "soak":
        scrape_under_load(pw, work, int(sys.argv[4]), True)
    finish()


if __name__ == "__main__":
    main()
