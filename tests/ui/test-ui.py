#!/usr/bin/env python3
"""The status page in a real browser: sev-psp-emu (Genoa-sized, 1006 ASIDs) and sevd
with a TCP loopback listener and a reader token, Debian's chromium headless driven through the
DevTools protocol (a minimal websocket client below, Python stdlib only).

Checks: the page and its assets are served with their content types, a Content-Security-
Policy of default-src 'self', nosniff and Cache-Control, and without credentials /ui/state is
refused; the page loads with the token from its URL fragment, draws one cell per ASID (1006)
and shows the counts of /v1/asids; `sevadm launch` makes the counts, the grid cell (with the
guest's name on hover) and the guests table (policy in words) change LIVE in the page that is
already open (same document, same grid nodes); decommissioning moves the ASID to "awaiting
DF_FLUSH"; a firmware failure appears in the recent errors by command and status name; with
nothing changing, a few polls touch no grid node. A PNG screenshot is written to the build dir.

Every wait is bounded; every process started here is killed at the end. Exit 77 (skip) only
when chromium is not installed."""

import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import free_port  # noqa: E402

READER_TOKEN = "ui-reader-token-4f1c"
ASIDS_MAX, MIN_SEV = 1006, 100  # Genoa: ASIDs 1..99 for SEV-ES, 100..1006 for plain SEV
checks = 0


class PageError(AssertionError):
    """A script in the page failed (also while it is still loading: waits retry)."""


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def wait_for(what, fn, timeout=20.0, step=0.2):
    """fn() until it returns something truthy; AssertionError after timeout seconds."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
            if last:
                return last
        except (OSError, ValueError, KeyError, PageError) as e:
            last = e
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


# ---- HTTP to sevd ----

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def unix_request(path, method, url, body=None):
    """As root over the Unix socket: the admin role (daemon/worker/auth.h)."""
    c = UnixHTTPConnection(path)
    try:
        c.request(method, url, body=body, headers={"Content-Type": "application/json"} if body else {})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def tcp_get(port, url, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{url}")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# ---- a minimal websocket client (RFC 6455) for the DevTools protocol ----

class WebSocket:
    def __init__(self, url, timeout=30):
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise OSError("DevTools closed the websocket handshake")
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                             .encode()).digest())
        if b" 101 " not in status or want not in head:
            raise OSError(f"websocket handshake refused: {status!r}")

    def send(self, text):
        data = text.encode()
        n = len(data)
        hdr = bytes([0x81])  # FIN, text
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)  # clients must mask (RFC 6455 5.3)
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise OSError("DevTools closed the websocket")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """One whole message (fragments joined); control frames answered or skipped."""
        parts = []
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            op = b0 & 0x0F
            if op == 0x8:
                raise OSError("DevTools closed the websocket")
            if op in (0x9, 0xA):  # ping/pong: the browser does not ping us; ignore
                continue
            parts.append(data)
            if b0 & 0x80:
                return b"".join(parts).decode()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class DevTools:
    """Commands to one page target; events are skipped."""

    def __init__(self, ws_url):
        self.ws = WebSocket(ws_url)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        end = time.monotonic() + 30
        while time.monotonic() < end:
            m = json.loads(self.ws.recv())
            if m.get("id") == my:
                if "error" in m:
                    raise PageError(f"DevTools {method}: {m['error']}")
                return m.get("result", {})
        raise AssertionError(f"DevTools {method}: no answer in 30 s")

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            raise PageError(f"page script failed: "
                            f"{r['exceptionDetails'].get('exception', {}).get('description')}")
        return r["result"].get("value")


# The page's counts and state, read from the DOM by the ids the page promises.
DOM_STATE = """JSON.stringify((() => {
  const t = (id) => { const e = document.getElementById(id); return e ? e.textContent : null; };
  const n = (id) => { const v = t(id); return v === null || v === '–' ? null : Number(v); };
  if (!document.body || !document.getElementById('updates')) return { state: 'loading' };
  const out = { state: document.body.dataset.state, updates: n('updates'), conn: t('conn') };
  for (const p of ['es', 'sev', 'asid'])
    for (const k of ['free', 'used', 'pending', 'total'])
      out[p + '_' + k] = n(p + '-' + k);
  out.cells_es = document.querySelectorAll('#grid-es .c').length;
  out.cells_sev = document.querySelectorAll('#grid-sev .c').length;
  out.guests = [...document.querySelectorAll('#guests tr')].map(tr =>
      [...tr.children].map(td => td.textContent));
  out.fw = [...document.querySelectorAll('#fw-errors tr')].map(tr =>
      [...tr.children].map(td => td.textContent));
  out.fw_total = n('fw-total');
  out.pl_state = t('pl-state'); out.pl_fw = t('pl-fw'); out.pl_owner = t('pl-owner');
  return out;
})())"""


def dom(dt):
    return json.loads(dt.eval(DOM_STATE))


def perf(dt):
    return {m["name"]: m["value"] for m in dt.call("Performance.getMetrics")["metrics"]}


def api_counts(port):
    st, _, body = tcp_get(port, "/v1/asids", READER_TOKEN)
    check(st == 200, f"GET /v1/asids as reader: {st} {body[:200]!r}")
    a = json.loads(body)
    return {"es_free": a["es"]["free"], "es_used": a["es"]["used"],
            "es_pending": a["es"]["flush_pending"], "es_total": a["es"]["total"],
            "sev_free": a["sev"]["free"], "sev_used": a["sev"]["used"],
            "sev_pending": a["sev"]["flush_pending"], "sev_total": a["sev"]["total"]}


def page_matches(dt, want, extra=None):
    """The page's counts equal want (and extra(d) holds): the DOM state, else None."""
    d = dom(dt)
    if d["state"] != "ok" or any(d.get(k) != v for k, v in want.items()):
        return None
    if extra and not extra(d):
        return None
    return d


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, argv, log, **kw):
        # sevd started by a user other than root must be allowed a worker without its own uid
        # (as tests/testutil.c's tu_spawn does).
        if os.geteuid() != 0 and argv and argv[0] == os.environ.get("SEVD_EXE"):
            argv = [*argv, "--allow-unseparated-worker"]
        f = open(log, "wb")
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        f.close()
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in reversed(self.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)


