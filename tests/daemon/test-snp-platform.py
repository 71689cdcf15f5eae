#!/usr/bin/env python3
"""SEV-SNP at sevd's start, against the real sev-psp-emu --snp, sevd and sevadm.

Checks: on a platform with SNP, sevd brings SNP up before the legacy INIT, in the order of
Linux's ccp driver (__sev_snp_init_locked, then __sev_platform_init_locked), and says so in
its log; GET /v1/snp/platform answers the firmware's SNP_PLATFORM_STATUS (INIT, RMP
initialized, the emulator's default TCB decoded for Milan, and for Turin with its FMC field);
SEV beside SNP still works (the SEV-ES INIT with its TMR, the certificate export into
Firmware pages); `sevadm ok` passes with its SEV-SNP and SNP TCB lines; a sevd restarted on
the initialized platform finds SNP up; `snp = off` in sevd.conf leaves SNP UNINIT and
`sevadm ok` says it is off; a platform without SNP answers 501 and `sevadm ok` has no SNP
line; sevd's embedded emulator with emu_snp = yes runs SNP too. Exit 77 only when run outside meson."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (check, run_test, start_emu, start_sevd, unix_request,  # noqa: E402
                      wait_for)


def ok(api):
    p = subprocess.run([os.environ["SEVADM_EXE"], "--daemon", "unix:" + api, "ok"],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def log_of(tmp, name):
    with open(os.path.join(tmp, name + ".log")) as f:
        return f.read()


def snp_status(api):
    st, body = unix_request(api, "GET", "/v1/snp/platform")
    check(st == 200, f"GET /v1/snp/platform: {st} {body}")
    return body


def brought_up(procs, tmp):
    emu = start_emu(procs, tmp, extra=["--snp"], name="emu")
    emu_p = procs.procs[-1]
    sevd, api = start_sevd(procs, tmp, emu)
    log = log_of(tmp, "sevd")
    snp_at = log.find("SEV-SNP initialized (WBINVD, SNP_INIT_EX with INIT_RMP, WBINVD, "
                      "SNP_DF_FLUSH)")
    init_at = log.find("Platform initialized (after SEV-SNP: INIT with SEV-ES")
    check(snp_at >= 0 and init_at > snp_at, f"SNP before INIT not in the log:\n{log}")
    s = snp_status(api)
    check(s["state"] == "INIT" and s["rmp_initialized"] and s["sevd_start"] == "initialized",
          f"SNP status {s}")
    check(s["generation"] == "Milan", f"generation {s['generation']}")
    # sev-psp-emu's default TCB: bl=3, tee=0, snp=8, ucode=115 (README-snp.md).
    want = {"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}
    for k, v in want.items():
        check(s["current_tcb"][k] == v and s["reported_tcb"][k] == v, f"TCB {k}: {s}")
    check("fmc" not in s["current_tcb"], f"Milan TCB with fmc: {s}")
    # SNP_PLATFORM_STATUS carries no committed TCB: said as null, never made up.
    check("committed_tcb" in s and s["committed_tcb"] is None, f"committed_tcb: {s}")
    st, p = unix_request(api, "GET", "/v1/platform")
    check(st == 200 and p["state"] == "INIT" and p["es"], f"SEV platform {st} {p}")
    st, certs = unix_request(api, "GET", "/v1/platform/certs")
    check(st == 200, f"certificate export with SNP up: {st} {certs}")
    rc, out = ok(api)
    check(rc == 0, f"sevadm ok failed:\n{out}")
    check("PASS ] SEV-SNP: INIT, RMP initialized" in out and "PASS ] SNP TCB" in out,
          f"sevadm ok lacks the SNP lines:\n{out}")
    # A restart on the initialized platform: SNP is found up, nothing run again.
    procs.stop(sevd)
    sevd, api = start_sevd(procs, tmp, emu, name="sevd2")
    s = snp_status(api)
    check(s["state"] == "INIT" and s["sevd_start"] == "found", f"after restart {s}")
    check("SEV-SNP: already initialized" in log_of(tmp, "sevd2"), "restart log")
    rc, out = ok(api)
    check(rc == 0, f"sevadm ok after restart:\n{out}")
    # The emulator restarts under sevd (a PSP reset): sevd brings SNP up again, then INIT.
    procs.stop(emu_p)
    emu_p = None
    start_emu(procs, tmp, extra=["--snp"], name="emu")
    emu_p = procs.procs[-1]

    def again():
        st, s = unix_request(api, "GET", "/v1/snp/platform")
        st2, p = unix_request(api, "GET", "/v1/platform")
        return st == 200 and s["state"] == "INIT" and st2 == 200 and p["state"] == "INIT"
    wait_for("SNP and SEV INIT again after the emulator restarted", again, 60)
    rc, out = ok(api)
    check(rc == 0 and "PASS ] SEV-SNP: INIT" in out, f"sevadm ok after the reset:\n{out}")
    procs.stop(sevd)


def snp_off(procs, tmp):
    emu = start_emu(procs, tmp, extra=["--snp"], name="emu-off")
    conf = os.path.join(tmp, "off.conf")
    with open(conf, "w") as f:
        f.write("snp = off\n")
    sevd, api = start_sevd(procs, tmp, emu, ["--config", conf], name="sevd-off")
    s = snp_status(api)
    check(s["state"] == "UNINIT" and s["sevd_start"] == "off", f"snp = off: {s}")
    check("SEV-SNP: off (snp = off in sevd.conf)" in log_of(tmp, "sevd-off"), "off log")
    check("after SEV-SNP" not in log_of(tmp, "sevd-off"), "SNP ran with snp = off")
    rc, out = ok(api)
    check(rc == 0 and "PASS ] SEV-SNP: off" in out, f"sevadm ok with snp = off:\n{out}")
    procs.stop(sevd)


def turin(procs, tmp):
    emu = start_emu(procs, tmp, extra=["--snp", "--snp-product", "turin", "--tcb",
                                       "fmc=1,bl=2,tee=3,snp=4,ucode=5"], name="emu-turin")
    sevd, api = start_sevd(procs, tmp, emu, name="sevd-turin")
    s = snp_status(api)
    check(s["generation"] == "Turin", f"generation {s}")
    want = {"fmc": 1, "bootloader": 2, "tee": 3, "snp": 4, "microcode": 5}
    for k, v in want.items():
        check(s["current_tcb"].get(k) == v, f"Turin TCB {k}: {s}")
    procs.stop(sevd)


def no_snp(procs, tmp):
    emu = start_emu(procs, tmp, name="emu-sev")
    sevd, api = start_sevd(procs, tmp, emu, name="sevd-sev")
    st, body = unix_request(api, "GET", "/v1/snp/platform")
    check(st == 501 and body["error"]["code"] == "unsupported" and
          "--snp" in body["error"]["message"], f"no SNP: {st} {body}")
    rc, out = ok(api)
    check(rc == 0 and "SEV-SNP" not in out, f"sevadm ok without SNP:\n{out}")
    check("SEV-SNP" not in log_of(tmp, "sevd-sev"), "SNP in a SEV-only log")
    procs.stop(sevd)


def embedded(procs, tmp):
    """sevd --psp emu with emu_snp = yes: its own emulator runs with --snp."""
    conf = os.path.join(tmp, "embedded.conf")
    with open(conf, "w") as f:
        f.write("emu_snp = yes\n")
    api, log = os.path.join(tmp, "emb.sock"), os.path.join(tmp, "sevd-emb.log")
    p = procs.start([os.environ["SEVD_EXE"], "--psp", "emu", "--config", conf, "--state-dir",
                     os.path.join(tmp, "emb-state"), "--listen", "unix:" + api], log)

    def up():
        if p.poll() is not None:
            raise AssertionError(f"sevd exited ({p.returncode}); log {log}")
        return os.path.exists(api) and unix_request(api, "GET", "/healthz")[0] == 200
    wait_for("the embedded sevd's /healthz", up, 90)
    s = snp_status(api)
    check(s["state"] == "INIT" and s["sevd_start"] == "initialized", f"embedded: {s}")
    check("SEV-SNP initialized" in log_of(tmp, "sevd-emb"), "embedded log")
    procs.stop(p)


def main():
    def body(procs, tmp):
        brought_up(procs, tmp)
        snp_off(procs, tmp)
        turin(procs, tmp)
        no_snp(procs, tmp)
        embedded(procs, tmp)
    run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVADM_EXE"), "sevd-snp-", body,
             "SNP at start: initialized before INIT, found on restart, off by config, absent")


if __name__ == "__main__":
    main()
