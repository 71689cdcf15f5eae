#!/usr/bin/env python3
"""Stable guest ids through the real sev-psp-emu, sevd and sevadm.

Every guest JSON object carries "id" (32 lowercase hex digits, the first 8 its handle), and
every /v1/guests/{h} route takes it as well as the handle. A guest is launched and deleted and
another launched in its place (the same handle, reused): the old id answers 404 no_such_guest
naming that the guest is gone, for GET, DELETE and deactivate alike, and none of them touches the
new guest; the new id and the handle both reach the new guest. sevadm takes the id wherever it
takes a handle, and refuses a stale one. The grant stream's GRANTs (version 2 frames) carry
each guest's id. After a restart of sevd on the same state directory the ids are the same,
still work, and a new subscriber's GRANT carries the same id. Exit 77 only when run outside
meson."""

import os
import re
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (check, json_request as req, run_test, sevadm,  # noqa: E402
                      start_emu, start_sevd)


def launch(api, name):
    st, g = req(api, "POST", "/v1/guests", {"policy": 1, "name": name, "memory_size": 1 << 20})
    check(st == 201, f"launch {name}: {st} {g}")
    check(isinstance(g.get("id"), str) and re.fullmatch(r"[0-9a-f]{32}", g["id"]) and
          g["id"][:8] == f"{g['handle']:08x}", f"{name}'s id: {g}")
    return g


def b_asid(api, h):
    st, r = req(api, "GET", f"/v1/guests/{h}")
    return r.get("asid") if st == 200 else None


def gone(st, r, gid, what):
    e = r.get("error", {}) if isinstance(r, dict) else {}
    check(st == 404 and e.get("code") == "no_such_guest" and gid in e.get("message", "") and
          "gone" in e.get("message", ""), f"{what}: want 404 no_such_guest, got {st} {r}")


def grants(path, n):
    """The frames (up to n) a new subscriber of sevd's grant stream gets first (version 2, 48
    bytes), each [(type, handle, asid, id hex)]; stops when 2 s pass without one."""
    out = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(path)
        for _ in range(n):
            buf = b""
            try:
                while len(buf) < 48:
                    chunk = s.recv(48 - len(buf))
                    check(chunk, f"the grant stream ended after {len(buf)} bytes of a frame")
                    buf += chunk
            except TimeoutError:
                check(not buf, f"a frame cut after {len(buf)} bytes")
                break
            magic, ver, typ, length, h, asid = struct.unpack_from("<IHHIII", buf)
            check(magic == 0x53475648 and ver == 2 and length == 48,
                  f"not a version 2 frame: {buf.hex()}")
            out.append((typ, h, asid, buf[32:48].hex()))
    return out


