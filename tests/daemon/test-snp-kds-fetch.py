#!/usr/bin/env python3
"""sevd.conf kds_url = http://HOST:PORT: the worker fetches the SNP certificate table from that
KDS. The real sev-psp-emu --snp with its own key server refused (--snp-cert-refuse, as a `dev`
host has none), sev-kds-emu on a loopback port serving the emulator's chip, sevd and sevadm.

Checks: with kds_url naming sev-kds-emu the table arrives (source kds: ARK, ASK, VCEK) and
`sevadm snp certs export DIR` writes a vcek.pem with the key and subject of the VCEK
sev-kds-emu serves for the chip id and reported TCB sevd reports (and its ASK and ARK); the
log names the URL. With kds_url naming a closed loopback port, GET /v1/snp/certs answers
pending, from the URL, attempts counting, and a last_error naming the URL; once sev-kds-emu
listens on that port the table arrives in the same sevd (the retry). A table PUT while that
fetch is pending is kept, and the fetch never overwrites it once sev-kds-emu listens. A
kds_url whose host cannot be resolved stops sevd at start naming kds_url and the fix. The root is sevd.conf roots_dir (the emulator's key server refuses its ARK too).
Exit 77 only when run outside meson."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (check, free_port, load_sibling, pem_der, run_test, sevadm,  # noqa: E402
                      snp_certs_pending, start_emu, start_kds, start_sevd, unix_raw_get,
                      unix_request, wait_certs, wait_for, log_of)

sc = load_sibling(__file__, "test-snp-certs.py", "snpcerts")




def conf(tmp, name, url):
    """A sevd.conf with kds_url = url and roots_dir = TMP/roots."""
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write(f"kds_url = {url}\nroots_dir = {os.path.join(tmp, 'roots')}\n")
    return path


def roots(tmp, kds):
    """TMP/roots/snp/milan/ark.pem: the ARK of sev-kds-emu's cert_chain (the ASK, then the
    ARK, as AMD serves it)."""
    chain = sc.kds_get(kds, "/vcek/v1/Milan/cert_chain").decode()
    blocks = ["-----BEGIN" + x for x in chain.split("-----BEGIN")[1:]]
    check(len(blocks) == 2, f"cert_chain: {len(blocks)} certificates")
    os.makedirs(os.path.join(tmp, "roots", "snp", "milan"), exist_ok=True)
    with open(os.path.join(tmp, "roots", "snp", "milan", "ark.pem"), "w") as f:
        f.write(blocks[1])


def fetched(procs, tmp, emu, kds):
    sevd, api = start_sevd(procs, tmp, emu, extra=["--config", conf(tmp, "one", kds)])
    t = wait_certs(api, 240)
    check(t["source"] == "kds" and sorted(e["name"] for e in t["entries"]) ==
          ["ark", "ask", "vcek"], f"kds_url = {kds}: {t}")
    vcek, ask, ark = sc.kds_certs(api, kds)
    out = os.path.join(tmp, "export")
    sevadm(api, "snp", "certs", "export", out)
    # sev-kds-emu signs each answer anew: the key and subject are what name the chip's VCEK.
    check(sc.pubkey(tmp, pem_der(os.path.join(out, "vcek.pem"))) == sc.pubkey(tmp, vcek),
          "vcek.pem is not the VCEK sev-kds-emu serves for the chip and its reported TCB")
    check(pem_der(os.path.join(out, "ask.pem")) == ask and
          pem_der(os.path.join(out, "ark.pem")) == ark, "ask.pem / ark.pem differ from the KDS's")
    log = log_of(tmp, "sevd")
    check(f"with the ASK and ARK, from {kds} (" in log,
          f"the log does not name {kds} as the table's source")
    check("from the emulator's key server" not in log, "sevd fetched from the emulator")
    table = table_of(api)
    check(len(table) == t["size"], f"?format=table: {len(table)} bytes, size {t['size']}")
    procs.stop(sevd)
    return table


def table_of(api):
    """GET /v1/snp/certs?format=table: the GHCB table's bytes."""
    st, head, body = unix_raw_get(api, "/v1/snp/certs?format=table")
    check(st == 200, f"?format=table: {head[:80]!r}")
    return body




