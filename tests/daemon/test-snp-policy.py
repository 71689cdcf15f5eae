#!/usr/bin/env python3
"""The host admission policy for SEV-SNP guests through the real sev-psp-emu --snp and sevd.

sevd.conf's [policy] with require_snp, snp_policy_must_set (a bit name), snp_policy_must_clear
(bit names), min_abi, require_id_block and allowed_author_keys (an ID block whose author key
digest is not listed, or one without an author key, is refused at finish): each refuses what it should with 403
policy_refused and error.rule naming it (an SEV launch, a DEBUG policy, a policy without SMT,
one pinning too old an ABI, a finish without an ID block), and admits what it should (an SNP
policy that meets them all, finished with an ID block made by `sevadm snp id-block`). A second
sevd with default_quota = 1 shows the tenant quota counts SNP guests: with one SNP guest held,
both an SEV and another SNP launch of that tenant are refused (tenant_quota), another tenant's
is admitted. After every refusal nothing is left behind: no guest, no ASID held. The SNP policy
is also accepted by name ("SMT|DEBUG", or {"flags": [...], "api_min": "M.m"}) with the same
value as the number, and a bad name is a 400 naming the field. Exit 77 only when run outside
meson."""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import Procs, check, need_env, start_emu, start_sevd, unix_request  # noqa: E402

SMT, MBO, DEBUG, MIGRATE_MA = 1 << 16, 1 << 17, 1 << 19, 1 << 18
GOOD = MBO | SMT | 0x0102  # SMT allowed, ABI 1.2
ZERO_DIGEST = b"\0" * 48  # the launch digest of a guest with no pages (SNP ABI PAGE_INFO chain)


def req(api, method, url, body=None):
    return unix_request(api, method, url, json.dumps(body) if body is not None else None)


def leaves_nothing(api, what):
    st, r = req(api, "GET", "/v1/guests")
    check(st == 200 and r["guests"] == [], f"{what}: guests left: {st} {r}")
    st, r = req(api, "GET", "/v1/asids")
    check(st == 200 and '"holder": "guest' not in json.dumps(r) and
          '"holder": "launch' not in json.dumps(r), f"{what}: an ASID is still held: {r}")


def refused(st, r, rule, what, word=None):
    e = r.get("error", {}) if isinstance(r, dict) else {}
    check(st == 403 and e.get("code") == "policy_refused" and e.get("rule") == rule and
          rule in e.get("message", "") and (word is None or word in e["message"]),
          f"{what}: want 403 policy_refused rule {rule}, got {st} {r}")


def launch(api, policy, name, tenant=None, snp=True):
    body = {"policy": policy, "name": name, "memory_size": 1 << 20}
    if snp:
        body["type"] = "snp"
    if tenant:
        body["tenant"] = tenant
    return req(api, "POST", "/v1/guests", body)


def genkey(tmp, name):
    key = os.path.join(tmp, name + ".pem")
    if not os.path.exists(key):
        p = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-384", "-out", key],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, f"openssl genpkey: {p.stderr}")
    return key


def id_block(tmp, policy, author=None):
    """The ID block and ID auth `sevadm snp id-block` makes (signed by an author key when
    given), and the author key digest it prints (None without one)."""
    out = os.path.join(tmp, "id")
    os.makedirs(out, exist_ok=True)
    args = [os.environ["SEVADM_EXE"], "snp", "id-block", "--measurement",
            ZERO_DIGEST.hex(), "--policy", hex(policy), "--family-id", "11" * 16,
            "--image-id", "22" * 16, "--svn", "1", "--id-key", genkey(tmp, "id-key"),
            "--out", out]
    if author:
        args += ["--author-key", genkey(tmp, author)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"sevadm snp id-block: {p.stdout} {p.stderr}")
    line = [x for x in p.stdout.splitlines() if x.startswith("id-block=")]
    check(len(line) == 1, f"sevadm snp id-block printed no id-block= line: {p.stdout}")
    kv = dict(x.split("=", 1) for x in line[0].split(","))
    body = {"id_block": kv["id-block"], "id_auth": kv["id-auth"]}
    digest = [x.split(":", 1)[1].strip() for x in p.stdout.splitlines()
              if x.startswith("author_key_digest:")]
    check(bool(digest) == bool(author), f"author_key_digest line: {p.stdout}")
    if author:
        body["author_key"] = True
    return body, digest[0] if digest else None