def start_services(procs, tmp):
    emu_sock, api_sock = os.path.join(tmp, "emu.sock"), os.path.join(tmp, "api.sock")
    procs.start([os.environ["SEV_PSP_EMU_EXE"], "--socket", emu_sock, "--nv",
                 os.path.join(tmp, "nv.bin"), "--cpuid-ecx", str(ASIDS_MAX),
                 "--cpuid-edx", str(MIN_SEV)], os.path.join(tmp, "emu.log"))
    wait_for("the emulator's socket", lambda: os.path.exists(emu_sock), 60)
    conf = os.path.join(tmp, "sevd.conf")
    with open(conf, "w") as f:
        f.write("# the status page test: one reader token (its SHA-256 only)\n")
        f.write(f"token = reader:sha256:{hashlib.sha256(READER_TOKEN.encode()).hexdigest()}\n")
    port = free_port()
    sevd = procs.start([os.environ["SEVD_EXE"], "--psp", "emu:" + emu_sock, "--state-dir",
                        os.path.join(tmp, "state"), "--listen", "unix:" + api_sock, "--listen",
                        f"tcp:127.0.0.1:{port}", "--allow-plain-tcp", "--config", conf],
                       os.path.join(tmp, "sevd.log"))

    def up():
        if sevd.poll() is not None:
            raise AssertionError(f"sevd exited ({sevd.returncode}); log {tmp}/sevd.log")
        return tcp_get(port, "/healthz")[0] == 200
    wait_for("sevd's /healthz", up, 60)
    return port, api_sock, sevd


