#!/usr/bin/env python3
"""The ARK's CRL through the real sev-psp-emu --snp, sev-kds-emu, sevd and sevadm.

sev-kds-emu serves /vcek/v1/Milan/crl (DER, issued and RSASSA-PSS-signed by the emulated ARK);
`sevadm snp fetch --crl` checks it against the ARK, ASK and VCEK it fetched and writes crl.der
and crl.pem; `sevadm snp certs import` carries crl.pem into the host's certificate table,
where sevd checks it as it checks the chain, and export gives it back. Refused, naming why,
with the host's table left as it was: a CRL that lists the ASK (sev-kds-emu --crl-revoke-ask)
both by fetch and by import, and a CRL issued by another key. Exit 77 only outside meson."""

import base64
import os
import shutil
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (check, run_test, sevadm_text as sevadm, start_emu,  # noqa: E402
                      start_kds, start_sevd, unix_request, wait_certs, wait_for)


def openssl(*args):
    return subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def table(api):
    st, t = unix_request(api, "GET", "/v1/snp/certs")
    check(st == 200, f"GET /v1/snp/certs: {st} {t}")
    return t


def crl_entry(t):
    es = [e for e in t.get("entries", []) if e["name"] == "crl"]
    return base64.b64decode(es[0]["der"]) if es else None


def revoking_kds(procs, tmp, nv):
    exe = os.path.join(os.environ["SEVD_BUILD_ROOT"], "psp", "emu", "sev-kds-emu")
    pf = os.path.join(tmp, "kds-revoke.port")
    procs.start([exe, "--nv", nv, "--port-file", pf, "--crl-revoke-ask"],
                os.path.join(tmp, "kds-revoke.log"))
    wait_for("the revoking sev-kds-emu's port", lambda: os.path.exists(pf) and
             open(pf).read().strip() != "", 60)
    return "http://127.0.0.1:" + open(pf).read().strip()


def refused_import(api, tmp, good, name, crl_pem, want):
    d = os.path.join(tmp, name)
    shutil.copytree(good, d)
    with open(os.path.join(d, "crl.pem"), "wb") as f:
        f.write(crl_pem)
    before = table(api)
    _, err = sevadm(api, "snp", "certs", "import", d, want=1)
    check(want in err, f"import of a table with {name}: {err!r} does not say {want!r}")
    after = table(api)
    check(after["entries"] == before["entries"], f"the refused import ({name}) changed the "
          f"table: {after}")


def run(procs, tmp):
    emu = start_emu(procs, tmp, extra=["--snp"])
    nv = os.path.join(tmp, "emu-nv.bin")
    _, api = start_sevd(procs, tmp, emu)
    wait_certs(api)
    _, kds = start_kds(procs, tmp, nv)

    # The KDS's CRL, as a client sees it: DER, AMD's media type, issued by the emulated ARK.
    with urllib.request.urlopen(kds + "/vcek/v1/Milan/crl", timeout=30) as r:
        check(r.headers["Content-Type"] == "application/pkix-crl", f"type {r.headers}")
        der = r.read()
    out = os.path.join(tmp, "fetched")
    sevadm(api, "snp", "fetch", "--crl", "--out", out, "--kds-url", kds, "--cache",
           os.path.join(tmp, "cache"))
    got = open(os.path.join(out, "crl.der"), "rb").read()
    check(got == der, "crl.der is not the KDS's CRL")
    text = openssl("crl", "-in", os.path.join(out, "crl.pem"), "-noout", "-text").stdout.decode()
    check("ARK-Milan" in text and "rsassaPss" in text and "No Revoked Certificates" in text,
          f"crl.pem:\n{text}")

    # Imported with the chain: the table holds it, export gives it back.
    sevadm(api, "snp", "certs", "import", out)
    check(crl_entry(table(api)) == der, f"the table holds no CRL entry equal to the KDS's: "
          f"{table(api)}")
    exp = os.path.join(tmp, "exported")
    sevadm(api, "snp", "certs", "export", exp)
    back = openssl("crl", "-in", os.path.join(exp, "crl.pem"), "-outform", "DER").stdout
    check(back == der, "export's crl.pem is not the table's CRL")

    # A CRL that lists the ASK: fetch refuses it, and so does sevd when it is imported.
    rkds = revoking_kds(procs, tmp, nv)
    bad = os.path.join(tmp, "fetched-revoked")
    _, err = sevadm(api, "snp", "fetch", "--crl", "--out", bad, "--kds-url", rkds, "--cache",
                    os.path.join(tmp, "cache-revoked"), want=1)
    check("the ASK is revoked" in err and not os.path.exists(os.path.join(bad, "crl.der")),
          f"fetch of a CRL listing the ASK: {err!r}")
    with urllib.request.urlopen(rkds + "/vcek/v1/Milan/crl", timeout=30) as r:
        revoked = r.read()
    p = subprocess.run(["openssl", "crl", "-inform", "DER", "-outform", "PEM"], input=revoked,
                       capture_output=True, check=True, timeout=60)
    refused_import(api, tmp, out, "revoked", p.stdout, "the ASK is revoked")

    # A CRL issued by a key that is not the ARK, under the ARK's name.
    key, ca = os.path.join(tmp, "other.key"), os.path.join(tmp, "other.crt")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", ca,
            "-days", "2", "-subj", "/OU=Engineering/C=US/L=Santa Clara/ST=CA/"
            "O=sev-psp-emu (emulated, not AMD)/CN=ARK-Milan")
    cnf = os.path.join(tmp, "ca.cnf")
    db = os.path.join(tmp, "index.txt")
    open(db, "w").close()
    with open(cnf, "w") as f:
        f.write(f"[ca]\ndefault_ca = c\n[c]\ndatabase = {db}\ndefault_md = sha384\n"
                "default_crl_days = 2\n")
    forged = openssl("ca", "-config", cnf, "-gencrl", "-keyfile", key, "-cert", ca).stdout
    refused_import(api, tmp, out, "forged", forged, "signature does not verify")


def main():
    run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVD_BUILD_ROOT", "SEVADM_EXE"), "sevd-snpcrl-",
             run, "the ARK's CRL: fetched, checked, imported, exported; revoked and forged "
             "ones refused by name")


if __name__ == "__main__":
    main()
