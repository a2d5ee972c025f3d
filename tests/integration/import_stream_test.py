"""`pacewatch import` streams: its memory does not grow with the file (a
file ten times larger takes at most 24 MiB more at its peak resident set;
in a build without sanitizers the process's own memory, RssAnon, stays under
64 MiB), every sample
arrives, a malformed line near the end of a large file imports nothing and
is named file:line:column; on a terminal it shows progress (bytes and
samples per second), elsewhere only its summary.

usage: import_stream_test.py PACEWATCH WORKDIR [sanitized]"""
import os
import pty
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pwtest import check, finish  # noqa: E402

PW, WORK = sys.argv[1], sys.argv[2]
SANITIZED = len(sys.argv) > 3 and sys.argv[3] == "sanitized"
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
ENV = dict(os.environ)
if SANITIZED:
    # AddressSanitizer keeps freed memory in quarantine (256 MiB by
    # default), which would grow with the work done, not with what is held
    ENV["ASAN_OPTIONS"] = (ENV.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=8").lstrip(":")

SERIES = 5000
LAST_ANON = 0


def write(path, lines, bad_at=None):
    """lines samples over SERIES series; line bad_at (1-based) malformed"""
    with open(path, "w") as f:
        f.write("# HELP imp A streamed import.\n# TYPE imp gauge\n")
        n = 2
        for i in range(lines):
            s, t = i % SERIES, 1700000000000 + (i // SERIES) * 15000
            n += 1
            close = "" if n == bad_at else "}"
            f.write('imp{s="%d",pad="padpadpadpadpadpadpadpadpadpad"%s %d %d\n' % (s, close, i, t))


def sample_anon(pid, box):
    """the largest RssAnon (KiB) of pid, sampled every 20 ms until it ends:
    the process's own memory, without the store's file pages that LMDB maps
    (those are the page cache's, and grow with the store, not the import)"""
    while True:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        box[0] = max(box[0], int(line.split()[1]))
        except OSError:
            return
        if box[1]:
            return
        time.sleep(0.02)


def run(args, tty=False):
    """exit status, stderr, peak RSS in KiB (and the peak RssAnon in LAST_ANON)"""
    global LAST_ANON
    box = [0, False]
    if tty:
        master, slave = pty.openpty()
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=slave, env=ENV)
        th = threading.Thread(target=sample_anon, args=(p.pid, box))
        th.start()
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
    else:
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
        th = threading.Thread(target=sample_anon, args=(p.pid, box))
        th.start()
        out = p.stderr.read()
    box[1] = True
    th.join()
    LAST_ANON = box[0]
    _, status, ru = os.wait4(p.pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace"), ru.ru_maxrss


def samples(store):
    out = subprocess.run([PW, "stats", "--storage", store], capture_output=True, text=True).stdout
    m = re.search(r"^samples\s+(\d+)", out, re.M)
    return int(m.group(1)) if m else -1


small, large = os.path.join(WORK, "small.prom"), os.path.join(WORK, "large.prom")
NSMALL, NLARGE = 60000, 600000  # about 4 and 40 MiB
write(small, NSMALL)
write(large, NLARGE)
rc, err, rss_small = run([PW, "import", "--storage", os.path.join(WORK, "st-small"), small])
check(rc == 0, "small import: %s" % err)
check("\r" not in err and re.fullmatch(r"pacewatch: \S+: imported %d samples in [0-9.]+ s\n" % NSMALL, err),
      "not a terminal: only the summary (%r)" % err[-300:])
rc, err, rss_large = run([PW, "import", "--storage", os.path.join(WORK, "st-large"), large], tty=True)
anon_large = LAST_ANON
check(rc == 0, "large import: %s" % err[-500:])
check(samples(os.path.join(WORK, "st-large")) == NLARGE, "every sample of the large file arrived")
check("\r" in err and re.search(r"importing [0-9.]+ of [0-9.]+ MiB \(\d+%\), [0-9.]+ MiB/s, \d+ samples, \d+ samples/s", err),
      "on a terminal: progress with bytes and samples per second (%r)" % err[:300])
print("peak RSS: %.1f MiB for a %.0f MiB file, %.1f MiB for %.0f MiB (of which the process's "
      "own, RssAnon: %.1f MiB)%s" %
      (rss_small / 1024, os.path.getsize(small) / 1048576, rss_large / 1024,
       os.path.getsize(large) / 1048576, anon_large / 1024, " (sanitized build)" if SANITIZED else ""))
check(rss_large - rss_small < 24 * 1024,
      "memory does not grow with the file: %.1f MiB then %.1f MiB" % (rss_small / 1024, rss_large / 1024))
if not SANITIZED:
    check(0 < anon_large < 64 * 1024, "the process's own memory under 64 MiB (%.1f MiB)" % (anon_large / 1024))
# a malformed line near the end: nothing written, the line named
bad = os.path.join(WORK, "bad.prom")
write(bad, NLARGE, bad_at=NLARGE - 10)
store = os.path.join(WORK, "st-bad")
rc, err, _ = run([PW, "import", "--storage", store, bad])
check(rc == 1 and re.search(r"bad\.prom:%d:\d+: .*nothing of this file was imported" % (NLARGE - 10), err),
      "the malformed line is named, nothing imported: %r" % err[-300:])
check(samples(store) <= 0, "nothing of the malformed file is in the store (%d)" % samples(store))
for f in (small, large, bad):
    os.unlink(f)
finish()