def body(procs, tmp):
    emu = start_emu(procs, tmp)
    extra = ("--state-dir", os.path.join(tmp, "state"))
    p, api = start_sevd(procs, tmp, emu, extra=extra)

    a = launch(api, "first")
    st, r = req(api, "GET", f"/v1/guests/{a['id']}")
    check(st == 200 and r["handle"] == a["handle"] and r["id"] == a["id"], f"GET by id: {st} {r}")
    st, r = req(api, "GET", "/v1/guests")
    check(st == 200 and [g["id"] for g in r["guests"]] == [a["id"]], f"the list's ids: {r}")
    st, r = req(api, "DELETE", f"/v1/guests/{a['id']}")
    check(st == 200, f"DELETE by id: {st} {r}")

    b = launch(api, "second")
    check(b["handle"] == a["handle"], f"the handle was not reused ({a['handle']} then "
          f"{b['handle']}): the test needs it reused")
    check(b["id"] != a["id"], f"a reused handle kept its id: {a['id']}")
    h = b["handle"]
    st, r = req(api, "GET", f"/v1/guests/{a['id']}")
    gone(st, r, a["id"], "GET by the old id")
    st, r = req(api, "POST", f"/v1/guests/{a['id']}/deactivate", {})
    gone(st, r, a["id"], "deactivate by the old id")
    st, r = req(api, "DELETE", f"/v1/guests/{a['id']}")
    gone(st, r, a["id"], "DELETE by the old id")
    st, r = req(api, "GET", f"/v1/guests/{h}")
    check(st == 200 and r["id"] == b["id"] and r["name"] == "second" and r["asid"],
          f"the handle names the new guest, untouched: {st} {r}")
    st, r = req(api, "GET", f"/v1/guests/{b['id']}")
    check(st == 200 and r["handle"] == h and r["name"] == "second", f"the new id: {st} {r}")
    # Not an id: one digit short, or upper case (ids are canonical lowercase).
    st, r = req(api, "GET", f"/v1/guests/{b['id'][:-1]}")
    check(st == 404 and r["error"]["code"] == "not_found", f"a 31-digit id: {st} {r}")
    st, r = req(api, "GET", f"/v1/guests/{b['id'].upper()}")
    check(st in (400, 404) and r["error"]["code"] != "no_such_guest" or b['id'].upper() ==
          b['id'], f"an upper-case id: {st} {r}")

    # sevadm: the id wherever it takes a handle; a stale one is refused, naming it.
    out = sevadm(api, "deactivate", b["id"]).stdout
    st, r = req(api, "GET", f"/v1/guests/{h}")
    check(st == 200 and r["asid"] is None, f"sevadm deactivate ID: {out} {r}")
    sevadm(api, "activate", b["id"])
    p2 = sevadm(api, "deactivate", a["id"], want=1)
    check("no_such_guest" in p2.stderr or "gone" in p2.stderr,
          f"sevadm with the old id: {p2.stdout}{p2.stderr}")
    st, r = req(api, "GET", f"/v1/guests/{h}")
    check(st == 200 and r["asid"], f"sevadm with the old id touched the new guest: {r}")

    # A restart: the same ids, still working, and on the grant stream.
    c = launch(api, "third")
    for step in ("measurement", "finish", "activate"):
        st, r = req(api, "GET" if step == "measurement" else "POST",
                     f"/v1/guests/{c['id']}/{step}", None if step == "measurement" else {})
        check(st == 200, f"{step} of the third guest by its id: {st} {r}")
    ctl = os.path.join(tmp, "state", "control.sock")
    got = sorted(grants(ctl, 4))
    want = sorted([(1, h, b_asid(api, h), b["id"]), (1, c["handle"], r["asid"], c["id"])])
    check(got == want, f"the grant stream's GRANTs: {got}, wanted {want} (the guests' ids)")
    procs.stop(p)
    p, api = start_sevd(procs, tmp, emu, extra=extra, name="sevd2")
    st, r = req(api, "GET", f"/v1/guests/{c['handle']}")
    got = grants(ctl, 4)
    check((1, c["handle"], r["asid"], c["id"]) in got,
          f"after a restart, a new subscriber's GRANT of the third guest: {got}")
    st, r = req(api, "GET", "/v1/guests")
    ids = sorted((g["handle"], g["id"]) for g in r.get("guests", []))
    check(st == 200 and ids == sorted([(h, b["id"]), (c["handle"], c["id"])]),
          f"ids after a restart: {ids}, wanted {b['id']} and {c['id']}")
    st, r = req(api, "GET", f"/v1/guests/{c['id']}")
    check(st == 200 and r["name"] == "third", f"GET by id after a restart: {st} {r}")
    st, r = req(api, "GET", f"/v1/guests/{a['id']}")
    gone(st, r, a["id"], "the old id after a restart")
    for g in (b, c):
        st, r = req(api, "DELETE", f"/v1/guests/{g['id']}")
        check(st == 200, f"DELETE {g['id']}: {st} {r}")
    st, r = req(api, "GET", "/v1/guests")
    check(st == 200 and r["guests"] == [], f"guests left: {r}")
    procs.stop(p)


run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVADM_EXE"), "sevd-ids-", body,
         "guest ids: stale ids refused, handles and new ids work, the same after a restart")
