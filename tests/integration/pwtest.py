"""What the integration tests share: failure bookkeeping, free ports, and
stopping a daemon with the checks every stop gets (exit 0 on SIGTERM, no
sanitizer report in its stderr)."""
import json
import os
import re
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
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehavior",
                "ThreadSanitizer"):
        check(bad not in text, "no sanitizer report in the daemon's stderr (%s)" % bad)
    return text


def finish():
    if failures:
        print("0 passed, 1 failed")
        sys.exit(1)
    print("1 passed, 0 failed")


def programme_config(src, sim_port):
    """conf/examples/programme-2025.json pointed at a simulator on sim_port,
    every target polled each second (timeout 900 ms), as a dict"""
    text = open(os.path.join(src, "conf/examples/programme-2025.json"), encoding="utf-8").read()
    text = text.replace("127.0.0.1:18080", "127.0.0.1:%d" % sim_port)
    text = re.sub(r'"(scrape_interval|interval)": "[^"]*"', r'"\1": "1s"', text)
    text = text.replace('"scrape_timeout": "10s"', '"scrape_timeout": "900ms"')
    return json.loads("\n".join(l for l in text.splitlines() if not l.strip().startswith("//")))
