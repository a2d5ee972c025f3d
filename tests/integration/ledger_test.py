#!/usr/bin/env python3
"""Ledgers end to end (docs/ledgers.md): a running pacewatch on 127.0.0.1 polls
an .xlsx and a GB18030 CSV ledger by path, takes uploads on
POST /api/v1/ledgers/NAME, and `pacewatch import-ledger` reads into a store and
sends to the daemon. The files were written by openpyxl, iconv and LibreOffice
(tests/fixtures/ledgers/make.py).
usage: ledger_test.py PACEWATCH WORKDIR SOURCE_DIR"""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish, free_port, stop_daemon  # noqa: E402

PW, WORK, SRC = sys.argv[1:4]
FIX = os.path.join(SRC, "tests/fixtures/ledgers")
TOKEN = "ledger-test-token"
COLS = {"timestamp_column": "月份", "labels": {"county": "县区", "county_code": "县区编码"},
        "values": {"outreach_lectures": "宣讲场次", "outreach_participants": "参与人数"}}
# 00:00 in China of 2025-05-01, 2025-06-01, 2025-06-30: 00:00 UTC less 8 hours
MAY1, JUN1, JUN30 = 1746057600 - 28800, 1748736000 - 28800, 1751241600 - 28800


def post(base, path, body, ctype="application/octet-stream", token=TOKEN):
    req = urllib.request.Request(base + path, data=body, method="POST")
    req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode("utf-8", "replace")


def get(base, path, params=None):
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


def query(base, expr, t):
    j = get(base, "/api/v1/query", {"query": expr, "time": str(t)})
    return sorted((tuple(sorted(r["metric"].items())), r["value"][1]) for r in j["data"]["result"])


def fixture(name):
    return open(os.path.join(FIX, name), "rb").read()


def run_cmd(*args):
    p = subprocess.run([PW, "import-ledger"] + list(args), capture_output=True, text=True,
                       timeout=300)
    check("Sanitizer" not in p.stderr and "runtime error" not in p.stderr,
          "no sanitizer report from import-ledger: %s" % p.stderr)
    return p.returncode, p.stderr


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    ledgers = os.path.join(WORK, "ledgers")
    os.makedirs(ledgers)
    # a name as staff give it: Chinese, with a space
    xlsx_path = os.path.join(ledgers, "2025年6月 健康宣讲台账.xlsx")
    shutil.copy(os.path.join(FIX, "outreach_fixed.xlsx"), xlsx_path)
    shutil.copy(os.path.join(FIX, "outreach_gb18030.csv"), ledgers)
    tok = os.path.join(WORK, "write.token")
    open(tok, "w").write(TOKEN + "\n")
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    conf = {
        "storage": {"path": os.path.join(WORK, "data")},
        "http": {"listen": ["127.0.0.1:%d" % port], "max_request_size": "256KiB",
                 "write_auth": {"bearer_token_file": tok}},
        "targets": [
            {"name": "outreach_xlsx", "path": "ledgers/2025年6月 健康宣讲台账.xlsx", "format": "xlsx",
             "interval": "1s", "labels": {"city": "菏泽市"}, "ledger": COLS},
            {"name": "outreach_csv", "path": "ledgers/outreach_gb18030.csv", "format": "csv",
             "interval": "1s", "csv": COLS},
        ],
        "ledgers": [{"name": "outreach", "format": "xlsx", "labels": {"city": "菏泽市"},
                     "ledger": COLS}],
    }
    cfg = os.path.join(WORK, "pacewatch.json")
    json.dump(conf, open(cfg, "w", encoding="utf-8"), ensure_ascii=False)
    log = os.path.join(WORK, "pacewatch.log")
    # the configuration named relative to the working directory: paths in it are
    # relative to its folder, made absolute
    p = subprocess.Popen([PW, "run", "-c", "pacewatch.json"], cwd=WORK, stdout=subprocess.DEVNULL,
                         stderr=open(log, "wb"))
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/-/ready", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        test_targets(base, xlsx_path)
        test_unchanged_file(base, xlsx_path)
        test_uploads(base)
        test_command_url(base, cfg, tok)
    finally:
        stop_daemon(p, log)
    test_command_store(cfg)
    test_generated_ledgers()
    finish()


