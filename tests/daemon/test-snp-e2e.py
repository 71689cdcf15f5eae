#!/usr/bin/env python3
"""SEV-SNP end to end through the real binaries: sev-psp-emu --snp, sev-kds-emu, sevd, sevadm
and sev-run, over sevd's Unix socket and its VMM socket (STATE_DIR/vmm.sock).

SNP init (sevd at start) → the chip's certificates fetched from the local KDS (`sevadm snp
fetch`) and imported as the host's certificate table (`sevadm snp certs import`) → an SNP guest
launched by `sevadm launch --snp --id-block --secrets-gpa` with an ID block `sevadm snp
id-block` signed with a P-384 key made here, over the launch digest this test computes itself
(the PAGE_INFO chain, hashlib) → finished and activated → `sev-run --snp-report --certs DIR`
plays the guest: its extended request is answered with the report and the host's table (the
one-page buffer first refused with the needed length, then retried) → `sevadm verify report`
accepts the report with those certificates, the nonce and the computed digest (and refuses
another nonce) → a second request with the same sequence number is refused by firmware by
name (AEAD_OFLOW) → `sevadm attest` refuses an SNP guest naming the guest-side path → the
guest is decommissioned and its ASID is back in /v1/asids.

Raw frames on the VMM socket (hv-glue/vmm-msg.h) for the refusals: a malformed frame (named,
connection closed), an unknown handle, a request for an SEV guest and for an SNP guest not
RUNNING, a too-small certificate buffer (INVALID_LEN and the table's length, as KVM answers),
a tampered message (firmware's BAD_MEASUREMENT by name), and a peer other than root (refused
by the socket's mode, and by SO_PEERCRED when the mode is opened). /metrics counts them all.
Exit 77 only when run outside meson."""

import base64
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from sevdtest import (Procs, check, load_sibling, need_env, snp_id_block,  # noqa: E402
                      start_emu, start_kds, start_sevd, unix_request)


snpguest = load_sibling(__file__, "test-snp-guest.py", "snpguest")
Digest, POLICY, PAGE = snpguest.Digest, snpguest.POLICY, snpguest.PAGE

REQ_MAGIC, ANS_MAGIC = 0x51535648, 0x41535648
GUEST_REQUEST, EXT_GUEST_REQUEST, GUEST_INFO = 1, 2, 3
ANS_HDR = 384
BAD_MEASUREMENT, AEAD_OFLOW = 0x0B, 0x1D
SECRETS_GPA = 0x3000


def sevadm(api, *args, want=0):
    p = subprocess.run([os.environ["SEVADM_EXE"], "--daemon", "unix:" + api, *args],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == want, f"sevadm {' '.join(args)}: exit {p.returncode}, want {want}:\n"
          f"{p.stdout}{p.stderr}")
    return p


def frame(typ, handle, page=None, certs_len=0, magic=REQ_MAGIC, reserved=0):
    body = page if page is not None else (b"\0" * PAGE if typ in (1, 2) else b"")
    return struct.pack("<IHHIIII", magic, 1, typ, 24 + len(body), handle, certs_len,
                       reserved) + body


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        k = s.recv(n - len(b))
        if not k:
            break
        b += k
    return b


def answer(s):
    """One answer frame: a dict of its fields, the response page and the table."""
    h = recv_exact(s, ANS_HDR)
    check(len(h) == ANS_HDR, f"VMM socket: an answer of {len(h)} bytes")
    magic, ver, typ, length, handle, err, fw, vmm_err, certs_len, flags, asid, state = \
        struct.unpack_from("<IHHIIiIIIIII", h)
    ctx = struct.unpack_from("<Q", h, 48)[0]
    check(magic == ANS_MAGIC and ver == 1, f"answer magic/version {magic:#x} {ver}")
    rest = recv_exact(s, length - ANS_HDR)
    page = rest[:PAGE] if flags & 1 else None
    table = rest[PAGE if flags & 1 else 0:] if flags & 2 else None
    return {"type": typ, "handle": handle, "error": err, "fw": fw, "vmm_error": vmm_err,
            "certs_len": certs_len, "flags": flags, "asid": asid, "state": state, "ctx": ctx,
            "reason": h[56:256].split(b"\0")[0].decode(),
            "emu": h[256:384].split(b"\0")[0].decode(), "page": page, "table": table}


