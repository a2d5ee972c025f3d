"""The docs say what the program does.

1. Every configuration key named in docs/ and the README (`storage.max_size`,
   `targets[0].interval`; in docs/storage.md and docs/configuration.md also
   bare names such as `max_size`) is in the field tables (`pacewatch
   config-keys`).
2. conf/examples/minimal.json, the README's first configuration, collects
   from the platform simulator: up is 1 and its metric has samples.
3. Every endpoint of docs/http.md's table answers with its method as the
   table says (2xx; /-/ready 200 once every target was scraped; /-/reload 200
   `reloaded`, and 500 naming file:line:column of a broken configuration; the
   import 204, or 400 with `line L, column C`).
4. docs/operations.md's alerting rules pass `promtool check rules` and use
   only metrics pacewatch serves.

usage: docs_test.py PACEWATCH SIMULATOR WORKDIR SOURCE_DIR"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish, free_port, stop_daemon  # noqa: E402

PW, SIM, WORK, SRC = sys.argv[1:5]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)

# names in those docs that are not configuration keys: LMDB records' fields
# and functions (storage.md), series every scrape writes (configuration.md),
# a log field's value (operations.md)
NOT_KEYS = {"next_id", "next_seq", "next_sym", "segs_plain_from", "segs_blk_from", "wal_folded", "wal_gen",
            "wal_seq", "store_rec_write", "mdb_env_copy2", "store_batch_put", "store_batch_put_key",
            "store_key", "ents_order", "scrape_duration_seconds",
            "scrape_response_size_bytes", "scrape_samples_scraped", "store_failed"}


def doc_keys():
    rows = subprocess.run([PW, "config-keys"], capture_output=True, text=True, check=True).stdout
    keys = set(re.findall(r"^\| `([^`]+)`", rows, re.M))
    check(len(keys) > 100, "config-keys lists the field tables (%d keys)" % len(keys))
    tops = {re.split(r"[.\[]", k)[0] for k in keys}
    leaves = {re.split(r"\.|\[\]", k)[-1] for k in keys} | tops
    docs = sorted(glob.glob(os.path.join(SRC, "docs", "*.md"))) + [os.path.join(SRC, "README.md")]
    for f in docs:
        text = open(f, encoding="utf-8").read()
        name = os.path.relpath(f, SRC)
        for t in re.findall(r"`([^`\n]+)`", text):
            t = t.split("=")[0].split(":")[0].strip()
            if re.fullmatch(r"[a-z_]+(\[\d*\])?(\.[a-z_0-9]+(\[\d*\])?)+", t) \
                    and re.split(r"[.\[]", t)[0] in tops and not re.search(r"\.(c|h|md|json)$", t):
                n = re.sub(r"\[\d+\]", "[]", t)
                check(n in keys or any(k.startswith(n + ".") or k.startswith(n + "[") for k in keys),
                      "%s names `%s`, which is not a configuration key" % (name, t))
            elif name in ("docs/storage.md", "docs/configuration.md", "docs/operations.md") \
                    and re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", t) \
                    and not t.startswith("pacewatch_"):
                check(t in leaves or t in NOT_KEYS,
                      "%s names `%s`, which is not a configuration key" % (name, t))


def start_sim():
    portfile = os.path.join(WORK, "sim.port")
    p = subprocess.Popen([SIM, "--listen", "127.0.0.1:0", "--port-file", portfile],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        if os.path.exists(portfile) and open(portfile).read().strip():
            return p, int(open(portfile).read())
        time.sleep(0.05)
    raise SystemExit("simulator did not start")


def call(base, method, path, params=None, body=None):
    url = base + path
    data = body
    if params and method == "GET":
        url += "?" + urllib.parse.urlencode(params)
    elif params:
        data = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        return None, repr(e)


PARAMS = {"/api/v1/query": {"query": "up"},
          "/api/v1/query_range": {"query": "up", "start": "-300", "end": "0", "step": "15"},
          "/api/v1/series": {"match[]": "up"},
          "/api/v1/query_exemplars": {"query": "up"}}


def endpoints():
    """(paths, methods, answer) of docs/http.md's table"""
    text = open(os.path.join(SRC, "docs", "http.md"), encoding="utf-8").read()
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`/"):
            paths = re.findall(r"`(/[^`]*)`", cells[0])
            methods = [m.strip() for m in cells[1].split(",")]
            rows.append((paths, methods, cells[3]))
    check(len(rows) >= 10, "docs/http.md's endpoint table parsed (%d rows)" % len(rows))
    return rows


def serve_docs(sim_port):
    text = open(os.path.join(SRC, "conf", "examples", "minimal.json"), encoding="utf-8").read()
    text = text.replace("127.0.0.1:18080", "127.0.0.1:%d" % sim_port).replace('"30s"', '"1s"')
    conf = os.path.join(WORK, "minimal.json")
    open(conf, "w", encoding="utf-8").write(text)
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    log = os.path.join(WORK, "daemon.log")
    d = subprocess.Popen([PW, "run", "-c", conf, "--storage", os.path.join(WORK, "data"),
                          "--listen", "127.0.0.1:%d" % port], cwd=WORK,
                         stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        ready = None
        for _ in range(600):
            ready, _ = call(base, "GET", "/-/ready")
            if ready == 200:
                break
            time.sleep(0.1)
        check(ready == 200, "/-/ready answers 200 once the target was scraped (got %s)" % ready)
        # 2. the minimal example collects
        st, body = call(base, "GET", "/api/v1/query", {"query": 'up{job="mutual_recognition"}'})
        check(st == 200 and '"1"]' in body, "minimal.json: the target is up (%s %s)" % (st, body[:300]))
        st, body = call(base, "GET", "/api/v1/query", {"query": "count(mr_items_recognised)"})
        check(st == 200 and re.search(r'"value":\[[0-9.]+,"[1-9]', body) is not None,
              "minimal.json: mr_items_recognised has samples (%s %s)" % (st, body[:300]))
        # 3. every endpoint of the table
        for paths, methods, answer in endpoints():
            for path in paths:
                path = path.replace("<name>", "job")
                for m in methods:
                    if path == "/-/reload":
                        st, body = call(base, m, path)
                        check(st == 200 and body.strip() == "reloaded",
                              "POST /-/reload: 200 reloaded (got %s %r)" % (st, body))
                        continue
                    if path == "/api/v1/import/prometheus":
                        st, body = call(base, m, path, body=b'doc_test{a="1"} 1\n')
                        check(st == 204, "POST import: 204 (got %s %r)" % (st, body))
                        st, body = call(base, m, path, body=b'doc_test{a="1" 1\n')
                        check(st == 400 and re.search(r"line 1, column \d+", body),
                              "POST import of a bad line: 400 with line and column (got %s %r)"
                              % (st, body))
                        continue
                    if path == "/api/v1/ledgers/NAME":
                        # minimal.json configures no ledger: 404 naming it
                        st, body = call(base, m, "/api/v1/ledgers/outreach", body=b"a,b\n")
                        check(st == 404 and "outreach" in body,
                              "POST a ledger not configured: 404 naming it (got %s %r)" % (st, body))
                        continue
                    if "<kpi>" in path:
                        # minimal.json has no KPI: 404 with a page naming it
                        p = path.replace("<kpi>", "no_such_kpi").replace("<unit_id>", "0123456789abcdef")
                        st, body = call(base, m, p)
                        check(st == 404 and "no_such_kpi" in body,
                              "GET %s of no KPI: 404 naming it (got %s %r)" % (p, st, body[:200]))
                        continue
                    st, body = call(base, m, path, PARAMS.get(path))
                    check(st is not None and 200 <= st < 300,
                          "%s %s answers 2xx as docs/http.md says (%s) — got %s %r"
                          % (m, path, answer[:60], st, body[:200]))
        # the refused reload answers its reason, with file:line:column
        good = open(conf, encoding="utf-8").read()
        open(conf, "w", encoding="utf-8").write(good.replace('"interval": "1s"', '"interval": 1'))
        st, body = call(base, "POST", "/-/reload")
        check(st == 500 and re.search(r"minimal\.json:\d+:\d+: targets\[0\]\.interval", body),
              "a refused /-/reload answers 500 with file:line:column (got %s %r)" % (st, body))
        open(conf, "w", encoding="utf-8").write(good)
    finally:
        stop_daemon(d, log)


def operations_rules():
    """the alerting rules of docs/operations.md: Prometheus' promtool accepts
    them, and every pacewatch_* metric they use is one pacewatch serves"""
    text = open(os.path.join(SRC, "docs", "operations.md"), encoding="utf-8").read()
    m = re.search(r"```yaml\n(.*?)```", text, re.S)
    check(m is not None, "docs/operations.md has alerting rules")
    if not m:
        return
    path = os.path.join(WORK, "operations-rules.yml")
    open(path, "w", encoding="utf-8").write(m.group(1))
    r = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
    check(r.returncode == 0, "promtool check rules on docs/operations.md: %s%s" % (r.stdout, r.stderr))
    srcs = ""
    for d in ("exporters", "notify", "remote_write", "collector", "store"):
        for f in glob.glob(os.path.join(SRC, d, "*.c")):
            srcs += open(f, encoding="utf-8", errors="replace").read()
    for name in set(re.findall(r"pacewatch_[a-z_]+", m.group(1))):
        check('"%s' % name in srcs, "docs/operations.md's rules use %s, which pacewatch does not serve" % name)


doc_keys()
operations_rules()
sim, sim_port = start_sim()
try:
    serve_docs(sim_port)
finally:
    sim.terminate()
    sim.wait(timeout=10)
finish()
