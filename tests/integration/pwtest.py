"""What the integration tests share: failure bookkeeping, free ports, and
stopping a daemon with the checks every stop gets (exit 0 on SIGTERM, no
sanitizer report in its stderr)."""
import signal
import socket
import subprocess
import sys

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop_daemon(p, log):
    """SIGTERM, wait, check the exit status and stderr; returns the log."""
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    check(rc == 0, "daemon exits 0 on SIGTERM (got %s)" % rc)
    text = open(log, encoding="utf-8", errors="replace").read()
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehavior"):
        check(bad not in text, "no sanitizer report in the daemon's stderr (%s)" % bad)
    return text


def finish():
    if failures:
        print("0 passed, 1 failed")
        sys.exit(1)
    print("1 passed, 0 failed")
