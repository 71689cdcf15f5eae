#!/usr/bin/env python3
"""The host's SEV-SNP certificate table: GET/PUT/DELETE /v1/snp/certs against the
real sev-psp-emu --snp, sevd and sev-kds-emu (the emulator's local KDS, started on the same NV
file: the test's independent source of the chip's VCEK).

Checks: on a fresh host sevd holds the chip's VCEK for its reported TCB from the start
(source kds, once its background fetch at start is over: sevdtest.wait_certs), byte for byte the certificate sev-kds-emu serves at AMD's path for GET
/v1/platform/id's hwID and GET /v1/snp/platform's reported TCB, with the ASK and ARK of its
cert_chain; ?format=table answers the GHCB table, whose entries this test parses itself (24-byte
{GUID, offset, length}, an all-zero entry) and finds equal to the JSON's. PUT of the same chain
in PEM with a GUID-keyed extra entry is kept (source upload) in the state directory's
snp-certs.bin and survives a restart of sevd; PUT of a chain that does not verify is refused
422 naming why (an ASK that is the ARK, a VCEK for another TCB, an ARK that is not the
configured root), a malformed table or body 400 naming the field, and a refused PUT changes
nothing; the reader (a setuid nobody client on the Unix socket) may GET but not PUT or
DELETE; DELETE removes table and file, and the next start fetches the VCEK again. Exit 77
only when run outside meson."""

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (check, run_test, start_emu, start_kds, start_sevd,  # noqa: E402
                      unix_request, wait_certs)

GUIDS = {"vcek": "63da758d-e664-4564-adc5-f4b93be8accd",
         "vlek": "a8074bc2-a25a-483e-aae6-39c045a0b8a1",
         "ask": "4ab7b379-bbac-4fe4-a02f-05aef327c782",
         "ark": "c0b406a4-a803-4952-9743-3fb6014cd0ae"}


def raw_request(path, method, url, body=None):
    """(status, content type, bytes) over the Unix socket as root (admin)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    class C(http.client.HTTPConnection):
        def connect(self):
            self.sock = s
    s.settimeout(30)
    s.connect(path)
    c = C("localhost")
    try:
        c.request(method, url, body=body)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        c.close()


def parse_table(b):
    """The GHCB table, parsed here: [(guid text, bytes)]."""
    out, i = [], 0
    while True:
        e = b[i * 24:(i + 1) * 24]
        check(len(e) == 24, "table without its all-zero entry")
        if e == b"\0" * 24:
            return out
        off, ln = int.from_bytes(e[16:20], "little"), int.from_bytes(e[20:24], "little")
        check(off >= (i + 1) * 24 and off + ln <= len(b), f"entry {i} outside the table")
        out.append((str(uuid.UUID(bytes=e[:16])), b[off:off + ln]))
        i += 1


def build_table(entries):
    head, data = b"", b""
    off = (len(entries) + 1) * 24
    for g, d in entries:
        head += uuid.UUID(g).bytes + (off + len(data)).to_bytes(4, "little") + \
            len(d).to_bytes(4, "little")
        data += d
    return head + b"\0" * 24 + data


def pem(der, label="CERTIFICATE"):
    b = base64.b64encode(der).decode()
    return f"-----BEGIN {label}-----\n" + "\n".join(b[i:i + 64] for i in range(0, len(b), 64)) \
        + f"\n-----END {label}-----\n"


def kds_get(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return r.read()


def kds_certs(api, kds, tcb=None):
    """The chip's VCEK (for its reported TCB, or tcb) and the ASK and ARK, from the KDS."""
    st, s = unix_request(api, "GET", "/v1/snp/platform")
    check(st == 200, f"snp platform: {st} {s}")
    st, i = unix_request(api, "GET", "/v1/platform/id")
    check(st == 200, f"platform id: {st} {i}")
    t = tcb or s["reported_tcb"]
    vcek = kds_get(kds, f"/vcek/v1/Milan/{i['id']}?blSPL={t['bootloader']}&teeSPL={t['tee']}"
                   f"&snpSPL={t['snp']}&ucodeSPL={t['microcode']}")
    chain = kds_get(kds, "/vcek/v1/Milan/cert_chain").decode()
    blocks = ["-----BEGIN" + x for x in chain.split("-----BEGIN")[1:]]
    check(len(blocks) == 2, f"cert_chain: {len(blocks)} certificates")
    ders = [base64.b64decode("".join(b.strip().split("\n")[1:-1])) for b in blocks]
    return vcek, ders[0], ders[1]  # AMD's order: the ASK, then the ARK