def test_targets(base, xlsx_path):
    """a path target of each format: the good workbook is up, the CSV with a bad row down"""
    want_err = 'row 6, column D "宣讲场次": expected a number, found "三场"'
    deadline = time.time() + 120
    while True:
        t = {x["labels"]["job"]: x for x in get(base, "/api/v1/targets")["data"]["activeTargets"]}
        if (t.get("outreach_xlsx", {}).get("health") == "up" and
                t.get("outreach_csv", {}).get("health") == "down") or time.time() > deadline:
            break
        time.sleep(0.5)
    check(t["outreach_xlsx"]["health"] == "up", "the xlsx target is up: %s" % t["outreach_xlsx"])
    # the collector escapes quotes in lastError as in its log line
    err = t["outreach_csv"].get("lastError", "").replace('\\"', '"')
    check(t["outreach_csv"]["health"] == "down" and want_err in err and
          err.startswith("1 row rejected, nothing stored"),
          "the CSV target names its rejection: %s" % err)
    got = query(base, 'outreach_lectures{job="outreach_xlsx"}', JUN30 + 1)
    check([(dict(k)["county"], v) for k, v in got] == [("曹县", "3")],
          "曹县's 3 lectures on 2025-06-30: %s" % got)
    labels = dict(got[0][0]) if got else {}
    check(labels.get("city") == "菏泽市" and labels.get("instance") == xlsx_path,
          "target labels, and the file as instance: %s" % labels)
    got = query(base, 'outreach_lectures{job="outreach_xlsx"}', JUN1 + 1)
    check([(dict(k)["county"], v) for k, v in got] == [("牡丹区", "7")],
          "牡丹区 (a merged cell) 7 lectures in June: %s" % got)
    check(query(base, 'outreach_lectures{job="outreach_csv"}', JUN30 + 1) == [],
          "nothing of the rejected CSV is stored")


def target(base, job):
    return {x["labels"]["job"]: x for x in get(base, "/api/v1/targets")["data"]["activeTargets"]}[job]


def wait_scrapes(base, job, n):
    """until n more scrapes of job were made (lastScrape moved n times)"""
    seen, last, deadline = 0, target(base, job)["lastScrape"], time.time() + 120
    while seen < n and time.time() < deadline:
        time.sleep(0.3)
        t = target(base, job)
        if t["lastScrape"] != last:
            seen, last = seen + 1, t["lastScrape"]
    check(seen >= n, "%s was scraped %d more times" % (job, n))
    return target(base, job)


def test_unchanged_file(base, path):
    """a path is read again only when its size, modification time or inode changed: bytes
    changed behind an unchanged mtime are not read (a corrupt archive would fail), a
    touched file is"""
    data = open(path, "rb").read()
    st = os.stat(path)
    bad = bytearray(data)
    # the worksheet's deflated bytes zeroed: the inflate or CRC check fails when it is read
    info = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml")
    at = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    n = min(64, info.compress_size)
    bad[at:at + n] = b"\0" * n
    with open(path, "r+b") as f:  # same inode, same size
        f.write(bytes(bad))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    t = wait_scrapes(base, "outreach_xlsx", 3)
    check(t["health"] == "up" and t["lastError"] == "",
          "an unchanged file is not read again: %s" % t)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000000000))
    t = wait_scrapes(base, "outreach_xlsx", 2)
    check(t["health"] == "down" and t["lastError"],
          "a touched file is read again (and its damage found): %s" % t)
    with open(path, "wb") as f:
        f.write(data)
    t = wait_scrapes(base, "outreach_xlsx", 2)
    check(t["health"] == "up", "the repaired file is read: %s" % t)


