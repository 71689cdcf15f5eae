"""Python stdlib helpers for the tests that drive the real sev-psp-emu, sevd, sev-kds-emu and
sevadm as processes (tests/daemon/test-inventory.py, test-snp-*.py,
tests/prometheus/test-prometheus.py): the test's start and end (run_test), bounded waits,
process groups killed at the end, HTTP over sevd's Unix socket (root there is admin) and over
TLS, sevadm against that socket, and an SNP ID block made by sevadm."""

import base64
import hashlib
import http.client
import importlib.util
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
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


def run_test(need, prefix, body, done):
    """The frame of a test: exit 77 unless meson set the environment variables in need, then
    body(procs, tmp) in a fresh directory; every process started through procs is stopped at
    the end. The directory goes when the test passed (unless SEVD_TEST_KEEP is set) and stays,
    with its logs, when it failed. done: the line printed on success (or a function giving
    it, called then)."""
    why = need_env(*need)
    if why:
        print(f"SKIP: {why}")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix=prefix)
    procs = Procs()
    ok = False
    try:
        body(procs, tmp)
        ok = True
    finally:
        procs.stop_all()
        if ok and not os.environ.get("SEVD_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs kept in {tmp}")
    print(done() if callable(done) else done)


def load_sibling(caller, filename, name):
    """The test module filename beside the file caller (its __file__), imported as name, for
    the helpers one test shares with another."""
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(os.path.dirname(os.path.abspath(caller)), filename))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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


def json_request(api, method, url, body=None):
    """unix_request with body (when not None) sent as JSON."""
    return unix_request(api, method, url, json.dumps(body) if body is not None else None)


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


def unix_raw_get(path, url):
    """GET url over the Unix socket as HTTP/1.0, read to the end: (status, head, body bytes),
    for answers that are not text (GET /v1/snp/certs?format=table)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    s.sendall(f"GET {url} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head, body


def log_of(tmp, name):
    """TMP/NAME.log, as the start helpers below write a process's log."""
    with open(os.path.join(tmp, name + ".log"), errors="replace") as f:
        return f.read()


def emu_ctl(sock, line):
    """One CTL line on the emulator's socket (psp/emu-wire.h): (error, reply bytes)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(60)
    try:
        s.connect(sock)
        b = line.encode()
        s.send(struct.pack("<IHHIIQ", 0x45564553, 1, 5, 0, len(b), 7) + b)
        r = s.recv(8192)
    finally:
        s.close()
    magic, _, _, _, err, ln, _, seq = struct.unpack("<IHHiiIIQ", r[:32])
    check(magic == 0x45564553 and seq == 7 and ln == len(r) - 32, f"CTL {line}: bad reply")
    return err, r[32:]


def snp_certs_pending(api, min_attempts, timeout=150):
    """GET /v1/snp/certs once its fetch is pending after min_attempts failed attempts."""
    def got():
        st, t = unix_request(api, "GET", "/v1/snp/certs")
        p = t.get("pending") if st == 200 and isinstance(t, dict) else None
        return t if p and p["attempts"] >= min_attempts and "last_error" in p else None
    return wait_for(f"a pending fetch after {min_attempts} attempts", got, timeout, 0.2)


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
    """sevd on emu_sock with a Unix socket TMP/NAME.sock; waits for /healthz there, then for
    the first attempt of its SNP certificate table's fetch to end."""
    api = os.path.join(tmp, name + ".sock")
    log = os.path.join(tmp, name + ".log")
    p = procs.start([os.environ["SEVD_EXE"], "--psp", "emu:" + emu_sock, "--state-dir",
                     os.path.join(tmp, name + "-state"), "--listen", "unix:" + api, *extra], log)

    def up():
        if p.poll() is not None:
            raise AssertionError(f"sevd exited ({p.returncode}); log {log}")
        return unix_request(api, "GET", "/healthz")[0] == 200
    wait_for("sevd's /healthz", up, 60)
    # With SNP, sevd fetches its certificate table in the background after the start; on a
    # fresh emulator the first fetch makes the emulated root's RSA-4096 keys, and firmware
    # commands wait behind it in the emulator. Wait until that first attempt is over (the
    # table held, or the attempt failed and a retry is scheduled), as the start used to.
    def first_fetch_over():
        st, t = unix_request(api, "GET", "/v1/snp/certs")
        return st != 200 or not isinstance(t, dict) or \
            t.get("pending", {}).get("state") != "fetching"
    wait_for("sevd's first fetch of the SNP certificate table", first_fetch_over, 180, 0.2)
    return p, api