def pubkey(tmp, der):
    f = os.path.join(tmp, "cert.der")
    with open(f, "wb") as o:
        o.write(der)
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-in", f, "-noout", "-pubkey",
                        "-subject"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, f"openssl x509: {p.stderr}")
    return p.stdout


def get_json(api):
    st, o = unix_request(api, "GET", "/v1/snp/certs")
    check(st == 200, f"GET /v1/snp/certs: {st} {o}")
    return o


def by_name(o):
    return {e["name"]: base64.b64decode(e["der"]) for e in o["entries"]}


def status_expecting(path, method, url, body):
    """The status of a request with a body sent as curl sends one: headers with
    `Expect: 100-continue`, the body only after the server's 100. A server that refuses on
    the headers answers without reading the body; had the body been sent, its close with
    the body unread could reset the connection before the client read the answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect(path)
        data = body.encode()
        s.sendall(f"{method} {url} HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                  f"application/json\r\nContent-Length: {len(data)}\r\n"
                  "Expect: 100-continue\r\n\r\n".encode())
        f = s.makefile("rb")
        st = int(f.readline().split()[1])
        if st == 100:
            while f.readline() not in (b"\r\n", b""):
                pass
            s.sendall(data)
            st = int(f.readline().split()[1])
        return st
    finally:
        s.close()


def as_nobody(api, method, url, body=None):
    """The Unix socket's reader: a forked child as uid/gid nobody; its HTTP status."""
    os.chmod(os.path.dirname(api), 0o755)
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        st = "0"
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            st = str(status_expecting(api, method, url, body) if body is not None
                     else raw_request(api, method, url)[0])
        except Exception as e:  # the parent's check names it
            st = f"0 {type(e).__name__}: {e}"
        finally:
            os.write(wfd, st.encode())
            os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd) as f:
        out = f.read()
    os.waitpid(pid, 0)
    check(out[:1].isdigit() and out.split()[0] != "0", f"{method} {url} as nobody: {out!r}")
    return int(out.split()[0])


def fresh(procs, tmp, emu, kds):
    sevd, api = start_sevd(procs, tmp, emu)
    o = wait_certs(api)
    vcek, ask, ark = kds_certs(api, kds)
    n = by_name(o)
    check(o["source"] == "kds" and set(n) == {"ark", "ask", "vcek"},
          f"fresh host: {o['source']} {sorted(n)}")
    check(n["ask"] == ask and n["ark"] == ark, "the table's ASK/ARK are not the KDS's")
    # The KDS signs each VCEK it issues anew (RSASSA-PSS is randomized): the same key and
    # subject, for the same chip and TCB, is the same certificate.
    check(pubkey(tmp, n["vcek"]) == pubkey(tmp, vcek) and n["vcek"] != b"",
          "the table's VCEK is not the KDS's for this chip and reported TCB")
    check(all(e["pem"].startswith("-----BEGIN CERTIFICATE-----") for e in o["entries"]), "pem")
    st, ct, b = raw_request(api, "GET", "/v1/snp/certs?format=table")
    check(st == 200 and ct.startswith("application/octet-stream") and len(b) == o["size"],
          f"format=table: {st} {ct} {len(b)}")
    t = parse_table(b)
    check({g: d for g, d in t} == {GUIDS[k]: v for k, v in n.items()},
          "the binary table's entries differ from the JSON's")
    st, r = unix_request(api, "GET", "/v1/snp/certs?format=xml")
    check(st == 400 and "format" in r["error"]["message"], f"format=xml: {st} {r}")
    return sevd, api, (vcek, ask, ark)


