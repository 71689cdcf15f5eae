#!/usr/bin/env python3
"""sevadm snp fetch against the real sev-psp-emu --snp, sevd and sev-kds-emu (the emulator's
local KDS, which this test also asks itself for the chip's certificates).

Checks: fetch --out DIR writes vcek.der, vcek.pem, cert_chain, ask.pem, ark.pem; the VCEK
carries the key the KDS serves for this chip (GET /v1/platform/id) at its reported TCB (GET
/v1/snp/platform), vcek.pem is vcek.der, and the ASK/ARK are the KDS's byte for byte; the
directory is accepted by `sevadm snp certs import`. With the KDS stopped a second fetch
succeeds from the cache (and fails with an empty cache, so the cache is what served it). A
cached VCEK of another chip (a second emulator's) and one for another TCB are refused naming
the mismatch, writing nothing. Exit 77 only when run outside meson."""

import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (check, load_sibling, pem_der, run_test, sevadm_text as sevadm,  # noqa: E402
                      start_emu, start_kds, start_sevd, unix_request)

sc = load_sibling(__file__, "test-snp-certs.py", "snpcerts")

FILES = ["ark.pem", "ask.pem", "cert_chain", "vcek.der", "vcek.pem"]


def chip_and_tcb(api):
    st, s = unix_request(api, "GET", "/v1/snp/platform")
    check(st == 200, f"snp platform: {st} {s}")
    st, i = unix_request(api, "GET", "/v1/platform/id")
    check(st == 200, f"platform id: {st} {i}")
    return i["id"][:128], s["reported_tcb"]


def vcek_path(chip, t):
    return (f"/vcek/v1/Milan/{chip}?blSPL={t['bootloader']}&teeSPL={t['tee']}"
            f"&snpSPL={t['snp']}&ucodeSPL={t['microcode']}")


def cache_file(cache, kds, path):
    """Where cli/kds.c keeps the answer for path (one file per percent-encoded path)."""
    hp = urllib.parse.urlsplit(kds).netloc.replace(":", "_")
    keep = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
    return os.path.join(cache, hp, "".join(c if c in keep else "%%%02X" % ord(c) for c in path))


def run(procs, tmp):
    emu = start_emu(procs, tmp, extra=["--snp"], name="emu")
    kdsp, kds = start_kds(procs, tmp, os.path.join(tmp, "emu-nv.bin"), "kds")
    sevd, api = start_sevd(procs, tmp, emu)
    vcek, ask, ark = sc.kds_certs(api, kds)
    chip, tcb = chip_and_tcb(api)
    chain = sc.kds_get(kds, "/vcek/v1/Milan/cert_chain")
    cache = os.path.join(tmp, "cache")
    path = vcek_path(chip, tcb)

    # First fetch: from the KDS.
    out1 = os.path.join(tmp, "out1")
    out, _ = sevadm(api, "snp", "fetch", "--out", out1, "--kds-url", kds, "--cache", cache)
    check(sorted(os.listdir(out1)) == FILES, f"fetch wrote {sorted(os.listdir(out1))}")
    got = open(os.path.join(out1, "vcek.der"), "rb").read()
    check(sc.pubkey(tmp, got) == sc.pubkey(tmp, vcek), "the VCEK is not this chip's at its TCB")
    check(pem_der(os.path.join(out1, "vcek.pem")) == got, "vcek.pem is not vcek.der")
    check(pem_der(os.path.join(out1, "ask.pem")) == ask and
          pem_der(os.path.join(out1, "ark.pem")) == ark, "ASK/ARK are not the KDS's")
    check(open(os.path.join(out1, "cert_chain"), "rb").read() == chain, "cert_chain differs")
    check("fetched " + kds + path in out, f"fetch did not name the VCEK it fetched:\n{out}")
    check(os.path.exists(cache_file(cache, kds, path)), "the VCEK is not in the cache")
    # The directory is what certs import takes.
    sevadm(api, "snp", "certs", "import", out1)

    # KDS stopped: served from the cache; with an empty cache it fails.
    procs.stop(kdsp)
    out2 = os.path.join(tmp, "out2")
    out, _ = sevadm(api, "snp", "fetch", "--out", out2, "--kds-url", kds, "--cache", cache)
    check("cached " + kds + path in out, f"second fetch not from the cache:\n{out}")
    for n in FILES:
        check(open(os.path.join(out1, n), "rb").read() == open(os.path.join(out2, n), "rb").read(),
              f"{n} from the cache differs")
    _, err = sevadm(api, "snp", "fetch", "--out", os.path.join(tmp, "none"), "--kds-url", kds,
                    "--cache", os.path.join(tmp, "empty-cache"), want=1)
    check("sevadm: snp:" in err and not os.path.exists(os.path.join(tmp, "none")),
          f"fetch with the KDS stopped and no cache:\n{err}")

    # Another chip's VCEK (a second emulator) where this chip's belongs in the cache.
    emu2 = start_emu(procs, tmp, extra=["--snp"], name="emu2")
    _, kds2 = start_kds(procs, tmp, os.path.join(tmp, "emu2-nv.bin"), "kds2")
    _, api2 = start_sevd(procs, tmp, emu2, name="sevd2")
    chip2, tcb2 = chip_and_tcb(api2)
    check(chip2 != chip, "the two emulators have the same chip id")
    other = sc.kds_get(kds2, vcek_path(chip2, tcb))
    with open(cache_file(cache, kds, path), "wb") as f:
        f.write(other)
    bad = os.path.join(tmp, "bad")
    _, err = sevadm(api, "snp", "fetch", "--out", bad, "--kds-url", kds, "--cache", cache, want=1)
    check("not this chip's VCEK" in err and "hwID" in err and "cache" in err,
          f"another chip's VCEK:\n{err}")
    check(not os.path.exists(bad), "a refused fetch wrote files")

    # This chip's VCEK for another TCB (the KDS serves any TCB).
    t2 = dict(tcb, microcode=(tcb["microcode"] + 1) % 256)
    start_kds(procs, tmp, os.path.join(tmp, "emu-nv.bin"), "kds3")
    kds3 = "http://127.0.0.1:" + open(os.path.join(tmp, "kds3.port")).read().strip()
    with open(cache_file(cache, kds, path), "wb") as f:
        f.write(sc.kds_get(kds3, vcek_path(chip, t2)))
    _, err = sevadm(api, "snp", "fetch", "--out", bad, "--kds-url", kds, "--cache", cache, want=1)
    check("not this chip's VCEK" in err and "TCB" in err, f"another TCB's VCEK:\n{err}")
    check(not os.path.exists(bad), "a refused fetch wrote files")
    sevadm(api, "snp", "fetch", "--bogus", want=2)
    procs.stop(sevd)


def main():
    run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVD_BUILD_ROOT", "SEVADM_EXE"), "sevd-snpfetch-",
             run, "sevadm snp fetch: the chip's VCEK and chain, from the cache, mismatches refused")


if __name__ == "__main__":
    main()
