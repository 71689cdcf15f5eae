#!/usr/bin/env python3
"""The worker's per-connection memo of the core's WHOAMI answer for a bearer token: the real
sev-psp-emu, sevd with a plain-TCP listener on loopback and five tokens (admin, reader, and a
launcher for each of two tenants, acme and globex), and keep-alive connections from
http.client.

Checks: twenty GETs with one token on one connection cost one WHOAMI (the core's
sevd_core_requests_total{op="WHOAMI"}), where twenty fresh connections cost twenty; on one
connection a forged token after a good one is 401, the reader's token after the admin's is
403 on an admin route, and each token's answer is its own (the role never carries over); on
one connection that alternates tenants' tokens, each tenant's GET /v1/guests lists only its
own guest, the admin's lists both; twenty GETs of one guest with the reader's or the
admin's token are answered by the worker from the core's region (sevd_worker_cache_hits_total
{command="GUEST_STATUS"}), at most one core call per started second, while a tenant's token
on a shared connection still gets its own guest and is refused the other tenant's, its
entry fresh in the region; a forged token stays 401 on its own connection. Exit 77 only when
run outside meson."""

import http.client
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (check, free_port, run_test, start_emu, start_sevd,  # noqa: E402
                      token_line, unix_request, wait_for)

TOKENS = {"admin": "memo-admin-token-0123456789", "reader": "memo-reader-token-0123456789",
          "acme": "memo-acme-launcher-0123456789", "globex": "memo-globex-launcher-012345"}


def whoami_count(api):
    st, text = unix_request(api, "GET", "/metrics")
    check(st == 200, f"GET /metrics over the Unix socket: {st}")
    m = re.search(r'^sevd_core_requests_total\{op="WHOAMI"\} (\d+)', text, re.M)
    return int(m.group(1)) if m else 0


def metric(api, name):
    st, text = unix_request(api, "GET", "/metrics")
    check(st == 200, f"GET /metrics over the Unix socket: {st}")
    m = re.search(r"^" + re.escape(name) + r" (\d+)", text, re.M)
    check(m is not None, f"/metrics has no {name}")
    return int(m.group(1))


