#!/usr/bin/env python3
"""`sevadm ok`'s SEV-SNP checks, as snphost ok makes them, through the real sev-psp-emu --snp,
sevd and sevadm.

Checks: on a fresh host every SNP line passes: SEV-SNP (INIT, RMP initialized), SNP TCB
(reported = running, decoded for Milan), SNP certificates (complete), SNP certificate chain
(ARK -> ASK -> VCEK verified by sevadm; on the emulator against the table's own ARK, named as
sev-psp-emu's) and SNP VCEK (its hwID is GET_ID, its SPL extensions the reported TCB), in text
and --json. With the reported TCB set below the running one (SNP_CONFIG), the table still
holding the VCEK of the old TCB: SNP TCB passes and says to commit, SNP VCEK fails naming the
TCB field that differs and how to fix it (sevadm snp fetch, sevadm snp certs import), exit 1.
With another chip's table (a second emulator's, put in the state directory while sevd is
stopped, as a restored backup would be): SNP VCEK fails naming the hwID. A table whose VCEK
is signed by another chain's ASK fails the chain line naming the link. Every FAIL line says
what to run. Exit 77 only when run outside meson."""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (Procs, check, need_env, start_emu, start_sevd,  # noqa: E402
                      unix_request, wait_certs)

spec = importlib.util.spec_from_file_location(
    "snpcerts", os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-snp-certs.py"))
sc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sc)

SNP_LINES = ("SEV-SNP", "SNP TCB", "SNP certificates", "SNP certificate chain", "SNP VCEK")