def refusals(api, kds, certs):
    vcek, ask, ark = certs
    before = raw_request(api, "GET", "/v1/snp/certs?format=table")[2]

    def put(body, want, words, fmt=""):
        st, r = unix_request(api, "PUT", "/v1/snp/certs" + fmt, body)
        msg = r["error"]["message"] if isinstance(r, dict) and "error" in r else str(r)
        check(st == want and all(w in msg for w in words), f"PUT {str(body)[:60]}: {st} {r}")
        check(raw_request(api, "GET", "/v1/snp/certs?format=table")[2] == before,
              "a refused PUT changed the table")

    good = {"ark": pem(ark), "ask": pem(ask), "vcek": pem(vcek)}
    put(json.dumps(dict(good, ask=pem(ark))), 422, ["ASK"])
    other = kds_certs(api, kds, {"bootloader": 1, "tee": 0, "snp": 1, "microcode": 1})[0]
    put(json.dumps(dict(good, vcek=pem(other))), 422, ["not this chip's", "TCB"])
    put(json.dumps(dict(good, ark=pem(ask))), 422, ["ARK"])
    put(json.dumps({"ark": pem(ark), "ask": pem(ask)}), 400, ["VCEK"])
    put(json.dumps(dict(good, vlek=pem(vcek))), 400, ["exactly one"])
    put(json.dumps(dict(good, colour="red")), 400, ["colour"])
    put(json.dumps(dict(good, ask="%%%")), 400, ["ask"])
    put(json.dumps(dict(good, asvk=pem(ask))), 400, ["asvk"])
    put(json.dumps(dict(good, extra={"not-a-guid": "AA=="})), 400, ["extra.not-a-guid"])
    put(b"\x01" * 100, 400, ["certificate table"], "?format=table")
    bad = bytearray(build_table([(GUIDS["ark"], ark)]))
    bad[16:20] = (5000).to_bytes(4, "little")
    put(bytes(bad), 400, ["entry 0"], "?format=table")
    check(as_nobody(api, "GET", "/v1/snp/certs") == 200, "reader cannot GET")
    st = as_nobody(api, "PUT", "/v1/snp/certs", json.dumps(good))
    check(st == 403, f"reader PUT: {st}")
    check(as_nobody(api, "DELETE", "/v1/snp/certs") == 403, "reader DELETE")


def upload(procs, tmp, emu, sevd, api, certs):
    vcek, ask, ark = certs
    extra_guid = "11111111-2222-3333-4444-555555555555"
    body = {"ark": pem(ark), "ask": base64.b64encode(ask).decode(), "vcek": pem(vcek),
            "extra": {extra_guid: base64.b64encode(b"host data").decode()}}
    st, o = unix_request(api, "PUT", "/v1/snp/certs", json.dumps(body))
    check(st == 200 and o["source"] == "upload", f"PUT: {st} {o}")
    n = {e["name"]: e for e in o["entries"]}
    check(n["extra"]["guid"] == extra_guid and "pem" not in n["extra"] and
          base64.b64decode(n["extra"]["der"]) == b"host data", f"extra entry: {n.get('extra')}")
    kept = os.path.join(tmp, "sevd-state", "snp-certs.bin")
    table = raw_request(api, "GET", "/v1/snp/certs?format=table")[2]
    check(open(kept, "rb").read() == table, "snp-certs.bin is not the table served")
    # The binary form: the same table PUT back as bytes.
    st, ct, b = raw_request(api, "PUT", "/v1/snp/certs?format=table", table)
    check(st == 200, f"PUT format=table: {st} {b[:200]}")
    procs.stop(sevd)
    sevd, api = start_sevd(procs, tmp, emu)
    o = get_json(api)
    check(o["source"] == "upload" and
          raw_request(api, "GET", "/v1/snp/certs?format=table")[2] == table,
          f"the uploaded table did not survive a restart: {o['source']}")
    return sevd, api


def delete(procs, tmp, emu, sevd, api):
    st, o = unix_request(api, "DELETE", "/v1/snp/certs")
    check(st == 200 and o["source"] == "none" and o["entries"] == [], f"DELETE: {st} {o}")
    check(not os.path.exists(os.path.join(tmp, "sevd-state", "snp-certs.bin")), "file kept")
    o = get_json(api)
    check(o["source"] == "none" and o["size"] == 0, f"after DELETE: {o}")
    st, ct, b = raw_request(api, "GET", "/v1/snp/certs?format=table")
    check(st == 404 and "PUT /v1/snp/certs" in json.loads(b)["error"]["message"], f"format=table with none: {st} {b}")
    procs.stop(sevd)
    sevd, api = start_sevd(procs, tmp, emu)
    check(wait_certs(api)["source"] == "kds", "after DELETE and a restart: not fetched again")
    procs.stop(sevd)


def main():
    def body(procs, tmp):
        emu = start_emu(procs, tmp, extra=["--snp"], name="emu")
        _, kds = start_kds(procs, tmp, os.path.join(tmp, "emu-nv.bin"))
        sevd, api, certs = fresh(procs, tmp, emu, kds)
        refusals(api, kds, certs)
        sevd, api = upload(procs, tmp, emu, sevd, api, certs)
        delete(procs, tmp, emu, sevd, api)
    run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVD_BUILD_ROOT"), "sevd-snpcerts-", body,
             "/v1/snp/certs: the chip's VCEK from the start, uploads checked, kept and removed")


if __name__ == "__main__":
    main()