def retried(procs, tmp, emu, nv):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sevd, api = start_sevd(procs, tmp, emu, extra=["--config", conf(tmp, "two", url)],
                           name="sevd2")

    t = snp_certs_pending(api, 2, 120)
    p = t["pending"]
    check(t["source"] == "none" and t["entries"] == [] and p["from"] == url and
          url in p["last_error"] and "kds_url" in p["last_error"] and
          0 <= p["retry_in_s"] <= 60, f"pending on a closed port: {t}")
    exe = os.path.join(os.environ["SEVD_BUILD_ROOT"], "psp", "emu", "sev-kds-emu")
    procs.start([exe, "--nv", nv, "--port", str(port)], os.path.join(tmp, "kds2.log"))
    t = wait_certs(api, 240)
    check(t["source"] == "kds" and sorted(e["name"] for e in t["entries"]) ==
          ["ark", "ask", "vcek"], f"after sev-kds-emu started on {port}: {t}")
    procs.stop(sevd)


def put_wins(procs, tmp, emu, nv, table):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sevd, api = start_sevd(procs, tmp, emu, extra=["--config", conf(tmp, "three", url)],
                           name="sevd3")
    snp_certs_pending(api, 1, 120)
    st, o = unix_request(api, "PUT", "/v1/snp/certs?format=table", table)
    check(st == 200 and o["source"] == "upload" and "pending" not in o, f"PUT: {st} {o}")
    exe = os.path.join(os.environ["SEVD_BUILD_ROOT"], "psp", "emu", "sev-kds-emu")
    kds = procs.start([exe, "--nv", nv, "--port", str(port)], os.path.join(tmp, "kds3.log"))
    # Past the next retries (1 s and 2 s after the first attempts) the table is still the
    # upload, and the log has no table from the KDS.
    time.sleep(4)
    st, o = unix_request(api, "GET", "/v1/snp/certs")
    check(st == 200 and o["source"] == "upload" and "pending" not in o, f"after PUT: {st} {o}")
    check(f"with the ASK and ARK, from {url} (" not in log_of(tmp, "sevd3"),
          "the fetch overwrote or raced a PUT")
    procs.stop(sevd)
    procs.stop(kds)


def unresolvable(tmp, emu):
    url = "http://no-such-kds.invalid:8080"
    p = subprocess.run([os.environ["SEVD_EXE"], "--psp", "emu:" + emu, "--state-dir",
                        os.path.join(tmp, "bad-state"), "--listen",
                        "unix:" + os.path.join(tmp, "bad.sock"), "--config",
                        conf(tmp, "bad", url)], capture_output=True, text=True, timeout=120)
    check(p.returncode != 0 and "kds_url" in p.stderr and "no-such-kds.invalid" in p.stderr and
          "/etc/hosts" in p.stderr, f"an unresolvable kds_url: exit {p.returncode}, "
          f"{p.stderr[-2000:]!r}")


def main():
    def body(procs, tmp):
        emu = start_emu(procs, tmp, extra=["--snp", "--snp-cert-refuse"], name="emu")
        nv = os.path.join(tmp, "emu-nv.bin")
        kdsp, kds = start_kds(procs, tmp, nv)
        roots(tmp, kds)
        table = fetched(procs, tmp, emu, kds)
        procs.stop(kdsp)
        retried(procs, tmp, emu, nv)
        put_wins(procs, tmp, emu, nv, table)
        unresolvable(tmp, emu)
    run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVADM_EXE"), "sevd-kds-fetch-", body,
             "kds_url: the worker fetches the table from sev-kds-emu, retries a closed port, "
             "refuses an unresolvable host")


if __name__ == "__main__":
    main()