def test_http(port):
    """Content types and headers; /ui/state needs the reader role."""
    for url, ctype in (("/ui", "text/html"), ("/ui/ui.css", "text/css"),
                       ("/ui/ui.js", "text/javascript")):
        st, h, body = tcp_get(port, url)
        h = {k.lower(): v for k, v in h.items()}
        check(st == 200, f"GET {url} (no credentials): HTTP {st}")
        check(h.get("content-type", "").startswith(ctype), f"{url}: Content-Type {h.get('content-type')}")
        csp = h.get("content-security-policy", "")
        check("default-src 'self'" in csp, f"{url}: Content-Security-Policy {csp!r}")
        check(h.get("x-content-type-options") == "nosniff", f"{url}: no nosniff")
        check(h.get("cache-control") == "no-store", f"{url}: Cache-Control {h.get('cache-control')}")
        check(b"http://" not in body and b"https://" not in body,
              f"{url} refers to another origin (no external assets)")
    st, _, body = tcp_get(port, "/ui/state")
    check(st == 401, f"GET /ui/state without a token: HTTP {st} (want 401)")
    st, _, body = tcp_get(port, "/ui/state", "not-the-token")
    check(st == 401, f"GET /ui/state with a wrong token: HTTP {st} (want 401)")
    st, h, body = tcp_get(port, "/ui/state", READER_TOKEN)
    check(st == 200, f"GET /ui/state as reader: HTTP {st} {body[:200]!r}")
    s = json.loads(body)
    check(len(s["asids"]["cells"]) == ASIDS_MAX, f"{len(s['asids']['cells'])} cells, want {ASIDS_MAX}")
    check(s["asids"]["es_range"] == [1, MIN_SEV - 1] and s["asids"]["sev_range"] == [MIN_SEV, ASIDS_MAX],
          f"ranges {s['asids']['es_range']} {s['asids']['sev_range']}")
    check(s["platform"]["state"] == "INIT", f"platform {s['platform']}")
    print(f"http: assets public with CSP/nosniff/no-store, /ui/state 401 without a token, "
          f"200 as reader ({len(body)} bytes, {ASIDS_MAX} cells)")