def test_uploads(base):
    xlsx = fixture("outreach.xlsx")
    st, j = post(base, "/api/v1/ledgers/outreach", xlsx, token=None)
    check(st == 401, "an upload without credentials: 401 (%s)" % st)
    st, j = post(base, "/api/v1/ledgers/outreach", xlsx)
    d = j.get("data", {}) if isinstance(j, dict) else {}
    check(st == 422 and j.get("errorType") == "bad_data" and d.get("stored") is False,
          "a ledger with a bad row stores nothing: %s %s" % (st, j))
    check(d.get("rejected") == [{"row": 6, "column": "D", "header": "宣讲场次", "value": "三场",
                                 "error": "expected a number, found \"三场\""}],
          "the rejection with row and column: %s" % d.get("rejected"))
    check((d.get("format"), d.get("sheet"), d.get("headerRow"), d.get("rows"), d.get("accepted"),
           d.get("skipped"), d.get("samples")) == ("xlsx", "六月", 3, 3, 2, 2, 4),
          "the counts: %s" % d)
    check(j.get("error") == "1 row rejected; nothing was stored (keep_good=1 stores the 2 good rows)",
          "the error: %s" % j.get("error"))
    check(query(base, 'outreach_lectures{job="outreach"}', JUN1 + 1) == [],
          "nothing of the rejected upload is stored")

    st, j = post(base, "/api/v1/ledgers/outreach?keep_good=1", xlsx)
    d = j.get("data", {})
    check(st == 200 and j.get("status") == "success" and d.get("stored") is True and
          d.get("samples") == 4 and d.get("rejectedTotal") == 1,
          "keep_good=1 stores the good rows and lists the bad: %s %s" % (st, j))
    got = query(base, 'outreach_lectures{job="outreach"}', JUN1 + 1)
    check([(dict(k)["county"], dict(k)["city"], v) for k, v in got] == [("牡丹区", "菏泽市", "7")],
          "the upload's June sample: %s" % got)
    got = query(base, 'outreach_participants{job="outreach"}', MAY1 + 1)
    check([v for _, v in got] == ["1230"], "the upload's May participants: %s" % got)

    # the same ledger as GB18030 CSV (the bytes decide, whatever the format says)
    st, j = post(base, "/api/v1/ledgers/outreach", fixture("outreach_gb18030.csv"), "text/csv")
    check(st == 422 and j["data"]["format"] == "GB18030" and j["data"]["rejected"][0]["row"] == 6,
          "GB18030 CSV upload: %s %s" % (st, j))
    # Excel's "Unicode text": UTF-16, tab-separated (no delimiter configured)
    utf16 = fixture("outreach_utf8bom.csv").decode("utf-8-sig").replace('"1,230"', "1230")
    utf16 = utf16.replace('"1,315"', "1315").replace(",", "\t").encode("utf-16")
    st, j = post(base, "/api/v1/ledgers/outreach", utf16, "text/plain")
    check(st == 422 and j["data"]["format"] == "UTF-16" and j["data"]["rejected"][0]["row"] == 6
          and j["data"]["accepted"] == 2, "UTF-16 tab-separated upload: %s %s" % (st, j))
    st, j = post(base, "/api/v1/ledgers/outreach", fixture("outreach_fixed.xlsx"))
    check(st == 200 and j["data"]["samples"] == 6 and j["data"]["rejected"] == [],
          "a ledger without errors: %s %s" % (st, j))

    # a label cell over global.label_value_length_limit (2048 bytes) rejects its row, as
    # a scrape's label would be refused; the answer echoes at most 200 bytes of the cell
    long_county = "区" * 1000  # 3000 bytes
    csv = fixture("outreach_utf8bom.csv").decode("utf-8-sig").replace("三场", "3")
    csv = csv.replace("2025年6月,牡丹区", "2025年6月," + long_county).encode()
    st, j = post(base, "/api/v1/ledgers/outreach", csv, "text/csv")
    rej = j.get("data", {}).get("rejected", []) if isinstance(j, dict) else []
    check(st == 422 and [(r["row"], r["column"]) for r in rej] == [(5, "B")] and
          "3000 bytes long, over the limit of 2048 (global.label_value_length_limit)"
          in rej[0]["error"], "a 3000-byte county is rejected at row 5, column B: %s %.400s"
          % (st, j))
    check(rej and len(rej[0]["value"].encode()) <= 203 and rej[0]["value"].endswith("…"),
          "the rejection echoes at most 200 bytes of the cell: %d bytes"
          % (len(rej[0]["value"].encode()) if rej else -1))

    st, j = post(base, "/api/v1/ledgers/nope", xlsx)
    check(st == 404 and j.get("errorType") == "not_found" and "nope" in j.get("error", ""),
          "an unknown ledger: %s %s" % (st, j))
    st, j = post(base, "/api/v1/ledgers/outreach", b"--x\r\n\r\n--x--\r\n",
                 "multipart/form-data; boundary=x")
    check(st == 400 and "--data-binary" in j.get("error", ""), "a form upload: %s %s" % (st, j))
    st, j = post(base, "/api/v1/ledgers/outreach", b"hello,world\n")
    check(st == 400 and j.get("errorType") == "bad_data" and "data" not in j and
          "no row names any configured column" in j.get("error", ""),
          "a file that is no such ledger: %s %s" % (st, j))
    st, j = post(base, "/api/v1/ledgers/outreach", b"PK\x03\x04" + b"\0" * 300 * 1024)
    check(st == 413, "a body over http.max_request_size: %s" % st)


def test_command_url(base, cfg, tok):
    rc, err = run_cmd("-c", cfg, "--url", base, "--bearer-token-file", tok, "outreach",
                      os.path.join(FIX, "outreach.xlsx"))
    check(rc == 1 and 'row 6, column D "宣讲场次": expected a number, found "三场"' in err and
          "nothing was stored (--keep-good stores the accepted rows)" in err,
          "import-ledger --url with a bad row: %d %s" % (rc, err))
    rc, err = run_cmd("-c", cfg, "--url", base, "--bearer-token-file", tok, "--keep-good",
                      "outreach", os.path.join(FIX, "outreach_lo.xlsx"))
    check(rc == 0 and "2 rows accepted, 1 rejected, 2 skipped (header row 3); 4 samples stored"
          in err, "import-ledger --url --keep-good: %d %s" % (rc, err))


