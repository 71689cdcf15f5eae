"""Python stdlib helpers for the tests that drive the real sev-psp-emu and sevd as processes
(tests/daemon/test-inventory.py, tests/prometheus/test-prometheus.py): bounded waits, process
groups killed at the end, HTTP over sevd's Unix socket (root there is admin) and over TLS."""

import hashlib
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time

checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def wait_for(what, fn, timeout=20.0, step=0.1):
    """fn() until it returns something truthy; AssertionError after timeout seconds."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
            if last:
                return last
        except (OSError, ValueError, KeyError) as e:
            last = e
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_env(*names):
    """The executables meson passes; None when all are set, else the skip reason."""
    for v in names:
        if v not in os.environ:
            return f"{v} not set (run through meson test)"
    return None


class Procs:
    """Every process started here, each in its own process group, stopped at the end."""

    def __init__(self):
        self.procs = []

    def start(self, argv, log, **kw):
        # As tests/testutil.c's tu_spawn: sevd started by a user other than root cannot give
        # its worker a uid of its own and must be allowed to run without one.
        if os.geteuid() != 0 and argv and argv[0] == os.environ.get("SEVD_EXE"):
            argv = [*argv, "--allow-unseparated-worker"]
        with open(log, "wb") as f:
            p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=15):
        """Signal p's group; SIGKILL after timeout. Returns its exit status."""
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return p.wait(timeout=10)

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def unix_request(path, method, url, body=None):
    """As root over the Unix socket (the admin role): (status, parsed JSON or text)."""
    c = UnixHTTPConnection(path)
    try:
        c.request(method, url, body=body,
                  headers={"Content-Type": "application/json"} if body else {})
        r = c.getresponse()
        data = r.read().decode()
        ctype = r.getheader("Content-Type", "")
        return r.status, json.loads(data) if ctype.startswith("application/json") else data
    finally:
        c.close()


def https_get(port, url, ca_file, token=None):
    """GET over TLS to 127.0.0.1, verifying sevd's certificate against ca_file."""
    ctx = ssl.create_default_context(cafile=ca_file)
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    try:
        c.request("GET", url, headers={"Authorization": "Bearer " + token} if token else {})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def token_line(role, token):
    """The config line of a bearer token: only its SHA-256 is stored (sevd.conf(5))."""
    return f"token = {role}:sha256:{hashlib.sha256(token.encode()).hexdigest()}\n"


def start_emu(procs, tmp, ecx=509, edx=100, extra=(), name="emu"):
    """sev-psp-emu on TMP/NAME.sock (extra: more arguments, e.g. --fault RULE)."""
    sock = os.path.join(tmp, name + ".sock")
    procs.start([os.environ["SEV_PSP_EMU_EXE"], "--socket", sock, "--nv",
                 os.path.join(tmp, name + "-nv.bin"), "--cpuid-ecx", str(ecx), "--cpuid-edx",
                 str(edx), *extra], os.path.join(tmp, name + ".log"))
    wait_for("the emulator's socket", lambda: os.path.exists(sock), 60)
    return sock


def start_sevd(procs, tmp, emu_sock, extra=(), name="sevd"):
    """sevd on emu_sock with a Unix socket TMP/NAME.sock; waits for /healthz there."""
    api = os.path.join(tmp, name + ".sock")
    log = os.path.join(tmp, name + ".log")
    p = procs.start([os.environ["SEVD_EXE"], "--psp", "emu:" + emu_sock, "--state-dir",
                     os.path.join(tmp, name + "-state"), "--listen", "unix:" + api, *extra], log)

    def up():
        if p.poll() is not None:
            raise AssertionError(f"sevd exited ({p.returncode}); log {log}")
        return unix_request(api, "GET", "/healthz")[0] == 200
    wait_for("sevd's /healthz", up, 60)
    return p, api


def make_tls(tmp):
    """A CA and a server certificate for 127.0.0.1 with the openssl CLI (nothing committed).
    Returns (ca.crt, server.crt, server.key)."""
    ca_key, ca_crt = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.crt")
    key, csr, crt = (os.path.join(tmp, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(tmp, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n"
                "extendedKeyUsage = serverAuth\n")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=60)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj", "/CN=sevd test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
        key, "-out", csr, "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out",
        crt, "-days", "2", "-extfile", ext)
    return ca_crt, crt, key