def wait_certs(api, timeout=180):
    """GET /v1/snp/certs once sevd's fetch of the table at start is over: sevd fetches the
    chip's VCEK, ASK and ARK from its key server in the background after it starts, retrying
    (1 s, doubling to 60 s) while the key server cannot answer (on a loaded machine the
    emulator may still be making its RSA-4096 root: each attempt can take up to 3 x 30 s).
    While it tries, the answer carries "pending"; this returns the first answer without it
    (the table held, or none with no fetch left). Bounded: AssertionError after timeout."""
    def settled():
        st, t = unix_request(api, "GET", "/v1/snp/certs")
        return t if st == 200 and isinstance(t, dict) and "pending" not in t else None
    return wait_for("the SNP certificate table's fetch at start", settled, timeout, 0.2)


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


def start_kds(procs, tmp, nv, name="kds"):
    """sev-kds-emu (the emulator's local KDS) serving the chip of the NV file nv, on the port
    it writes to TMP/NAME.port. Returns (its process, its base URL)."""
    exe = os.path.join(os.environ["SEVD_BUILD_ROOT"], "psp", "emu", "sev-kds-emu")
    pf = os.path.join(tmp, name + ".port")
    p = procs.start([exe, "--nv", nv, "--port-file", pf], os.path.join(tmp, name + ".log"))
    wait_for("sev-kds-emu's port file", lambda: os.path.exists(pf) and
             open(pf).read().strip() != "", 60)
    return p, "http://127.0.0.1:" + open(pf).read().strip()


def sevadm(api, *args, want=0):
    """sevadm --daemon unix:API ARGS; fails the test unless it exits want. The finished
    process (stdout, stderr as text)."""
    p = subprocess.run([os.environ["SEVADM_EXE"], "--daemon", "unix:" + api, *args],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == want, f"sevadm {' '.join(args)}: exit {p.returncode}, wanted {want}:"
          f"\n{p.stdout}{p.stderr}")
    return p


def sevadm_text(api, *args, want=0):
    """sevadm as above; its (stdout, stderr)."""
    p = sevadm(api, *args, want=want)
    return p.stdout, p.stderr


def pem_der(path):
    """The DER of the one certificate in the PEM file path."""
    with open(path) as f:
        txt = f.read()
    check(txt.startswith("-----BEGIN CERTIFICATE-----"), f"{path} is not PEM")
    return base64.b64decode("".join(txt.strip().split("\n")[1:-1]))


def _p384_key(tmp, name):
    """An EC P-384 key made once in TMP/NAME.pem (openssl genpkey)."""
    key = os.path.join(tmp, name + ".pem")
    if not os.path.exists(key):
        p = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-384", "-out", key],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, f"openssl genpkey: {p.stderr}")
    return key


def snp_id_block(tmp, digest, policy, tag, author=None):
    """`sevadm snp id-block` over the launch digest (bytes) and the SNP policy, signed with an
    EC P-384 ID key made here once (TMP/id-key.pem), written to TMP/id-TAG; with author (a key
    name), also signed by the author key TMP/AUTHOR.pem. Checks the printed id-block= is
    id-block.bin; returns the printed fields ({"id-block": …, "id-auth": …}, and with an author
    key "author_key_digest": its printed digest)."""
    out = os.path.join(tmp, "id-" + tag)
    os.makedirs(out, exist_ok=True)
    args = [os.environ["SEVADM_EXE"], "snp", "id-block", "--measurement", digest.hex(),
            "--policy", hex(policy), "--family-id", "11" * 16, "--image-id", "22" * 16,
            "--svn", "1", "--id-key", _p384_key(tmp, "id-key"), "--out", out]
    if author:
        args += ["--author-key", _p384_key(tmp, author)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"sevadm snp id-block: {p.stdout} {p.stderr}")
    line = [x for x in p.stdout.splitlines() if x.startswith("id-block=")]
    check(len(line) == 1, f"sevadm snp id-block printed no id-block= line: {p.stdout}")
    kv = dict(x.split("=", 1) for x in line[0].split(","))
    with open(os.path.join(out, "id-block.bin"), "rb") as f:
        check(base64.b64decode(kv["id-block"]) == f.read(),
              "the printed id-block differs from id-block.bin")
    digests = [x.split(":", 1)[1].strip() for x in p.stdout.splitlines()
               if x.startswith("author_key_digest:")]
    check(bool(digests) == bool(author), f"author_key_digest line: {p.stdout}")
    if digests:
        kv["author_key_digest"] = digests[0]
    return kv
