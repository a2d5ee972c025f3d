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


def print_stacks(pid):
    """Every thread's stack of a process that does not stop, by gdb when the
    machine has it: what it waits on is the first thing to know."""
    try:
        out = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx",
                              "-ex", "thread apply all bt 25"],
                             capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        out = "(no stacks: %s)" % e
    print("the daemon's threads when it did not stop:\n" + out, flush=True)


def stop_daemon(p, log):
    """SIGTERM, wait, check the exit status and stderr; returns the log."""
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        print_stacks(p.pid)
        p.kill()
        p.wait()
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


def programme_config(src, sim_port, ledgers=False, heavy=False):
    """conf/examples/programme-2025.json pointed at a simulator on sim_port,
    every target polled each second (timeout 900 ms), as a dict; its units table
    named by absolute path. Without ledgers, the ledger targets (which need the
    simulator's --ledger-dir) and the KPIs that read them are left out;
    without heavy, the per-institution targets: tests/integration/
    programme_e2e_test.py runs them all."""
    text = open(os.path.join(src, "conf/examples/programme-2025.json"), encoding="utf-8").read()
    text = text.replace("127.0.0.1:18080", "127.0.0.1:%d" % sim_port)
    text = re.sub(r'"(scrape_interval|interval)": "[^"]*"', r'"\1": "1s"', text)
    text = text.replace('"scrape_timeout": "10s"', '"scrape_timeout": "900ms"')
    conf = json.loads("\n".join(l for l in text.splitlines() if not l.strip().startswith("//")))
    # the per-institution targets (about 1,770 centres each, two pages) polled every second
    # stall a sanitizer build on a loaded box; tests/integration/programme_test.py covers them
    if not heavy:
        drop = {"institution_registry_centres", "evacc_centres"}
        conf["targets"] = [t for t in conf["targets"] if t["name"] not in drop]
        # mr_institutions: 1,468 units judged against their peers every second, more
        # than a KPI page lists (300)
        conf["kpis"] = [k for k in conf["kpis"]
                        if k["name"] not in ("evacc_centres_online", "mr_institutions")]
    if "units" in conf:
        conf["units"]["file"] = os.path.join(src, "conf/examples", conf["units"]["file"])
    if not ledgers:
        sys.path.insert(0, os.path.join(src, "scripts"))
        import democonf
        drop = democonf.ledger_kpis(conf) - {"outreach_lectures", "outreach_events"}
        conf["kpis"] = [k for k in conf["kpis"] if k["name"] not in drop]
        conf["targets"] = [t for t in conf["targets"] if "ledger" not in t]
    return conf


class Chromium:
    """Headless Chromium (Debian's chromium) driven over the DevTools protocol on a pipe
    (--remote-debugging-pipe: commands on fd 3, answers on fd 4, NUL-separated JSON):
    open a page in a viewport of a given size, evaluate JavaScript, take screenshots,
    collect console errors and failed loads. Started and stopped by the test, by PID."""

    def __init__(self, work):
        import base64  # noqa: F401  (used by screenshot)
        self.to_r, self.to_w = os.pipe()
        self.from_r, self.from_w = os.pipe()
        to_r, from_w = self.to_r, self.from_w
        args = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--no-first-run", "--remote-debugging-pipe",
                "--user-data-dir=" + os.path.join(work, "chromium-profile")]
        # the pipe's ends become the browser's fds 3 and 4
        self.p = subprocess.Popen(
            ["/bin/bash", "-c", 'exec "$@" 3<&%d 4>&%d' % (to_r, from_w), "sh"] + args,
            pass_fds=(to_r, from_w), stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(work, "chromium.log"), "ab"))
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def _send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _read(self, timeout=60):
        import select
        while b"\0" not in self.buf:
            r, _, _ = select.select([self.from_r], [], [], timeout)
            if not r:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self.from_r, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed its pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True):
        i = self._send(method, params, session)
        while True:
            m = self._read()
            if m.get("id") == i:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, timeout=60):
        import time
        end = time.time() + timeout
        while time.time() < end:
            for k, m in enumerate(self.events):
                if m.get("method") == method:
                    del self.events[k]
                    return m
            self.events.append(self._read(timeout=max(0.1, end - time.time())))
        raise TimeoutError(method)

    def open(self, url, width, height=900, mobile=False):
        """a new page of width x height CSS pixels showing url, loaded"""
        t = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        a = self.call("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True},
                      session=False)
        self.session = a["sessionId"]
        self.events = []
        for m in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self.call(m)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def eval(self, js):
        r = self.call("Runtime.evaluate", {"expression": js, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (js[:80], r["exceptionDetails"]))
        return r["result"].get("value")

    def screenshot(self, png, full=True):
        import base64
        p = {"format": "png", "captureBeyondViewport": full}
        if full:
            w, h = self.eval("[document.documentElement.scrollWidth,"
                             " document.documentElement.scrollHeight]")
            p["clip"] = {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}
        data = self.call("Page.captureScreenshot", p)["data"]
        with open(png, "wb") as f:
            f.write(base64.b64decode(data))

    def errors(self):
        """console errors, exceptions and failed loads seen so far"""
        out = []
        for m in self.events:
            meth, prm = m.get("method"), m.get("params", {})
            if meth == "Runtime.exceptionThrown":
                out.append(prm.get("exceptionDetails", {}).get("text"))
            elif meth == "Runtime.consoleAPICalled" and prm.get("type") == "error":
                out.append(str(prm.get("args")))
            elif meth == "Log.entryAdded" and prm.get("entry", {}).get("level") == "error":
                out.append(prm["entry"].get("text"))
            elif meth == "Network.loadingFailed":
                out.append("failed to load: %s" % prm.get("errorText"))
        return out

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        os.close(self.to_w)
        os.close(self.from_r)


LAYOUT_JS = ("(function () { var out = {scrollWidth: document.documentElement.scrollWidth,"
             " width: window.innerWidth, tables: []};"
             " var ts = document.getElementsByTagName('table');"
             " for (var i = 0; i < ts.length; i++) { var r = ts[i].getBoundingClientRect();"
             " out.tables.push({left: r.left, right: r.right, rows: ts[i].rows.length}); }"
             " return out; })()")


def chromium_layout(html, width, png, work):
    """html laid out by headless Chromium in a phone-like viewport width CSS pixels wide:
    {"scrollWidth", "width", "tables": [{"left", "right", "rows"}]}, and a full-page
    screenshot in png."""
    page = os.path.join(work, os.path.basename(png) + ".html")
    with open(page, "w", encoding="utf-8") as f:
        f.write(html)
    c = Chromium(work)
    try:
        c.open("file://" + page, width, 900, mobile=True)
        lay = c.eval(LAYOUT_JS)
        c.screenshot(png)
        check(os.path.exists(png), "chromium screenshots %s" % png)
        return lay
    except (RuntimeError, TimeoutError, EOFError) as e:
        check(False, "chromium lays out %s: %s" % (page, e))
        return None
    finally:
        c.close()
