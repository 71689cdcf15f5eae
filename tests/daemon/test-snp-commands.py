#!/usr/bin/env python3
"""SEV-SNP platform commands through sevd: sevadm snp show / commit / config
set|reset / vlek load against the real sev-psp-emu --snp and sevd, over the routes
GET /v1/snp/platform and POST /v1/snp/platform/{commit,config,vlek}.

Checks: show (text and --json, "state" as firmware names it); config set with masks and a
reported TCB below the running one is what SNP_PLATFORM_STATUS then reports, config reset goes
back to the committed TCB without masks; a reported TCB above the committed one is refused by
firmware (502, INVALID_PARAM by name) and changes nothing; malformed config bodies get 400
naming the field; commit after a firmware update (a higher --tcb on the same NV file) makes
the running TCB the reported one, and survives an emulator restart (NV.snp); a hashstick of
the wrong size is 400, a forged one is refused by firmware by name (BAD_SVN / BAD_MEASUREMENT)
and VLEK stays off. Then the same through sevd --psp dev and libsev-dev-emu.so's /dev/sev
(the uapi SNP sub-commands 9..12 with their user structs). Exit 77 only when run outside meson."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sevdtest  # noqa: E402
from sevdtest import (check, run_test, start_emu, start_sevd, unix_request,  # noqa: E402
                      wait_for)


def sevadm(api, *args, want=0):
    p = sevdtest.sevadm(api, *args, want=want)
    return p.stdout + p.stderr


def show(api):
    return json.loads(sevadm(api, "snp", "show", "--json"))


def tcb(s, which):
    t = s[which]
    return (t["bootloader"], t["tee"], t["snp"], t["microcode"])


def config(procs, tmp, api):
    out = sevadm(api, "snp", "show")
    check("state         INIT" in out and "bootloader 3, tee 0, snp 8, microcode 115" in out,
          f"show:\n{out}")
    s = show(api)
    check(s["state"] == "INIT" and not s["mask_chip_id"] and not s["mask_chip_key"], f"{s}")
    s2 = json.loads(sevadm(api, "--json", "snp", "show"))
    check(s2["state"] == "INIT", "global --json")
    sevadm(api, "snp", "config", "set", "--tcb", "bl=2,tee=0,snp=7,ucode=100", "--mask-chip-id")
    s = show(api)
    check(tcb(s, "reported_tcb") == (2, 0, 7, 100) and tcb(s, "current_tcb") == (3, 0, 8, 115),
          f"after config set: {s}")
    check(s["mask_chip_id"] and not s["mask_chip_key"], f"masks: {s}")
    sevadm(api, "snp", "config", "set", "--mask-chip-key")
    s = show(api)
    check(tcb(s, "reported_tcb") == (3, 0, 8, 115) and s["mask_chip_key"] and
          not s["mask_chip_id"], f"config set without --tcb: committed TCB reported: {s}")
    # Above the committed TCB: firmware refuses, by name; nothing changes.
    out = sevadm(api, "snp", "config", "set", "--tcb", "bl=9,tee=0,snp=8,ucode=115", want=1)
    check("INVALID_PARAM" in out, f"above committed: {out}")
    check(show(api)["mask_chip_key"], "a refused config changed the masks")
    sevadm(api, "snp", "config", "reset")
    s = show(api)
    check(not s["mask_chip_id"] and not s["mask_chip_key"] and
          tcb(s, "reported_tcb") == (3, 0, 8, 115), f"after reset: {s}")
    # Malformed bodies: 400 naming the field.
    for body, field in (('{"mask_chip_id": 1}', "mask_chip_id"),
                        ('{"reported_tcb": {"bl": 1}}', "reported_tcb.bl"),
                        ('{"reported_tcb": {"snp": 300}}', "reported_tcb.snp"),
                        ('{"colour": true}', "colour"), ('[]', "JSON object")):
        st, r = unix_request(api, "POST", "/v1/snp/platform/config", body)
        check(st == 400 and field in r["error"]["message"], f"{body}: {st} {r}")
    out = sevadm(api, "snp", "config", "set", "--tcb", "bl=1,xx=2", want=2)
    check("--tcb" in out, f"bad --tcb: {out}")


def vlek(tmp, api):
    bad = os.path.join(tmp, "short.bin")
    with open(bad, "wb") as f:
        f.write(b"\0" * 100)
    out = sevadm(api, "snp", "vlek", "load", bad, want=1)
    check("432 bytes" in out, f"short hashstick: {out}")
    forged = os.path.join(tmp, "forged.bin")
    with open(forged, "wb") as f:
        f.write(b"\x17" * 432)
    out = sevadm(api, "snp", "vlek", "load", forged, want=1)
    check("BAD_SVN" in out or "BAD_MEASUREMENT" in out or "INVALID_PARAM" in out,
          f"forged hashstick: {out}")
    check(not show(api)["vlek_en"], "VLEK on after a refused load")


def commit(procs, tmp):
    # Newer firmware on the same NV file: it reports the committed TCB until SNP_COMMIT.
    emu = start_emu(procs, tmp, extra=["--snp", "--tcb", "bl=4,tee=1,snp=9,ucode=120"],
                    name="emu")
    emu_p = procs.procs[-1]
    sevd, api = start_sevd(procs, tmp, emu, name="sevd-new")
    s = show(api)
    check(tcb(s, "current_tcb") == (4, 1, 9, 120) and tcb(s, "reported_tcb") == (3, 0, 8, 115),
          f"new firmware before commit: {s}")
    out = sevadm(api, "snp", "commit")
    check("reported_tcb  " in out and "bootloader 4, tee 1, snp 9, microcode 120" in
          out.split("reported_tcb")[1], f"commit output:\n{out}")
    procs.stop(sevd)
    procs.stop(emu_p)
    emu = start_emu(procs, tmp, extra=["--snp", "--tcb", "bl=4,tee=1,snp=9,ucode=120"],
                    name="emu")
    sevd, api = start_sevd(procs, tmp, emu, name="sevd-after")
    s = show(api)
    check(tcb(s, "reported_tcb") == (4, 1, 9, 120), f"commit did not persist: {s}")
    procs.stop(sevd)


def start_sevd_dev(procs, tmp, emu_sock, name):
    """sevd --psp dev:/dev/sev, /dev/sev being libsev-dev-emu.so over emu_sock."""
    api = os.path.join(tmp, name + ".sock")
    env = dict(os.environ, LD_PRELOAD=os.environ["SEV_DEV_EMU_PRELOAD"],
               SEV_EMU_SOCKET=emu_sock)
    p = procs.start([os.environ["SEVD_EXE"], "--psp", "dev:/dev/sev", "--state-dir",
                     os.path.join(tmp, name + "-state"), "--listen", "unix:" + api],
                    os.path.join(tmp, name + ".log"), env=env)

    def up():
        if p.poll() is not None:
            raise AssertionError(f"sevd exited ({p.returncode}); log {tmp}/{name}.log")
        return os.path.exists(api) and unix_request(api, "GET", "/healthz")[0] == 200
    wait_for("sevd --psp dev's /healthz", up, 60)
    return p, api


def dev(procs, tmp):
    """The same verbs through /dev/sev: the kernel (libsev-dev-emu.so) brings SNP up around
    each ioctl and shuts it down after (Linux 6.15+), so what reaches firmware is checked by
    its answers: the status, a refused config by name, a commit that persists, a forged VLEK
    refused by name."""
    emu = start_emu(procs, tmp, extra=["--snp"], name="emu-dev")
    emu_p = procs.procs[-1]
    sevd, api = start_sevd_dev(procs, tmp, emu, "sevd-dev")
    s = show(api)
    check(s["state"] == "INIT" and s["rmp_initialized"] and
          tcb(s, "current_tcb") == (3, 0, 8, 115), f"dev: status {s}")
    out = sevadm(api, "snp", "config", "set", "--tcb", "bl=9,tee=0,snp=8,ucode=115", want=1)
    check("INVALID_PARAM" in out, f"dev: config above committed: {out}")
    sevadm(api, "snp", "config", "set", "--mask-chip-id")
    forged = os.path.join(tmp, "forged-dev.bin")
    with open(forged, "wb") as f:
        f.write(b"\x17" * 432)
    out = sevadm(api, "snp", "vlek", "load", forged, want=1)
    check("BAD_SVN" in out or "BAD_MEASUREMENT" in out, f"dev: forged hashstick: {out}")
    sevadm(api, "snp", "commit")
    procs.stop(sevd)
    procs.stop(emu_p)
    emu = start_emu(procs, tmp, extra=["--snp", "--tcb", "bl=5,tee=0,snp=8,ucode=115"],
                    name="emu-dev")
    emu_p = procs.procs[-1]
    sevd, api = start_sevd_dev(procs, tmp, emu, "sevd-dev2")
    s = show(api)
    check(tcb(s, "reported_tcb") == (3, 0, 8, 115) and tcb(s, "current_tcb") == (5, 0, 8, 115),
          f"dev: newer firmware before commit: {s}")
    sevadm(api, "snp", "commit")
    s = show(api)
    check(tcb(s, "reported_tcb") == (5, 0, 8, 115), f"dev: after commit: {s}")
    procs.stop(sevd)
    procs.stop(emu_p)


def dev_part(procs, tmp):
    """On /dev/sev the part (and so the TCB layout) is the CPU's, read through the cpuid
    driver's file, where libsev-dev-emu.so answers the modelled part's leaf 1: each of two
    parts is named as modelled, whatever this host's CPU is (one of them is not it)."""
    for product, gen, fmc in (("genoa", "Genoa", False), ("turin", "Turin", True)):
        emu = start_emu(procs, tmp, extra=["--snp", "--snp-product", product],
                        name="emu-" + product)
        emu_p = procs.procs[-1]
        sevd, api = start_sevd_dev(procs, tmp, emu, "sevd-" + product)
        s = show(api)
        check(s["generation"] == gen and ("fmc" in s["current_tcb"]) == fmc,
              f"dev on a modelled {gen}: {s}")
        procs.stop(sevd)
        procs.stop(emu_p)


def main():
    def body(procs, tmp):
        emu = start_emu(procs, tmp, extra=["--snp"], name="emu")
        emu_p = procs.procs[-1]
        sevd, api = start_sevd(procs, tmp, emu)
        config(procs, tmp, api)
        vlek(tmp, api)
        # Commit what runs: from now on the NV file holds a committed TCB.
        out = sevadm(api, "snp", "commit")
        check("bootloader 3, tee 0, snp 8, microcode 115" in out, f"first commit:\n{out}")
        procs.stop(sevd)
        procs.stop(emu_p)
        commit(procs, tmp)
        dev(procs, tmp)
        dev_part(procs, tmp)
    run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVADM_EXE", "SEV_DEV_EMU_PRELOAD"), "sevd-snpcmd-",
             body, "sevadm snp show/config/commit/vlek through sevd: served and refused by name")


if __name__ == "__main__":
    main()