def ok(api, json_out=False):
    args = [os.environ["SEVADM_EXE"], "--daemon", "unix:" + api] + (["--json"] if json_out
                                                                     else []) + ["ok"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def lines(out):
    """{check: (PASS|FAIL, reason)} of the text output."""
    r = {}
    for x in out.splitlines():
        if x.startswith("[ ") and " ] " in x:
            verdict, rest = x[2:].split(" ] ", 1)
            name, _, reason = rest.partition(": ")
            r[name] = (verdict.strip(), reason)
    return r


def table_ready(api):
    """sevd fetches the chip's table from the key server in the background after it starts
    (retrying while the key server cannot answer): wait until that is over, then want it."""
    t = wait_certs(api)
    check(len(t.get("entries", [])) >= 3, f"no SNP certificate table after the fetch: {t}")


def fresh(api):
    table_ready(api)
    rc, out = ok(api)
    got = lines(out)
    check(rc == 0, f"sevadm ok on a fresh SNP host:\n{out}")
    for n in SNP_LINES:
        check(got.get(n, ("",))[0] == "PASS", f"line {n} does not pass:\n{out}")
    check("sev-psp-emu" in got["SNP certificate chain"][1], f"chain root not named:\n{out}")
    check("hwID = GET_ID" in got["SNP VCEK"][1] and "Milan" in got["SNP VCEK"][1],
          f"VCEK line:\n{out}")
    check("reported = committed = running" in got["SNP TCB"][1], f"TCB line:\n{out}")
    rc, out = ok(api, json_out=True)
    j = json.loads(out)
    names = {c["check"]: c["pass"] for c in j["checks"]}
    check(rc == 0 and j["ok"] and all(names.get(n) for n in SNP_LINES), f"--json: {j}")


def stale_tcb(api):
    st, s = unix_request(api, "GET", "/v1/snp/platform")
    check(st == 200, f"snp platform: {st} {s}")
    t = dict(s["reported_tcb"])
    tcb = {k: t[k] for k in ("bootloader", "tee", "snp", "microcode")}
    tcb["microcode"] -= 1
    st, r = unix_request(api, "POST", "/v1/snp/platform/config",
                         json.dumps({"reported_tcb": tcb}))
    check(st == 200, f"config with a lower reported TCB: {st} {r}")
    st, s = unix_request(api, "GET", "/v1/snp/platform")
    check(s["reported_tcb"]["microcode"] == tcb["microcode"], f"config not applied: {s}")
    rc, out = ok(api)
    got = lines(out)
    check(rc == 1, f"sevadm ok with a VCEK of another TCB passed:\n{out}")
    check(got["SNP TCB"][0] == "PASS" and "sevadm snp commit" in got["SNP TCB"][1] and
          "microcode" in got["SNP TCB"][1], f"TCB line with reported < running:\n{out}")
    v = got["SNP VCEK"]
    check(v[0] == "FAIL" and "ucode" in v[1].lower() and "sevadm snp fetch" in v[1] and
          "sevadm snp certs import" in v[1], f"VCEK line with another TCB:\n{out}")
    print("a VCEK of another TCB:", *[x for x in out.splitlines() if "SNP" in x], sep="\n  ")
    st, r = unix_request(api, "POST", "/v1/snp/platform/config", json.dumps({}))
    check(st == 200, f"config reset: {st} {r}")


def restart_with(procs, tmp, emu, sevd_p, table):
    """sevd restarted on a table put in its state directory, as a restored backup would be."""
    procs.stop(sevd_p)
    with open(os.path.join(tmp, "sevd-state", "snp-certs.bin"), "wb") as f:
        f.write(table)
    p, api = start_sevd(procs, tmp, emu, name="sevd")
    rc, out = ok(api)
    return p, api, rc, out, lines(out)


def other_chip(procs, tmp, emu, sevd_p, api):
    """Another chip's table, and this chip's ARK and ASK with another chip's VCEK."""
    st, _, own = sc.raw_request(api, "GET", "/v1/snp/certs?format=table")
    check(st == 200, f"this chip's table: {st}")
    emu2 = start_emu(procs, tmp, extra=["--snp"], name="emu2")
    p2, api2 = start_sevd(procs, tmp, emu2, name="sevd2")
    table_ready(api2)
    st, _, foreign = sc.raw_request(api2, "GET", "/v1/snp/certs?format=table")
    check(st == 200 and foreign != own, f"the other chip's table: {st}")
    procs.stop(p2)

    p, api, rc, out, got = restart_with(procs, tmp, emu, sevd_p, foreign)
    print("another chip's table:", *[x for x in out.splitlines() if "SNP" in x], sep="\n  ")
    check(rc == 1 and got["SNP certificates"][0] == "PASS", f"foreign table:\n{out}")
    v = got["SNP VCEK"]
    check(v[0] == "FAIL" and "hwid" in v[1].lower() and "sevadm snp fetch" in v[1],
          f"VCEK line with another chip's table:\n{out}")

    mine = dict(sc.parse_table(own))
    theirs = dict(sc.parse_table(foreign))
    g = sc.GUIDS
    mixed = sc.build_table([(g["ark"], mine[g["ark"]]), (g["ask"], mine[g["ask"]]),
                            (g["vcek"], theirs[g["vcek"]])])
    p, api, rc, out, got = restart_with(procs, tmp, emu, p, mixed)
    print("another chip's VCEK under this ASK:",
          *[x for x in out.splitlines() if "SNP" in x], sep="\n  ")
    c = got["SNP certificate chain"]
    check(rc == 1 and c[0] == "FAIL" and "VCEK" in c[1] and "ASK" in c[1] and
          "sevadm snp certs import" in c[1], f"chain line with a VCEK of another ASK:\n{out}")
    return p, api


def main():
    why = need_env("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVADM_EXE")
    if why:
        print(f"SKIP: {why}")
        sys.exit(77)
    procs = Procs()
    with tempfile.TemporaryDirectory(prefix="sevd-snpok-") as tmp:
        try:
            emu = start_emu(procs, tmp, extra=["--snp"], name="emu")
            p, api = start_sevd(procs, tmp, emu)
            fresh(api)
            stale_tcb(api)
            fresh(api)
            p, api = other_chip(procs, tmp, emu, p, api)
        finally:
            procs.stop_all()
    print("sevadm ok: the SNP lines pass on a fresh host and fail, saying how to fix it, on "
          "a VCEK of another TCB and another chip's table")


if __name__ == "__main__":
    main()
