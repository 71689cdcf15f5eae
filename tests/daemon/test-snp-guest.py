#!/usr/bin/env python3
"""An SEV-SNP guest through the real sev-psp-emu --snp, sevd and sevadm over sevd's Unix socket.

POST /v1/guests {"type":"snp"} (SNP_GCTX_CREATE, SNP_LAUNCH_START, SNP_ACTIVATE), image pages
with ?type=&gpa= (normal pages, a zero page, a secrets and a cpuid page), a VMSA through /vmsa,
then POST /finish with an ID block and ID auth that `sevadm snp id-block` made with an EC P-384
ID key generated here, over the launch digest this test computes itself from the SNP ABI's
PAGE_INFO chain (SHA-384, hashlib): firmware accepts the ID block only when its digest is the
guest's, and GET /measurement's launch_digest must equal it too. Then activate, DELETE
(SNP_DECOMMISSION), and the ASID leaves the guest (GET /v1/asids). Refusals: a bad type, an
unaligned gpa, a malformed id_block / host_data each answer 400 naming the field, and a launch
whose ID block names another digest is refused by firmware; after them the guest is still
LUPDATE (nothing done) or gone. And an upload whose 6th page firmware refuses (a fault plan
of the emulator): the pages after it can be uploaded again (sevd gave back those it had made
Pre-Guest ahead of their updates), and the digest is that of the pages firmware took. Exit 77
only when run outside meson."""

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (check, emu_ctl, json_request as req, run_test, snp_id_block,  # noqa: E402
                      start_emu, start_sevd, unix_request)

POLICY = 0x30000  # bit 17 (reserved, must be one) and SMT allowed
PAGE = 4096
VMSA_GPA = 0xFFFFFFFFF000  # KVM's (and sevd's) VMSA GPA for SNP_LAUNCH_UPDATE
TYPES = {"normal": 1, "vmsa": 2, "zero": 3, "unmeasured": 4, "secrets": 5, "cpuid": 6}


class Digest:
    """SNP ABI 8.17 PAGE_INFO: DIGEST_CUR (48) ‖ CONTENTS (48) ‖ LENGTH (2, 0x70) ‖ PAGE_TYPE
    ‖ IMI_PAGE ‖ VMPL3/2/1 perms ‖ reserved ‖ GPA (8); the new digest is its SHA-384."""

    def __init__(self):
        self.d = b"\0" * 48

    def page(self, kind, gpa, data=b""):
        t = TYPES[kind]
        contents = hashlib.sha384(data).digest() if kind in ("normal", "vmsa") else b"\0" * 48
        info = self.d + contents + (0x70).to_bytes(2, "little") + bytes([t, 0, 0, 0, 0, 0]) + \
            gpa.to_bytes(8, "little")
        check(len(info) == 0x70, "PAGE_INFO layout")
        self.d = hashlib.sha384(info).digest()


def upload(api, h, kind, gpa, data, d):
    st, r = unix_request(api, "POST", f"/v1/guests/{h}/data?type={kind}&gpa={hex(gpa)}", data)
    check(st == 200, f"upload {kind} at {hex(gpa)}: {st} {r}")
    for i in range(0, max(len(data), PAGE if kind in ("secrets", "cpuid") else 0), PAGE):
        d.page(kind, gpa + i, data[i:i + PAGE])


def refused(st, r, field, what):
    msg = r["error"]["message"] if isinstance(r, dict) and "error" in r else str(r)
    check(400 <= st < 500 and field in msg, f"{what}: {st} {r}")


def asid_holders(api):
    st, r = unix_request(api, "GET", "/v1/asids")
    check(st == 200, f"/v1/asids: {st} {r}")
    return json.dumps(r)


def launch(api, name):
    st, g = req(api, "POST", "/v1/guests", {"type": "snp", "policy": POLICY, "name": name,
                                           "memory_size": 1 << 20})
    check(st == 201 and g.get("type") == "snp" and g["policy"]["value"] == POLICY and \
        g["policy"]["flags"] == ["SMT"] and g["asid"],
          f"create snp: {st} {g}")
    return g