def call(vmm, data):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(vmm)
        s.sendall(data)
        a = answer(s)
        if a["error"] == -74:  # -EBADMSG: sevd closes the connection after the answer
            try:
                a["closed"] = s.recv(1) == b""
            except ConnectionResetError:
                a["closed"] = True
        return a


def msg_page(tag=b"\x55" * 16):
    """A request header as a guest builds it (version 1, AES-256-GCM, MSG_REPORT_REQ of 0x60
    bytes, VMPCK0, sequence number 1) over bytes no VMPCK sealed: the tag cannot verify."""
    hdr = bytearray(0x60)
    hdr[0:16] = tag
    struct.pack_into("<Q", hdr, 0x20, 1)
    struct.pack_into("<BBHBBH", hdr, 0x30, 1, 1, 0x60, 5, 1, 0x60)
    return bytes(hdr) + b"\xa5" * 0x60 + b"\0" * (PAGE - 0xC0)


def as_nobody(fn):
    """fn() in a child with uid/gid 65534; its return value (a short string)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            out = fn()
        except Exception as e:  # noqa: BLE001 - reported to the parent
            out = f"exception {type(e).__name__}: {e}"
        os.write(w, out.encode()[:4000])
        os._exit(0)
    os.close(w)
    out = b""
    while True:
        k = os.read(r, 4096)
        if not k:
            break
        out += k
    os.close(r)
    os.waitpid(pid, 0)
    return out.decode()


def refusals(api, vmm, tmp, snp_h, img):
    # Malformed: a wrong magic, a reserved word set, a guest request without its page.
    a = call(vmm, frame(GUEST_INFO, snp_h, magic=0x12345678))
    check(a["error"] == -74 and "magic" in a["reason"] and a["closed"],
          f"a frame with another magic: {a}")
    a = call(vmm, frame(GUEST_INFO, snp_h, reserved=1))
    check(a["error"] == -74 and "reserved" in a["reason"], f"reserved bytes set: {a}")
    a = call(vmm, struct.pack("<IHHIIII", REQ_MAGIC, 1, GUEST_REQUEST, 24, snp_h, 0, 0))
    check(a["error"] == -74 and "page" in a["reason"], f"a request without its page: {a}")
    a = call(vmm, frame(EXT_GUEST_REQUEST, snp_h, certs_len=100))
    check(a["error"] == -74 and "certs_len" in a["reason"], f"a buffer of 100 bytes: {a}")

    # Unknown handle; an SEV guest (LUPDATE); an SNP guest not finished.
    a = call(vmm, frame(GUEST_REQUEST, 0x7777, msg_page()))
    check(a["error"] == -2 and "no guest with handle" in a["reason"], f"unknown handle: {a}")
    p = sevadm(api, "launch", img, "--name", "sev-one")
    sev_h = int(p.stdout.split()[0])
    a = call(vmm, frame(GUEST_REQUEST, sev_h, msg_page()))
    check(a["error"] < 0 and "not SEV-SNP" in a["reason"] and a["page"] is None,
          f"a request for an SEV guest: {a}")
    st, g = unix_request(api, "POST", "/v1/guests",
                         json.dumps({"type": "snp", "policy": POLICY, "name": "unfinished"}))
    check(st == 201, f"create an unfinished SNP guest: {st} {g}")
    a = call(vmm, frame(EXT_GUEST_REQUEST, g["handle"], msg_page(), certs_len=4 * PAGE))
    check(a["error"] == -16 and "not RUNNING" in a["reason"] and "LUPDATE" in a["reason"],
          f"a request for an SNP guest in LUPDATE: {a}")
    for h in (sev_h, g["handle"]):
        st, r = unix_request(api, "DELETE", f"/v1/guests/{h}")
        check(st == 200, f"delete {h}: {st} {r}")

    # Too small a certificate buffer: INVALID_LEN, the table's length, no table, no firmware.
    a = call(vmm, frame(EXT_GUEST_REQUEST, snp_h, msg_page(), certs_len=PAGE))
    check(a["vmm_error"] == 1 and a["certs_len"] > PAGE and a["table"] is None and
          a["page"] is None and a["fw"] == 0xFFFFFFFF and "smaller" in a["reason"],
          f"a one-page certificate buffer: {a}")
    needed = a["certs_len"]

    # A tampered message: firmware's status by name, no response page.
    a = call(vmm, frame(GUEST_REQUEST, snp_h, msg_page()))
    check(a["error"] == -5 and a["fw"] == BAD_MEASUREMENT and "BAD_MEASUREMENT" in a["reason"]
          and a["page"] is None, f"a tampered message: {a}")

    # Not root: the socket's mode refuses the connection; with the mode opened, the core's
    # SO_PEERCRED check refuses the request.
    def try_connect():
        try:
            call(vmm, frame(GUEST_INFO, snp_h))
            return "connected"
        except PermissionError:
            return "EACCES"
    out = as_nobody(try_connect)
    check(out == "EACCES", f"uid 65534 on the 0600 VMM socket: {out}")
    modes = [(d, os.stat(d).st_mode & 0o7777) for d in (tmp, os.path.dirname(vmm))]
    for d, _ in modes:
        os.chmod(d, 0o711)
    os.chmod(vmm, 0o666)
    try:
        out = as_nobody(lambda: json.dumps(call(vmm, frame(GUEST_INFO, snp_h)),
                                           default=lambda b: None))
    finally:
        os.chmod(vmm, 0o600)
        for d, m in modes:
            os.chmod(d, m)
    a = json.loads(out) if out.startswith("{") else {"error": out}
    check(a["error"] == -13 and "root" in a.get("reason", "") and a.get("asid") == 0,
          f"uid 65534 with the mode opened: {out}")
    return needed


def metrics(api):
    st, text = unix_request(api, "GET", "/metrics")
    check(st == 200, f"/metrics: {st}")
    got = {}
    for line in text.splitlines():
        if line.startswith("sevd_vmm_requests_total{"):
            k, v = line.rsplit(" ", 1)
            got[k] = int(v)
    return got


def sev_run(api, vmm, h, nonce, out, certs=None, want=0):
    argv = [os.environ["SEV_RUN_EXE"], "--daemon", "unix:" + api, "--snp-report", str(h),
            "--nonce", nonce, "--outfile", out, "--vmm", "unix:" + vmm]
    if certs:
        argv += ["--certs", certs]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    check(p.returncode == want, f"sev-run --snp-report: exit {p.returncode}, want {want}:\n"
          f"{p.stdout}{p.stderr}")
    return p


def main_body(tmp, procs):
    emu = start_emu(procs, tmp, extra=["--snp"], name="emu")
    _, kds = start_kds(procs, tmp, os.path.join(tmp, "emu-nv.bin"))
    _, api = start_sevd(procs, tmp, emu)
    vmm = os.path.join(tmp, "sevd-state", "vmm.sock")
    check(os.path.exists(vmm) and os.stat(vmm).st_mode & 0o777 == 0o600,
          "sevd made no 0600 STATE_DIR/vmm.sock")

    # The host's certificate table from the local KDS.
    fetched = os.path.join(tmp, "fetched")
    sevadm(api, "snp", "fetch", "--out", fetched, "--kds-url", kds, "--cache",
           os.path.join(tmp, "cache"))
    sevadm(api, "snp", "certs", "import", fetched)
    st, t = unix_request(api, "GET", "/v1/snp/certs")
    check(st == 200 and t["source"] == "upload", f"the imported table: {st} {t}")

    # The guest: three image pages, a secrets page after them, an ID block over the digest
    # computed here.
    image = bytes((i * 29 + 7) & 0xff for i in range(3 * PAGE))
    img = os.path.join(tmp, "image.bin")
    open(img, "wb").write(image)
    d = Digest()
    for i in range(0, len(image), PAGE):
        d.page("normal", i, image[i:i + PAGE])
    d.page("secrets", SECRETS_GPA)
    snp_id_block(tmp, d.d, POLICY, "e2e")
    p = sevadm(api, "launch", "--snp", img, "--policy", hex(POLICY), "--name", "e2e",
               "--memory-size", str(1 << 20), "--secrets-gpa", hex(SECRETS_GPA), "--id-block",
               os.path.join(tmp, "id-e2e"))
    h, digest = p.stdout.split()
    h = int(h)
    check(digest == d.d.hex(), f"sevadm printed {digest}, computed {d.d.hex()}")
    st, g = unix_request(api, "GET", f"/v1/guests/{h}")
    check(st == 200 and g["state"] == "RUNNING" and g["type"] == "snp", f"the guest: {g}")
    a = call(vmm, frame(GUEST_INFO, h))
    check(a["error"] == 0 and a["asid"] == g["asid"] and a["ctx"] and a["emu"] == emu,
          f"guest-info: {a}")

    needed = refusals(api, vmm, tmp, h, img)

    # The guest's extended request through sev-run.
    nonce = os.urandom(64).hex()
    rep, certs = os.path.join(tmp, "report.bin"), os.path.join(tmp, "certs")
    p = sev_run(api, vmm, h, nonce, rep, certs)
    check(p.stdout.strip() == d.d.hex(), f"sev-run printed {p.stdout!r}, not the digest")
    check(f"needs {needed} bytes" in p.stderr, f"sev-run did not grow its buffer:\n{p.stderr}")
    report = open(rep, "rb").read()
    check(len(report) == 1184 and report[0x50:0x90].hex() == nonce and
          report[0x90:0xC0] == d.d, "the report's REPORT_DATA or MEASUREMENT")
    check(sorted(os.listdir(certs)) == ["ark.pem", "ask.pem", "cert-table.bin", "vcek.pem"],
          f"--certs wrote {sorted(os.listdir(certs))}")
    check(os.path.getsize(os.path.join(certs, "cert-table.bin")) == needed,
          "the table is not as long as the INVALID_LEN answer said")
    for n in ("ark.pem", "ask.pem", "vcek.pem"):
        check(open(os.path.join(certs, n)).read() == open(os.path.join(fetched, n)).read(),
              f"{n} of the guest's table is not the imported one")

    ark = os.path.join(fetched, "ark.pem")
    p = subprocess.run([os.environ["SEVADM_EXE"], "verify", "report", rep, "--certs", certs,
                        "--emulator-root", ark, "--nonce", nonce, "--measurement", d.d.hex()],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"verify report: {p.returncode}\n{p.stdout}{p.stderr}")
    p = subprocess.run([os.environ["SEVADM_EXE"], "verify", "report", rep, "--certs", certs,
                        "--emulator-root", ark, "--nonce", "00" * 64, "--measurement",
                        d.d.hex()], capture_output=True, text=True, timeout=120)
    check(p.returncode != 0, "verify report accepted another nonce")

    # The same sequence number again: firmware refuses the replay by name.
    p = sev_run(api, vmm, h, nonce, os.path.join(tmp, "again.bin"), want=1)
    check("AEAD_OFLOW" in p.stderr and not os.path.exists(os.path.join(tmp, "again.bin")),
          f"a replayed sequence number:\n{p.stderr}")
    p = sev_run(api, vmm, h, "ab" * 31, os.path.join(tmp, "short.bin"), want=2)
    check("--nonce" in p.stderr and "128 hex digits" in p.stderr, f"a short nonce: {p.stderr}")

    p = sevadm(api, "attest", str(h), want=1)
    check("VMPCK" in p.stderr and "sev-run" in p.stderr and "--snp-report" in p.stderr and
          "snpguest" in p.stderr, f"sevadm attest on an SNP guest:\n{p.stderr}")

    m = metrics(api)
    for key, least in (('type="malformed",result="malformed"', 4),
                       ('type="guest-request",result="refused"', 2),
                       ('type="guest-request",result="firmware_error"', 2),
                       ('type="ext-guest-request",result="invalid_len"', 2),
                       ('type="ext-guest-request",result="ok"', 1),
                       ('type="guest-info",result="refused"', 1)):
        k = "sevd_vmm_requests_total{" + key + "}"
        check(m.get(k, 0) >= least, f"/metrics {k} = {m.get(k)}, want >= {least}: {m}")

    st, r = unix_request(api, "DELETE", f"/v1/guests/{h}")
    check(st == 200, f"decommission: {st} {r}")
    st, r = unix_request(api, "GET", "/v1/asids")
    # Back in the pool: held by no one, waiting for the SNP_DF_FLUSH before its next guest.
    check(st == 200 and r["holders"] == [] and r["used"] == 0 and g["asid"] in r["pending"],
          f"the ASID is not back in /v1/asids: {r}")
    a = call(vmm, frame(GUEST_INFO, h))
    check(a["error"] == -2, f"guest-info after DELETE: {a}")
    kvm_guest(tmp, api, vmm, certs)


def guest_certs(lines, api):
    """The certificate table the tiny guest walked in its own buffer (its SNP-CERT lines) is
    the host's, entry for entry, and its buffer was sized from the VMM's INVALID_LEN answer."""
    st, t = unix_request(api, "GET", "/v1/snp/certs")
    check(st == 200 and t.get("entries"), f"GET /v1/snp/certs: {st} {t}")
    pages = -(-t["size"] // PAGE)
    check(lines.get("SNP-CERTS-PAGES") == [str(pages)],
          f"the guest sized its certificate buffer {lines.get('SNP-CERTS-PAGES')} pages, the "
          f"host's {t['size']}-byte table needs {pages}")
    want = []
    for e in t["entries"]:
        der = base64.b64decode(e["der"])
        want.append(f"{uuid.UUID(e['guid']).hex} {e['length']} {der[:8].hex()}")
    check(lines.get("SNP-CERT", []) == want,
          f"the guest's certificate table {lines.get('SNP-CERT')} is not the host's {want}")
    check(lines.get("SNP-CERTS") == [str(len(want))],
          f"the guest counted {lines.get('SNP-CERTS')} entries, the host holds {len(want)}")


def kvm_guest(tmp, api, vmm, certs):
    """The SNP tiny guest under /dev/kvm asks for its own report and the host's certificates
    (sev-run --snp-guest; the extended guest request, an empty buffer first): the digest it
    prints is the launch digest sevd answers, the table it walks in its memory is the host's,
    and the report verifies with it."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP the tiny guest's own report: no usable /dev/kvm on this host")
        return
    binf = os.path.join(os.environ["SEVD_BUILD_ROOT"], "hv-glue", "sev-snp-guest.bin")
    code = open(binf, "rb").read()
    image = bytes(0x10000) + code + bytes(-len(code) % PAGE)  # the guest at GPA 0x10000
    img = os.path.join(tmp, "tiny.bin")
    open(img, "wb").write(image)
    p = sevadm(api, "launch", "--snp", img, "--policy", hex(POLICY), "--name", "tiny",
               "--memory-size", str(1 << 20), "--secrets-gpa", "0x31000")
    h, digest = p.stdout.split()
    st, m = unix_request(api, "GET", f"/v1/guests/{h}/measurement")
    check(st == 200 and m["launch_digest"] == digest, f"measurement of the tiny guest: {m}")
    rep = os.path.join(tmp, "tiny-report.bin")
    gcerts = os.path.join(tmp, "tiny-certs")
    p = subprocess.run([os.environ["SEV_RUN_EXE"], "--daemon", "unix:" + api, "--snp-guest", h,
                        "--image", binf, "--outfile", rep, "--vmm", "unix:" + vmm,
                        "--certs", gcerts],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"sev-run --snp-guest: exit {p.returncode}:\n{p.stdout}{p.stderr}")
    lines = {}
    for x in p.stdout.splitlines():
        if x.startswith("SNP-"):
            k, _, v = x.partition(" ")
            lines.setdefault(k, []).append(v)
    check(lines.get("SNP-MEASUREMENT") == [m["launch_digest"]],
          f"the guest printed {lines}, sevd's launch digest is {m['launch_digest']}")
    check("too small" in p.stderr, f"the VMM side did not answer INVALID_LEN first:\n{p.stderr}")
    guest_certs(lines, api)
    nonce = lines.get("SNP-NONCE", [""])[0]
    report = open(rep, "rb").read()
    check(len(report) == 1184 and report[0x50:0x90].hex() == nonce,
          "the report's REPORT_DATA is not the nonce the guest printed")
    p = subprocess.run([os.environ["SEVADM_EXE"], "verify", "report", rep, "--certs", gcerts,
                        "--emulator-root", os.path.join(certs, "ark.pem"), "--nonce", nonce,
                        "--measurement", m["launch_digest"]],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"verify report (tiny guest): {p.returncode}\n{p.stdout}{p.stderr}")
    st, r = unix_request(api, "DELETE", f"/v1/guests/{h}")
    check(st == 200, f"decommission of the tiny guest: {st} {r}")


def main():
    why = need_env("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVADM_EXE", "SEV_RUN_EXE")
    if why:
        print(f"SKIP: {why}")
        sys.exit(77)
    if os.geteuid() != 0:
        print("SKIP: the VMM socket serves root only; run as root (CI does)")
        sys.exit(77)
    procs = Procs()
    with tempfile.TemporaryDirectory(prefix="sevd-snpe2e-") as tmp:
        try:
            main_body(tmp, procs)
        finally:
            procs.stop_all()
    print("SNP end to end: certificate table, ID block launch, guest request through the VMM "
          "socket, report verified, refusals named")


if __name__ == "__main__":
    main()