def sevd_with(procs, tmp, name, conf):
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write(conf)
    emu = start_emu(procs, tmp, extra=["--snp"], name=name + "-emu")
    return start_sevd(procs, tmp, emu, extra=["--config", path], name=name)


def rules(tmp, procs):
    p, api = sevd_with(procs, tmp, "rules", "[policy]\nrequire_snp = yes\n"
                       "snp_policy_must_set = smt\nsnp_policy_must_clear = DEBUG|migrate_ma\n"
                       "min_abi = 1.2\nrequire_id_block = yes\n")
    st, r = launch(api, 1, "sev", snp=False)
    refused(st, r, "require_snp", "an SEV launch")
    for pol, rule, word in ((GOOD | DEBUG, "snp_policy_must_clear", "DEBUG"),
                            (GOOD | MIGRATE_MA, "snp_policy_must_clear", "MIGRATE_MA"),
                            (GOOD & ~SMT, "snp_policy_must_set", "SMT"),
                            (MBO | SMT | 0x0101, "min_abi", "1.2"),
                            (MBO | SMT, "min_abi", "0.0")):
        st, r = launch(api, pol, f"p{pol:x}")
        refused(st, r, rule, f"SNP policy {hex(pol)}", word)
        leaves_nothing(api, f"refused SNP policy {hex(pol)}")
    for pol in (GOOD, MBO | SMT | 0x0133):  # meet every rule: admitted (ABI 1.2, 1.51)
        st, g = launch(api, pol, f"ok{pol:x}")
        check(st == 201 and g["policy"]["value"] == pol and g["asid"], f"admit {hex(pol)}: {st} {g}")
        h = g["handle"]
        st, r = req(api, "POST", f"/v1/guests/{h}/finish", {})
        refused(st, r, "require_id_block", "finish without an ID block")
        st, r = req(api, "GET", f"/v1/guests/{h}")
        check(st == 200 and r["state"] == "LUPDATE", f"after a refused finish: {st} {r}")
        st, r = req(api, "POST", f"/v1/guests/{h}/finish", id_block(tmp, pol)[0])
        check(st == 200 and r["state"] == "RUNNING", f"finish with an ID block: {st} {r}")
        st, r = req(api, "DELETE", f"/v1/guests/{h}")
        check(st == 200, f"delete: {st} {r}")
        leaves_nothing(api, "the admitted guest, decommissioned")
    procs.stop(p)


def quota(tmp, procs):
    p, api = sevd_with(procs, tmp, "quota", "[policy]\ndefault_quota = 1\n")
    st, g = launch(api, GOOD, "first", tenant="acme")
    check(st == 201, f"first SNP guest of acme: {st} {g}")
    st, r = launch(api, 1, "sev", tenant="acme", snp=False)
    refused(st, r, "tenant_quota", "an SEV launch over acme's quota held by an SNP guest")
    st, r = launch(api, GOOD, "second", tenant="acme")
    refused(st, r, "tenant_quota", "a second SNP launch of acme")
    st, other = launch(api, GOOD, "other", tenant="other")
    check(st == 201, f"another tenant's SNP guest: {st} {other}")
    st, r = req(api, "GET", "/v1/guests")
    check(st == 200 and sorted(x["name"] for x in r["guests"]) == ["first", "other"],
          f"refused launches left guests: {r}")
    for h in (g["handle"], other["handle"]):
        st, r = req(api, "DELETE", f"/v1/guests/{h}")
        check(st == 200, f"delete {h}: {st} {r}")
    leaves_nothing(api, "quota guests decommissioned")
    st, g = launch(api, 1, "sev-after", tenant="acme", snp=False)
    check(st == 201, f"acme's quota free again, an SEV launch: {st} {g}")
    st, r = req(api, "DELETE", f"/v1/guests/{g['handle']}")
    check(st == 200, f"delete the SEV guest: {st} {r}")
    procs.stop(p)


