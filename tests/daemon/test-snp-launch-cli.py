#!/usr/bin/env python3
"""sevadm launch --snp through the real sev-psp-emu --snp, sevd and sevadm over sevd's Unix socket.

A guest launched with an ID block that `sevadm snp id-block` made (EC P-384 ID key generated
here) over the launch digest this test computes itself (the PAGE_INFO chain of
test-snp-guest.py's Digest, SHA-384 by hashlib), and HOST_DATA: the digest sevadm prints equals
GET /measurement's and the computed one, the guest is RUNNING. One without an ID block in
--json. An ID block over another digest: firmware refuses at finish, sevadm exits non-zero and
leaves no guest behind. Bad option combinations exit 2 naming the option, and start nothing.
Exit 77 only when run outside meson."""

import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from sevdtest import (check, load_sibling, run_test, sevadm, snp_id_block,  # noqa: E402
                      start_emu, start_sevd, unix_request)

snpguest = load_sibling(__file__, "test-snp-guest.py", "snpguest")
Digest, POLICY, PAGE, VMSA_GPA = snpguest.Digest, snpguest.POLICY, snpguest.PAGE, snpguest.VMSA_GPA


def expected(image, vmsa):
    d = Digest()
    for i in range(0, len(image), PAGE):
        d.page("normal", i, image[i:i + PAGE])
    if vmsa is not None:
        # firmware measures a VMSA with GUEST_TSC_SCALE/OFFSET (0x2F0..0x2FF) zeroed
        d.page("vmsa", VMSA_GPA, vmsa[:0x2F0] + b"\0" * 16 + vmsa[0x300:])
    return d.d


def guests(api):
    st, r = unix_request(api, "GET", "/v1/guests")
    check(st == 200, f"/v1/guests: {st} {r}")
    return r["guests"]


def measurement(api, h):
    st, m = unix_request(api, "GET", f"/v1/guests/{h}/measurement")
    check(st == 200, f"measurement of {h}: {st} {m}")
    return m


def delete(api, h):
    st, r = unix_request(api, "DELETE", f"/v1/guests/{h}")
    check(st == 200, f"delete {h}: {st} {r}")


def bad_options(api, tmp, image):
    pol = hex(POLICY)
    for args, name in ((["--snp", image], "--policy"),
                       (["--snp", "--policy", "nodbg", image], "--policy"),
                       (["--snp", "--policy", pol, "--session-dir", tmp, image], "--session-dir"),
                       (["--snp", "--policy", pol, "--godh", image, "--session", image, image],
                        "--godh"),
                       (["--snp", "--policy", pol, "--count", "2", image], "--count"),
                       (["--snp", "--policy", pol, "--asid", "1", image], "--asid"),
                       (["--snp", "--policy", pol, "--host-data", "ab" * 31, image], "--host-data"),
                       (["--snp", "--policy", pol, "--host-data", "zz" * 32, image], "--host-data"),
                       (["--id-block", tmp, image], "--id-block"),
                       (["--host-data", "ab" * 32, image], "--host-data")):
        p = sevadm(api, "launch", *args, want=2)
        check(name in p.stderr and "Try 'sevadm launch --help'" in p.stderr,
              f"launch {args}: the refusal does not name {name}: {p.stderr}")
    # The ID block files are read before anything starts.
    p = sevadm(api, "launch", "--snp", "--policy", pol, "--id-block",
               os.path.join(tmp, "missing"), image, want=1)
    check("id-block.bin" in p.stderr and "sevadm snp id-block" in p.stderr,
          f"a missing ID block: {p.stderr}")
    check(guests(api) == [], f"refused launches left guests: {guests(api)}")


def main_body(procs, tmp):
    emu = start_emu(procs, tmp, extra=["--snp"], name="emu")
    _, api = start_sevd(procs, tmp, emu)
    image = bytes((i * 11 + 5) & 0xff for i in range(3 * PAGE))
    vmsa = bytes((i * 13 + 1) & 0xff for i in range(PAGE))
    img, vm = os.path.join(tmp, "image.bin"), os.path.join(tmp, "vmsa.bin")
    open(img, "wb").write(image)
    open(vm, "wb").write(vmsa)

    bad_options(api, tmp, img)

    # With an ID block over the digest computed here, and HOST_DATA.
    want = expected(image, vmsa)
    snp_id_block(tmp, want, POLICY, "good")
    p = sevadm(api, "launch", "--snp", "--policy", hex(POLICY), "--name", "snp-cli",
               "--memory-size", str(1 << 20), "--vmsa", vm, "--id-block",
               os.path.join(tmp, "id-good"), "--host-data", "cd" * 32, img)
    out = p.stdout.split()
    check(len(out) == 2, f"launch --snp printed {p.stdout!r}, not handle and digest")
    h, digest = int(out[0]), out[1]
    m = measurement(api, h)
    check(digest == want.hex() == m["launch_digest"] and m["id_block"] is True,
          f"printed {digest}, sevd {m}, computed {want.hex()}")
    st, g = unix_request(api, "GET", f"/v1/guests/{h}")
    check(st == 200 and g["state"] == "RUNNING" and g["type"] == "snp" and
          g["policy"]["value"] == POLICY and g["name"] == "snp-cli", f"launched guest: {st} {g}")
    delete(api, h)

    # Without an ID block, --json, no VMSA.
    p = sevadm(api, "--json", "launch", "--snp", "--policy", str(POLICY), img)
    j = json.loads(p.stdout)
    want2 = expected(image, None)
    m = measurement(api, j["handle"])
    check(j["launch_digest"] == want2.hex() == m["launch_digest"] and j["id_block"] is False and
          m["id_block"] is False and j["bytes"] == len(image) and j["type"] == "snp",
          f"--json launch: {j}, sevd {m}, computed {want2.hex()}")
    delete(api, j["handle"])

    # An ID block over another digest: BAD_MEASUREMENT at finish, the guest is undone.
    snp_id_block(tmp, hashlib.sha384(b"another guest").digest(), POLICY, "wrong")
    p = sevadm(api, "launch", "--snp", "--policy", hex(POLICY), "--id-block",
               os.path.join(tmp, "id-wrong"), img, want=1)
    check("BAD_MEASUREMENT" in p.stderr and "decommissioned" in p.stderr,
          f"a wrong ID block: {p.stderr}")
    check(guests(api) == [], f"a refused finish left a guest: {guests(api)}")
    st, r = unix_request(api, "GET", "/v1/asids")
    check(st == 200 and '"holder": "guest' not in json.dumps(r), f"an ASID still held: {r}")


def main():
    run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVADM_EXE"), "sevd-snplaunch-",
             main_body,
             "sevadm launch --snp: digest as printed, as sevd's and as computed; refusals named")


if __name__ == "__main__":
    main()