def test_command_store(cfg):
    store = os.path.join(WORK, "cmd-store")
    path = os.path.join(FIX, "outreach_utf8bom.csv")
    rc, err = run_cmd("-c", cfg, "--storage", store, "outreach", path)
    want = path + ': row 6, column D "宣讲场次": expected a number, found "三场"\n'
    check(rc == 1 and err.startswith(want) and
          err.endswith(path + ": 2 rows accepted, 1 rejected, 2 skipped (header row 3); nothing "
                       "was stored (--keep-good stores the accepted rows)\n"),
          "import-ledger with a bad row: %d %s" % (rc, err))
    rc, err = run_cmd("-c", cfg, "--storage", store, "--keep-good", "outreach", path)
    check(rc == 0 and "4 samples stored" in err, "import-ledger --keep-good: %d %s" % (rc, err))
    d = subprocess.run([PW, "dump", "--storage", store], capture_output=True, text=True,
                       timeout=120).stdout
    lines = sorted(l for l in d.splitlines() if l.startswith("outreach_lectures{"))
    check(lines == [
        'outreach_lectures{city="菏泽市",county="牡丹区",county_code="371702",job="outreach"} 6 %d'
        % (MAY1 * 1000),
        'outreach_lectures{city="菏泽市",county="牡丹区",county_code="371702",job="outreach"} 7 %d'
        % (JUN1 * 1000)], "what import-ledger stored: %s" % lines)
    rc, err = run_cmd("-c", cfg, "--storage", store, "nope", path)
    check(rc == 2 and 'configures no ledger "nope" (it has "outreach")' in err,
          "an unknown ledger: %d %s" % (rc, err))
    rc, err = run_cmd("-c", cfg, "outreach")
    check(rc == 2 and "usage" in err, "usage: %d %s" % (rc, err))


def test_generated_ledgers():
    """scripts/ledgers/generate.py's ledgers (openpyxl, as county staff keep them: titles,
    merged townships and months, footers): each workbook and the CSV Excel saves of it
    (GB18030, UTF-8 with BOM) store the same samples"""
    gen = os.path.join(WORK, "generated")
    p = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "scripts/ledgers/generate.py"),
                        "--out", gen, "--until", "2025-12-31"], capture_output=True, text=True,
                       timeout=600)
    check(p.returncode == 0, "generate.py: %s" % p.stderr)
    town = {"township": "乡镇（街道）"}
    conf = {"ledgers": [
        {"name": "village_clinics", "ledger": {"timestamp_column": "月份", "labels": town, "values": {
            "village_clinics_planned": "计划改造数（个）", "village_clinics_done": "累计完成（个）"}}},
        {"name": "outreach", "ledger": {"timestamp_column": "月份", "labels": town, "values": {
            "outreach_lectures": "健康知识讲座（场）", "outreach_audience": "受众（人次）"}}},
        {"name": "scoliosis", "ledger": {"timestamp_column": "月份", "labels": town, "values": {
            "scoliosis_screened": "累计初筛（人）", "scoliosis_coverage": "初筛覆盖率"}}}]}
    cfg = os.path.join(WORK, "generated.json")
    json.dump(conf, open(cfg, "w", encoding="utf-8"), ensure_ascii=False)
    def by_month(lines):
        """series and month (China time) -> value: a workbook's month cell is a date of the
        month (its serial), the CSV Excel saves shows it as 2025年1月, the month's first day"""
        out = {}
        for l in lines:
            series, value, ts = l.rsplit(" ", 2)
            month = time.strftime("%Y-%m", time.gmtime(int(ts) / 1000 + 8 * 3600))
            out[(series, month)] = value
        return out

    for name in ("village_clinics", "outreach", "scoliosis"):
        dumps = []
        for f in ("xlsx", "gb18030.csv", "utf8-bom.csv"):
            store = os.path.join(WORK, "gen-%s-%s" % (name, f))
            rc, err = run_cmd("-c", cfg, "--storage", store, name,
                              os.path.join(gen, "%s.%s" % (name, f)))
            check(rc == 0 and " 0 rejected" in err, "%s.%s stored: %s" % (name, f, err))
            d = subprocess.run([PW, "dump", "--storage", store], capture_output=True, text=True,
                               timeout=120).stdout
            dumps.append(sorted(l for l in d.splitlines() if not l.startswith("#")))
        check(len(dumps[1]) > 200 and dumps[1] == dumps[2],
              "%s: the GB18030 and the UTF-8 CSV give the same %d samples" % (name, len(dumps[1])))
        # counts are exact in both; rates only as the CSV's format rounds them (6.19%)
        counts = [{k: v for k, v in by_month(d).items() if "coverage" not in k[0]} for d in dumps]
        check(len(counts[0]) > 200 and counts[0] == counts[1],
              "%s: the workbook and its CSV give the same %d counts by month" % (name, len(counts[0])))


if __name__ == "__main__":
    main()