def author_keys(tmp, procs):
    """allowed_author_keys: only an ID block whose author key digest is listed finishes."""
    good_body, good = id_block(tmp, GOOD, "author-a")
    other_body, other = id_block(tmp, GOOD, "author-b")
    plain_body, _ = id_block(tmp, GOOD)
    check(good != other and len(good) == 96, f"author digests {good} {other}")
    p, api = sevd_with(procs, tmp, "authors", "[policy]\nallowed_author_keys = "
                       f"{'ab' * 48}, {good.upper()}\n")
    st, g = launch(api, GOOD, "authored")
    check(st == 201, f"launch: {st} {g}")
    h = g["handle"]
    for body, what in (({}, "finish without an ID block"),
                       (plain_body, "an ID block without an author key"),
                       (other_body, "an author key not listed")):
        st, r = req(api, "POST", f"/v1/guests/{h}/finish", body)
        refused(st, r, "allowed_author_keys", what)
        st, r = req(api, "GET", f"/v1/guests/{h}")
        check(st == 200 and r["state"] == "LUPDATE", f"after {what}: {st} {r}")
    st, r = req(api, "POST", f"/v1/guests/{h}/finish", good_body)
    check(st == 200 and r["state"] == "RUNNING", f"finish with a listed author key: {st} {r}")
    st, r = req(api, "DELETE", f"/v1/guests/{h}")
    check(st == 200, f"delete: {st} {r}")
    leaves_nothing(api, "the authored guest, decommissioned")
    procs.stop(p)
    # A malformed list stops sevd at start, naming the key and the digest's form.
    path = os.path.join(tmp, "bad-authors.conf")
    with open(path, "w") as f:
        f.write("[policy]\nallowed_author_keys = 1234\n")
    q = subprocess.run([os.environ["SEVD_EXE"], "--config", path, "--state-dir",
                        os.path.join(tmp, "bad-state"), "--listen",
                        "unix:" + os.path.join(tmp, "bad.sock")],
                       capture_output=True, text=True, timeout=60)
    check(q.returncode != 0 and "allowed_author_keys" in q.stderr and "96 hex" in q.stderr,
          f"a bad allowed_author_keys: {q.returncode} {q.stdout} {q.stderr}")


def by_name(tmp, procs):
    p, api = sevd_with(procs, tmp, "names", "")
    for pol, want in (("SMT", MBO | SMT), ("smt|Debug", MBO | SMT | DEBUG),
                      ({"flags": ["SMT", "MIGRATE_MA"], "api_min": "1.51"},
                       MBO | SMT | MIGRATE_MA | 0x0133), ({"flags": ["smt"]}, MBO | SMT)):
        st, g = launch(api, pol, "named")
        check(st == 201 and g["policy"]["value"] == want,
              f"policy {pol!r} by name: want {hex(want)}, got {st} {g}")
        st, r = req(api, "DELETE", f"/v1/guests/{g['handle']}")
        check(st == 200, f"delete: {st} {r}")
    for pol in ("NOSUCHBIT", "SMT|", "", {"flags": ["SMT", 3]}, {"flags": ["bogus"]},
                {"api_min": "1"}, {"flag": ["SMT"]}):
        st, r = launch(api, pol, "bad")
        e = r.get("error", {}) if isinstance(r, dict) else {}
        check(st == 400 and e.get("code") == "bad_request" and "'policy'" in e.get("message", ""),
              f"bad policy {pol!r}: want 400 naming 'policy', got {st} {r}")
        leaves_nothing(api, f"bad policy {pol!r}")
    st, r = launch(api, "SMT", "sev-named", snp=False)
    check(st == 400 and "'policy'" in json.dumps(r), f"an SEV policy by name: {st} {r}")
    procs.stop(p)


def main():
    why = need_env("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVADM_EXE")
    if why:
        print(f"SKIP: {why}")
        sys.exit(77)
    procs = Procs()
    with tempfile.TemporaryDirectory(prefix="sevd-snppolicy-") as tmp:
        try:
            rules(tmp, procs)
            quota(tmp, procs)
            by_name(tmp, procs)
            author_keys(tmp, procs)
        finally:
            procs.stop_all()
    print("SNP admission: each rule refused what it should, admitted the rest, left nothing")


if __name__ == "__main__":
    main()