def main_body(procs, tmp):
    emu = start_emu(procs, tmp, extra=["--snp"], name="emu")
    _, api = start_sevd(procs, tmp, emu)

    # Refusals at create: a bad type, a policy without its must-be-one bit.
    st, r = req(api, "POST", "/v1/guests", {"type": "tdx", "policy": POLICY})
    refused(st, r, "type", "create type=tdx")
    st, r = req(api, "POST", "/v1/guests", {"type": "snp", "policy": 0})
    refused(st, r, "policy", "create policy 0")
    st, r = req(api, "GET", "/v1/guests")
    check(st == 200 and r["guests"] == [], f"refused creates left guests: {r}")

    g = launch(api, "snp-one")
    h, asid = g["handle"], g["asid"]
    check(f'"asid": {asid}' in asid_holders(api), "the guest's ASID is not in /v1/asids")
    d = Digest()
    image = bytes((i * 7 + 3) & 0xff for i in range(3 * PAGE))
    upload(api, h, "normal", 0, image[:2 * PAGE], d)
    # default gpa: after the previous upload (no ?gpa=)
    st, r = unix_request(api, "POST", f"/v1/guests/{h}/data?type=normal", image[2 * PAGE:])
    check(st == 200, f"upload without gpa: {st} {r}")
    d.page("normal", 2 * PAGE, image[2 * PAGE:])
    upload(api, h, "zero", 0x10000, b"\0" * PAGE, d)
    upload(api, h, "secrets", 0x20000, b"", d)
    upload(api, h, "cpuid", 0x21000, b"", d)
    vmsa = bytes((i * 13) & 0xff for i in range(PAGE))
    st, r = unix_request(api, "POST", f"/v1/guests/{h}/vmsa", vmsa)
    check(st == 200, f"vmsa: {st} {r}")
    # Firmware measures a VMSA with GUEST_TSC_SCALE/OFFSET (0x2F0..0x2FF) zeroed
    # (psp/emu/README-snp.md).
    d.page("vmsa", VMSA_GPA, vmsa[:0x2F0] + b"\0" * 16 + vmsa[0x300:])

    # Refusals mid-launch: each a 4xx naming the field, nothing changed.
    for url, field in ((f"/v1/guests/{h}/data?type=bogus&gpa=0x30000", "type"),
                       (f"/v1/guests/{h}/data?type=normal&gpa=0x30010", "gpa"),
                       (f"/v1/guests/{h}/data?type=secrets&gpa=0x31000", "type=secrets")):
        body = b"x" * (2 * PAGE) if "secrets" in url else b""  # refused before a byte
        st, r = unix_request(api, "POST", url, body)
        refused(st, r, field, url)
    st, r = req(api, "GET", f"/v1/guests/{h}/measurement")
    check(400 <= st < 500, f"measurement before finish: {st} {r}")
    good = snp_id_block(tmp, d.d, POLICY, "good")
    blk, auth = good["id-block"], good["id-auth"]
    for body, field in (({"id_block": "!!", "id_auth": auth}, "id_block"),
                        ({"id_block": blk}, "id_auth"),
                        ({"id_block": blk, "id_auth": auth, "host_data": "12"}, "host_data")):
        st, r = req(api, "POST", f"/v1/guests/{h}/finish", body)
        refused(st, r, field, f"finish {list(body)}")
    # An ID block over another digest: firmware refuses it (BAD_MEASUREMENT), the guest stays.
    wrong = snp_id_block(tmp, hashlib.sha384(b"not this guest").digest(), POLICY, "wrong")
    st, r = req(api, "POST", f"/v1/guests/{h}/finish", {"id_block": wrong["id-block"],
                                                        "id_auth": wrong["id-auth"]})
    check(400 <= st < 600 and st != 200, f"finish with a wrong ID block: {st} {r}")
    st, r = req(api, "GET", f"/v1/guests/{h}")
    check(st == 200 and r["state"] == "LUPDATE", f"after refusals: {st} {r}")

    st, r = req(api, "POST", f"/v1/guests/{h}/finish",
                {"id_block": blk, "id_auth": auth, "host_data": "ab" * 32})
    check(st == 200 and r["state"] == "RUNNING", f"finish with the ID block: {st} {r}")
    st, m = req(api, "GET", f"/v1/guests/{h}/measurement")
    check(st == 200 and m.get("launch_digest") == d.d.hex() and m.get("id_block") is True,
          f"launch digest {m} != computed {d.d.hex()}")
    st, r = req(api, "POST", f"/v1/guests/{h}/activate", {})
    check(st == 200, f"activate: {st} {r}")
    st, r = req(api, "DELETE", f"/v1/guests/{h}")
    check(st == 200 and r["asid_released"] == asid, f"delete: {st} {r}")
    st, r = req(api, "GET", f"/v1/guests/{h}")
    check(st == 404, f"deleted guest still there: {st} {r}")
    check('"holder": "guest' not in asid_holders(api), "an ASID still held after DELETE")

    # {} finishes without an ID block; a second guest may use the ASIDs again.
    g2 = launch(api, "snp-two")
    st, r = req(api, "POST", f"/v1/guests/{g2['handle']}/finish", {})
    check(st == 200 and r["state"] == "RUNNING", f"finish {{}}: {st} {r}")
    st, m = req(api, "GET", f"/v1/guests/{g2['handle']}/measurement")
    e = Digest()
    check(st == 200 and m["launch_digest"] == e.d.hex() and m["id_block"] is False,
          f"empty launch digest: {m}")
    st, r = req(api, "DELETE", f"/v1/guests/{g2['handle']}")
    check(st == 200, f"delete two: {st} {r}")
    failed_update(api, emu)