def req(c, method, url, token, body=None):
    headers = {"Authorization": "Bearer " + token}
    if body is not None:
        headers["Content-Type"] = "application/json"
    c.request(method, url, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse()
    data = r.read().decode()
    return r.status, data, r.will_close


def handles(data):
    o = json.loads(data)
    guests = o["guests"] if isinstance(o, dict) else o
    return {g["handle"] for g in guests}


def body(procs, tmp):
    port = free_port()
    conf = os.path.join(tmp, "sevd.conf")
    with open(conf, "w") as f:
        f.write(token_line("admin", TOKENS["admin"]) + token_line("reader", TOKENS["reader"]))
        for t in ("acme", "globex"):
            f.write(token_line("launcher", TOKENS[t]).rstrip("\n") + f":tenant={t}\n")
        f.write("allow_plain_tcp = yes\n")
    emu = start_emu(procs, tmp)
    _, api = start_sevd(procs, tmp, emu, extra=("--config", conf,
                                                "--listen", f"tcp:127.0.0.1:{port}"))

    def conn():
        return http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    wait_for("sevd's TCP listener", lambda: conn().connect() or True, 30)

    # One connection, one token: one WHOAMI for twenty requests.
    c = conn()
    before = whoami_count(api)
    for i in range(20):
        st, data, closing = req(c, "GET", "/v1/platform", TOKENS["reader"])
        check(st == 200, f"GET /v1/platform #{i} with the reader's token: {st} {data}")
        check(not closing, f"GET /v1/platform #{i}: sevd closes the keep-alive connection")
    asked = whoami_count(api) - before
    check(asked == 1, f"20 keep-alive GETs with one token asked the core {asked} times, not 1")
    # Twenty connections: twenty WHOAMI (the memo lives with its connection only).
    before = whoami_count(api)
    for i in range(20):
        c2 = conn()
        st, _, _c = req(c2, "GET", "/v1/platform", TOKENS["reader"])
        check(st == 200, f"GET /v1/platform on fresh connection #{i}: {st}")
        c2.close()
    asked = whoami_count(api) - before
    check(asked == 20, f"20 fresh connections asked the core {asked} times, not 20")

    # The role never carries over to another token on the same connection.
    st, _, _c = req(c, "GET", "/v1/platform", "memo-forged-token-0123456789")
    check(st == 401, f"a forged token after the reader's on one connection: {st}, not 401")
    st, _, _c = req(c, "POST", "/v1/platform/pdh", TOKENS["admin"])
    check(st == 200, f"the admin's POST /v1/platform/pdh on that connection: {st}")
    st, _, _c = req(c, "POST", "/v1/platform/pdh", TOKENS["reader"])
    check(st == 403, f"the reader's POST /v1/platform/pdh after the admin's: {st}, not 403")
    st, _, _c = req(c, "GET", "/v1/platform", TOKENS["reader"])
    check(st == 200, f"the reader's GET after all that: {st}")
    c.close()

    # Tenants on one connection: each sees only its own guest.
    c = conn()
    mine = {}
    for t in ("acme", "globex"):
        st, data, _c = req(c, "POST", "/v1/guests", TOKENS[t], {"policy": 0, "name": "memo-" + t})
        check(st == 201, f"{t}'s launch: {st} {data}")
        mine[t] = json.loads(data)["handle"]
    for rnd in range(3):
        for t, other in (("acme", "globex"), ("globex", "acme")):
            st, data, _c = req(c, "GET", "/v1/guests", TOKENS[t])
            check(st == 200, f"{t}'s GET /v1/guests: {st} {data}")
            seen = handles(data)
            check(mine[t] in seen and mine[other] not in seen,
                  f"round {rnd}: {t}'s list on a shared connection is {sorted(seen)} "
                  f"(its guest {mine[t]}, the other's {mine[other]})")
            st, data, _c = req(c, "GET", "/v1/guests", TOKENS["admin"])
            check(st == 200 and {mine["acme"], mine["globex"]} <= handles(data),
                  f"the admin's list between tenants: {st} {data}")
            st, _, _c = req(c, "DELETE", f"/v1/guests/{mine[other]}", TOKENS[t])
            check(st in (403, 404), f"{t} deleting {other}'s guest: {st}, not refused")
    c.close()

    # GET /v1/guests/{h} with a token without a tenant is answered by the worker from the
    # core's region, as over the Unix socket: the same body, at most one core call per
    # started second (the age bound) plus one refresh, every other GET a worker hit.
    hits_name = 'sevd_worker_cache_hits_total{command="GUEST_STATUS"}'
    calls_name = 'sevd_core_requests_total{op="GUEST_INFO"}'
    n = 20
    for who in ("reader", "admin"):
        c = conn()
        url = f"/v1/guests/{mine['acme']}"
        st, first, _c = req(c, "GET", url, TOKENS[who])
        check(st == 200, f"the {who}'s GET {url}: {st} {first}")
        h0, c0, t0 = metric(api, hits_name), metric(api, calls_name), time.monotonic()
        for i in range(n):
            st, data, _c = req(c, "GET", url, TOKENS[who])
            check(st == 200 and data == first,
                  f"the {who}'s GET {url} #{i} changed with nothing done: {st} {data} / {first}")
        secs = time.monotonic() - t0
        hits, calls = metric(api, hits_name) - h0, metric(api, calls_name) - c0
        print(f"{n} x GET {url} with the {who}'s token: {hits} worker hits, {calls} core "
              f"calls, {secs:.2f} s")
        check(calls <= int(secs) + 2, f"{n} GETs of one guest with the {who}'s token in "
              f"{secs:.2f} s asked the core {calls} times (at most {int(secs) + 2})")
        check(hits + calls == n, f"{n} GETs: {hits} worker hits + {calls} core calls")
        c.close()

    # ... and never to a tenant: with the region's entry of each guest fresh (the reader's
    # GET just before), a tenant reads its own guest and is refused the other's.
    c = conn()
    for rnd in range(3):
        for t, other in (("acme", "globex"), ("globex", "acme")):
            for h in (mine[t], mine[other]):
                st, data, _c = req(c, "GET", f"/v1/guests/{h}", TOKENS["reader"])
                check(st == 200, f"the reader's GET /v1/guests/{h}: {st} {data}")
            st, data, _c = req(c, "GET", f"/v1/guests/{mine[t]}", TOKENS[t])
            check(st == 200 and json.loads(data)["handle"] == mine[t],
                  f"round {rnd}: {t}'s GET of its own guest: {st} {data}")
            st, data, _c = req(c, "GET", f"/v1/guests/{mine[other]}", TOKENS[t])
            check(st in (403, 404) and "memo-" + other not in data,
                  f"round {rnd}: {t}'s GET of {other}'s guest on a shared connection: {st} "
                  f"{data}, not refused")
    c.close()

    # A forged token alone on its connection: 401 every time.
    c = conn()
    for i in range(3):
        st, _, _c = req(c, "GET", "/v1/platform", "memo-forged-token-0123456789")
        check(st == 401, f"forged token #{i} on its own connection: {st}, not 401")
    c.close()


run_test(("SEV_PSP_EMU_EXE", "SEVD_EXE"), "sevd-token-memo-", body,
         "ok: a token's WHOAMI once per keep-alive connection, roles and tenants kept apart")