def start_browser(procs, tmp):
    profile = os.path.join(tmp, "chromium")
    os.makedirs(profile)
    argv = [shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-sync",
            "--mute-audio", "--hide-scrollbars", "--window-size=1280,1200",
            f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0", "about:blank"]
    browser = procs.start(argv, os.path.join(tmp, "chromium.log"))
    port_file = os.path.join(profile, "DevToolsActivePort")

    def ready():
        if browser.poll() is not None:
            raise AssertionError(f"chromium exited ({browser.returncode}); log {tmp}/chromium.log")
        with open(port_file) as f:
            lines = f.read().split()
        return int(lines[0]) if len(lines) >= 2 else None
    dport = wait_for("chromium's DevToolsActivePort", ready, 60)

    def page():
        with urllib.request.urlopen(f"http://127.0.0.1:{dport}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t.get("type") == "page"]
        return pages[0]["webSocketDebuggerUrl"] if pages else None
    return DevTools(wait_for("a page target", page, 30))


def launch(api_sock, tmp, name):
    img = os.path.join(tmp, "image.bin")
    with open(img, "wb") as f:
        f.write(os.urandom(8192))
    r = subprocess.run([os.environ["SEVADM_EXE"], "--daemon", "unix:" + api_sock, "launch", img,
                        "--name", name, "--policy", "nodbg,noks"],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"sevadm launch: {r.returncode} {r.stdout} {r.stderr}")
    handle = int(r.stdout.strip().split()[-1])
    st, body = unix_request(api_sock, "GET", f"/v1/guests/{handle}")
    check(st == 200, f"GET /v1/guests/{handle}: {st} {body}")
    return handle, json.loads(body)


def main():
    for v in ("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVADM_EXE"):
        if v not in os.environ:
            print(f"SKIP: {v} not set (run through meson test)")
            return 77
    if not shutil.which("chromium"):
        print("SKIP: chromium is not installed (Debian package 'chromium'; scripts/deps test "
              "installs it)")
        return 77
    out_dir = os.environ.get("UI_ARTIFACT_DIR") or os.path.join(
        os.environ.get("SEVD_BUILD_ROOT", "."), "tests", "ui")
    os.makedirs(out_dir, exist_ok=True)
    shot = os.path.join(out_dir, "sevd-ui.png")
    tmp = tempfile.mkdtemp(prefix="sevd-ui-")
    procs = Procs()
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(AssertionError("test took over 240 s")))
    signal.alarm(240)
    ok = False
    try:
        port, api_sock, sevd = start_services(procs, tmp)
        test_http(port)
        dt = start_browser(procs, tmp)
        dt.call("Page.enable")
        dt.call("Page.navigate", url=f"http://127.0.0.1:{port}/ui#token={READER_TOKEN}")

        # 1. loads, full grid, counts as /v1/asids
        want = api_counts(port)
        d = wait_for("the page's first update with /v1/asids' counts",
                     lambda: page_matches(dt, want, lambda d: d["updates"] >= 1))
        check(d["cells_es"] == MIN_SEV - 1 and d["cells_sev"] == ASIDS_MAX - MIN_SEV + 1,
              f"grid: {d['cells_es']} ES + {d['cells_sev']} SEV cells, want "
              f"{MIN_SEV - 1} + {ASIDS_MAX - MIN_SEV + 1}")
        check(d["asid_total"] == ASIDS_MAX, f"total {d['asid_total']}")
        check(d["pl_state"] == "INIT" and d["pl_fw"].startswith("API ") and d["pl_owner"],
              f"platform: {d['pl_state']} / {d['pl_fw']} / {d['pl_owner']}")
        check(dt.eval("location.hash") == "", "the token stayed in the address bar")
        print(f"page: loaded, {d['cells_es']} + {d['cells_sev']} = {ASIDS_MAX} cells, counts = "
              f"/v1/asids (free {d['asid_free']}, used {d['asid_used']}), firmware {d['pl_fw']}")

        # Mark the document and every grid node: a live update must keep both.
        dt.eval("window.__sevdMark = 42; document.querySelectorAll('.grid .c')"
                ".forEach(c => c.__sevdMark = 1); true")
        # 2. nothing changes: a few polls touch no grid node
        dt.eval("""window.__gridMut = 0; window.__obs = new MutationObserver(l => {
            window.__gridMut += l.length; });
            document.querySelectorAll('.grid').forEach(g => window.__obs.observe(g,
              {subtree: true, childList: true, attributes: true})); true""")
        dt.call("Performance.enable")
        m0 = perf(dt)
        u0 = dom(dt)["updates"]
        wait_for("three more polls", lambda: dom(dt)["updates"] >= u0 + 3, 15)
        m1 = perf(dt)
        idle = dt.eval("window.__gridMut")
        check(idle == 0, f"{idle} grid mutations in 3 polls with nothing changed")
        # for information only (no timed assertion): what the browser spent on those polls
        print(f"idle: 3 polls, {idle} grid node mutations; browser: "
              f"{m1['LayoutCount'] - m0['LayoutCount']:.0f} layouts "
              f"({(m1['LayoutDuration'] - m0['LayoutDuration']) * 1000:.1f} ms), script "
              f"{(m1['ScriptDuration'] - m0['ScriptDuration']) * 1000:.1f} ms, "
              f"{m1['Nodes']:.0f} DOM nodes")

        # 3. launch: live update of counts, the cell and the guests table
        handle, g = launch(api_sock, tmp, "ui-guest")
        asid = g["asid"]
        check(isinstance(asid, int) and MIN_SEV <= asid <= ASIDS_MAX, f"guest ASID {asid}")
        want = api_counts(port)
        check(want["sev_used"] == 1, f"/v1/asids after the launch: {want}")
        d = wait_for("the open page to show the launch",
                     lambda: page_matches(dt, want, lambda d: any(r[0] == "ui-guest" for r in d["guests"])))
        row = next(r for r in d["guests"] if r[0] == "ui-guest")
        check(row[1] == str(handle) and "NODBG" in row[3] and "NOKS" in row[3] and
              row[4].startswith(str(asid)), f"guest row {row}")
        cell = json.loads(dt.eval(f"""JSON.stringify((() => {{ const c = document.getElementById(
            'asid-{asid}'); return {{cls: c.className, title: c.title, mark: c.__sevdMark}}; }})())"""))
        check(cell["cls"] == "c u" and "ui-guest" in cell["title"], f"ASID {asid} cell {cell}")
        check(cell["mark"] == 1, "the grid was rebuilt instead of updated in place")
        check(dt.eval("window.__sevdMark") == 42, "the page was reloaded (not a live update)")
        muts = dt.eval("window.__gridMut")
        print(f"launch: guest {handle} on ASID {asid} shown live (sev used {d['sev_used']}, row "
              f"{row}), cell '{cell['title']}', {muts} grid mutations, same document")

        # 4. a firmware failure shows by command and status name
        zero = base64.b64encode(bytes(2084)).decode()
        st, body = unix_request(api_sock, "POST", "/v1/platform/pek-cert",
                                json.dumps({"pek_cert": zero, "oca_cert": zero}))
        err = json.loads(body)["error"]
        check(st >= 400 and err["fw_status"], f"PEK_CERT_IMPORT of zeros: {st} {body}")
        d = wait_for("the firmware error in the page",
                     lambda: (lambda d: d if any(r[1] == "PEK_CERT_IMPORT" and r[2] == err["fw_status"]
                                                 for r in d["fw"]) else None)(dom(dt)))
        print(f"firmware error: PEK_CERT_IMPORT {err['fw_status']} listed ({d['fw_total']} since start)")

        # 5. decommission: the ASID awaits DF_FLUSH, live
        r = subprocess.run([os.environ["SEVADM_EXE"], "--daemon", "unix:" + api_sock,
                            "decommission", str(handle)], capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, f"sevadm decommission: {r.returncode} {r.stdout} {r.stderr}")
        want = api_counts(port)
        check(want["sev_pending"] == 1 and want["sev_used"] == 0, f"/v1/asids after decommission: {want}")
        d = wait_for("the open page to show the ASID awaiting DF_FLUSH",
                     lambda: page_matches(dt, want, lambda d: not d["guests"]))
        cell = dt.eval(f"document.getElementById('asid-{asid}').className")
        check(cell == "c p", f"ASID {asid} cell class {cell!r} after decommission")
        print(f"decommission: ASID {asid} awaiting DF_FLUSH (pending {d['sev_pending']}), guest gone")

        # 6. a second guest for the screenshot, then the picture
        handle2, g2 = launch(api_sock, tmp, "web-frontend")
        want = api_counts(port)
        wait_for("the second guest", lambda: page_matches(
            dt, want, lambda d: any(r[0] == "web-frontend" for r in d["guests"])))
        metrics = dt.call("Page.getLayoutMetrics")
        h = int(metrics.get("cssContentSize", metrics.get("contentSize"))["height"])
        png = dt.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                      clip={"x": 0, "y": 0, "width": 1280, "height": min(max(h, 600), 4000), "scale": 1})
        data = base64.b64decode(png["data"])
        check(data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000, f"screenshot: {len(data)} bytes")
        with open(shot, "wb") as f:
            f.write(data)
        print(f"screenshot: {shot} ({len(data)} bytes, 1280x{min(max(h, 600), 4000)})")
        try:
            dt.call("Browser.close")
        except (AssertionError, OSError):
            pass
        dt.ws.close()
        # sevd stops cleanly after serving the page (under ASan: no leak, no error at exit)
        sevd.send_signal(signal.SIGTERM)
        try:
            rc = sevd.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rc = "still running after 60 s"
        check(rc == 0, f"sevd after SIGTERM: exit {rc}")
        ok = True
    except AssertionError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        for log in ("sevd.log", "chromium.log"):
            p = os.path.join(tmp, log)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    print(f"--- {log} (last lines)\n" + "".join(f.readlines()[-20:]), file=sys.stderr)
    finally:
        signal.alarm(0)
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{checks} checks" + ("" if ok else " (failed)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