def failed_update(api, emu):
    """SNP_LAUNCH_UPDATE refused at page 5 of a 16-page upload: the pages after it are as before
    the upload (sevd made them Pre-Guest ahead of their updates and gives them back), so a
    second upload of them succeeds, and the digest is that of the pages firmware took."""
    g = launch(api, "snp-fail")
    h = g["handle"]
    image = bytes((i * 11 + 5) & 0xff for i in range(16 * PAGE))
    err, text = emu_ctl(emu, "fault SNP_LAUNCH_UPDATE:fail=INVALID_PARAM:nth=6")
    text = text.decode(errors="replace")
    check(err == 0, f"CTL fault: {err} {text}")
    st, r = unix_request(api, "POST", f"/v1/guests/{h}/data?type=normal&gpa=0x0", image)
    check(st >= 400 and "INVALID_PARAM" in json.dumps(r),
          f"upload with page 5 refused by firmware: {st} {r}")
    check("gpa 0x5000" in json.dumps(r), f"the refusal names the refused page: {r}")
    err, text = emu_ctl(emu, "fault clear")
    text = text.decode(errors="replace")
    check(err == 0, f"CTL fault clear: {err} {text}")
    d = Digest()
    for i in range(5):
        d.page("normal", i * PAGE, image[i * PAGE:(i + 1) * PAGE])
    st, r = unix_request(api, "POST", f"/v1/guests/{h}/data?type=normal&gpa={hex(6 * PAGE)}",
                         image[6 * PAGE:])
    check(st == 200, f"upload of the pages after the refused one: {st} {r}")
    for i in range(6, 16):
        d.page("normal", i * PAGE, image[i * PAGE:(i + 1) * PAGE])
    st, r = req(api, "POST", f"/v1/guests/{h}/finish", {})
    check(st == 200 and r["state"] == "RUNNING", f"finish after a refused page: {st} {r}")
    st, m = req(api, "GET", f"/v1/guests/{h}/measurement")
    check(st == 200 and m.get("launch_digest") == d.d.hex(),
          f"launch digest after a refused page {m} != computed {d.d.hex()}")
    st, r = req(api, "DELETE", f"/v1/guests/{h}")
    check(st == 200, f"delete snp-fail: {st} {r}")


def main():
    run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVADM_EXE"), "sevd-snpguest-",
             main_body,
             "SNP guest: launched with an ID block, digest as computed, decommissioned")


if __name__ == "__main__":
    main()
