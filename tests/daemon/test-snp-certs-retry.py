#!/usr/bin/env python3
"""The SNP certificate table's fetch at start retries in the background: the real
sev-psp-emu --snp started with its key server refusing (--snp-cert-refuse: CTL `snp-cert`
answers EAGAIN, as a key server still making its RSA-4096 root or an unreachable KDS would),
sevd and sevadm.

Checks: sevd starts and serves while the key server refuses; GET /v1/snp/certs answers source
none with "pending" (state, from the emulator's key server, attempts, retry_in_s, the last
error naming the refusal); the attempts back off (the fourth starts at least 1 + 2 + 4 s after
the first); ?format=table is 404 saying the table is being fetched; `sevadm ok`'s SNP
certificates line FAILs saying pending and naming the fix (sevadm snp certs import). Once the
key server answers (CTL `snp-cert-refuse off`) the table arrives in the same sevd process
without a restart (source kds, ARK, ASK, VCEK) and `sevadm ok` passes it; the log has the
first failure and the success once each, not each retry. A table PUT while the fetch is
pending is kept and never overwritten by the fetch once the key server answers. A sevd whose
fetch is pending stops on SIGTERM at once with exit 0. Exit 77 only when run outside meson."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (check, emu_ctl, log_of, run_test, snp_certs_pending,  # noqa: E402
                      start_emu, start_sevd, unix_raw_get, unix_request, wait_certs,
                      wait_for)






def ok_line(api):
    p = subprocess.run([os.environ["SEVADM_EXE"], "--daemon", "unix:" + api, "ok"],
                       capture_output=True, text=True, timeout=120)
    line = [x for x in p.stdout.splitlines() if "SNP certificates" in x]
    check(len(line) == 1, f"sevadm ok has no one SNP certificates line:\n{p.stdout}{p.stderr}")
    return p.returncode, line[0]




def retry(procs, tmp, emu):
    t0 = time.monotonic()
    sevd, api = start_sevd(procs, tmp, emu)
    t = snp_certs_pending(api, 1)
    p = t["pending"]
    check(t["source"] == "none" and t["entries"] == [] and t["size"] == 0, f"pending: {t}")
    check(p["state"] in ("fetching", "waiting") and "emulator" in p["from"] and
          0 <= p["retry_in_s"] <= 60 and "not ready" in p["last_error"] and
          "snp-cert" in p["last_error"], f"pending: {p}")
    st, r = unix_request(api, "GET", "/v1/snp/certs?format=table")
    msg = r["error"]["message"] if isinstance(r, dict) and "error" in r else str(r)
    check(st == 404 and "being fetched" in msg and "not ready" in msg and
          "sevadm snp certs import" in msg, f"format=table while pending: {st} {r}")
    rc, line = ok_line(api)
    check(rc == 1 and "FAIL" in line and "pending" in line and "emulator" in line and
          "sevadm snp certs import" in line, f"sevadm ok while pending: {line}")
    # Backoff: 1 s, 2 s, 4 s between the first four attempts (with no backoff, 3 s).
    snp_certs_pending(api, 4)
    took = time.monotonic() - t0
    check(took >= 7.0, f"the fourth attempt came {took:.1f} s after the start: no backoff")

    err, out = emu_ctl(emu, "snp-cert-refuse off")
    check(err == 0, f"snp-cert-refuse off: {err} {out!r}")
    t = wait_certs(api, 150)
    names = sorted(e["name"] for e in t["entries"])
    check(t["source"] == "kds" and names == ["ark", "ask", "vcek"], f"after the retry: {t}")
    check(sevd.poll() is None, "sevd restarted or exited")
    rc, line = ok_line(api)
    check("PASS" in line and "source kds" in line, f"sevadm ok with the table: {line}")
    log = log_of(tmp, "sevd")
    first = log.count("No SNP certificate table yet")
    won = log.count("from the emulator's key server (")
    check(first == 1 and won == 1, f"the log has {first} first failures and {won} successes")
    st, _, table = unix_raw_get(api, "/v1/snp/certs?format=table")
    check(st == 200 and len(table) == t["size"], f"the table: {st}")
    procs.stop(sevd)
    return table, [e["pem"] for e in t["entries"] if e["name"] == "ark"][0]




def put_wins(procs, tmp, emu, table, ark):
    err, _ = emu_ctl(emu, "snp-cert-refuse on")
    check(err == 0, f"snp-cert-refuse on: {err}")
    # The key server refuses the ARK too: the PUT's root comes from sevd.conf roots_dir.
    os.makedirs(os.path.join(tmp, "roots", "snp", "milan"))
    with open(os.path.join(tmp, "roots", "snp", "milan", "ark.pem"), "w") as f:
        f.write(ark)
    conf = os.path.join(tmp, "sevd2.conf")
    with open(conf, "w") as f:
        f.write(f"roots_dir = {os.path.join(tmp, 'roots')}\n")
    sevd, api = start_sevd(procs, tmp, emu, extra=["--config", conf], name="sevd2")
    snp_certs_pending(api, 1)
    st, o = unix_request(api, "PUT", "/v1/snp/certs?format=table", table)
    check(st == 200 and o["source"] == "upload" and "pending" not in o, f"PUT: {st} {o}")
    check(emu_ctl(emu, "snp-cert-refuse off")[0] == 0, "snp-cert-refuse off")
    # The fetch stopped at the PUT: past its next retry (at most 2 s after the first two
    # attempts), the table is still the upload and the log has no success of the fetch.
    time.sleep(4)
    st, o = unix_request(api, "GET", "/v1/snp/certs")
    check(st == 200 and o["source"] == "upload" and "pending" not in o, f"after PUT: {st} {o}")
    check("from the emulator's key server (" not in log_of(tmp, "sevd2"),
          "the fetch overwrote or raced a PUT table")
    procs.stop(sevd)


def stops(procs, tmp, emu):
    check(emu_ctl(emu, "snp-cert-refuse on")[0] == 0, "snp-cert-refuse on")
    sevd, api = start_sevd(procs, tmp, emu, name="sevd3")
    snp_certs_pending(api, 1)
    t0 = time.monotonic()
    rc = procs.stop(sevd, timeout=30)
    took = time.monotonic() - t0
    check(rc == 0 and took < 15, f"sevd with a pending fetch stopped with {rc} in {took:.1f} s")


def main():
    def body(procs, tmp):
        emu = start_emu(procs, tmp, extra=["--snp", "--snp-cert-refuse"], name="emu")
        table, ark = retry(procs, tmp, emu)
        put_wins(procs, tmp, emu, table, ark)
        stops(procs, tmp, emu)
    run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVADM_EXE"), "sevd-snpcerts-retry-", body,
             "SNP certificate table at start: pending while refused, retried with backoff, "
             "arrives without a restart; a PUT wins; a pending fetch stops at shutdown")


if __name__ == "__main__":
    main()
