#!/usr/bin/env python3
"""sevadm snp certs import DIR | export DIR | show against the real sev-psp-emu
--snp, sevd and sev-kds-emu (the emulator's local KDS: the test's own source of the chip's
certificates, fetched here independently of sevd).

Checks: export on a fresh host writes snphost's file names (ark.pem, ask.pem, vcek.pem) whose
ASK and ARK are byte for byte the KDS's and whose VCEK carries the KDS's key for this chip and
reported TCB; --der writes the same certificates as *.der; show lists every entry with its GUID,
subject, validity and a SHA-384 fingerprint this test computes itself (text and --json);
import of the exported PEM directory and of the DER one (--der) is kept (source upload); import
of a wrong chain (an ASK that is the ARK) fails naming the daemon's 422 reason and a next step
and changes nothing; a directory without the files, or a non-PEM file without --der, fails
naming them; after DELETE /v1/snp/certs export fails naming import. Exit 77 only when run
outside meson."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (check, load_sibling, pem_der, run_test, sevadm_text as sevadm,  # noqa: E402
                      start_emu, start_kds, start_sevd, unix_request, wait_certs)

sc = load_sibling(__file__, "test-snp-certs.py", "snpcerts")


def run(procs, tmp):
    emu = start_emu(procs, tmp, extra=["--snp"], name="emu")
    _, kds = start_kds(procs, tmp, os.path.join(tmp, "emu-nv.bin"))
    sevd, api = start_sevd(procs, tmp, emu)
    wait_certs(api)  # the table is fetched in the background after the start
    vcek, ask, ark = sc.kds_certs(api, kds)

    # export (PEM) on a fresh host.
    pemdir = os.path.join(tmp, "pem")
    out, _ = sevadm(api, "snp", "certs", "export", pemdir)
    check(sorted(os.listdir(pemdir)) == ["ark.pem", "ask.pem", "vcek.pem"],
          f"export wrote {sorted(os.listdir(pemdir))}")
    got = {n: pem_der(os.path.join(pemdir, n + ".pem")) for n in ("ark", "ask", "vcek")}
    check(got["ark"] == ark and got["ask"] == ask, "exported ASK/ARK are not the KDS's")
    check(sc.pubkey(tmp, got["vcek"]) == sc.pubkey(tmp, vcek), "exported VCEK is not this chip's")

    # export --der.
    derdir = os.path.join(tmp, "der")
    sevadm(api, "snp", "certs", "export", derdir, "--der")
    check(sorted(os.listdir(derdir)) == ["ark.der", "ask.der", "vcek.der"],
          f"export --der wrote {sorted(os.listdir(derdir))}")
    for n in got:
        check(open(os.path.join(derdir, n + ".der"), "rb").read() == got[n], f"{n}.der differs")

    # show, text and --json, with fingerprints computed here.
    out, _ = sevadm(api, "snp", "certs", "show")
    for n, d in got.items():
        check(hashlib.sha384(d).hexdigest() in out and sc.GUIDS[n] in out,
              f"show lacks {n}'s GUID or fingerprint:\n{out}")
    check("subject" in out and "not after" in out and "source kds" in out, f"show:\n{out}")
    j = json.loads(sevadm(api, "snp", "certs", "show", "--json")[0])
    e = {x["name"]: x for x in j["entries"]}
    check(set(e) == {"ark", "ask", "vcek"} and j["source"] == "kds", f"show --json: {j}")
    for n, d in got.items():
        check(e[n]["sha384"] == hashlib.sha384(d).hexdigest() and e[n]["guid"] == sc.GUIDS[n]
              and e[n]["not_before"] and e[n]["not_after"], f"show --json {n}: {e[n]}")
    check("ARK-Milan" in e["ark"]["subject"] and "SEV-Milan" in e["ask"]["subject"],
          f"subjects: {e['ark']['subject']} {e['ask']['subject']}")

    # import the PEM directory, then the DER one.
    sevadm(api, "snp", "certs", "import", pemdir)
    check(sc.get_json(api)["source"] == "upload", "import: not kept as an upload")
    check(sc.by_name(sc.get_json(api)) == got, "import: the table is not the imported files")
    sevadm(api, "snp", "certs", "import", "--der", derdir)
    check(sc.by_name(sc.get_json(api)) == got, "import --der: the table differs")

    # a wrong chain: the daemon's 422 reason and a next step; nothing changed.
    before = sc.raw_request(api, "GET", "/v1/snp/certs?format=table")[2]
    bad = os.path.join(tmp, "bad")
    shutil.copytree(pemdir, bad)
    shutil.copy(os.path.join(pemdir, "ark.pem"), os.path.join(bad, "ask.pem"))
    _, err = sevadm(api, "snp", "certs", "import", bad, want=1)
    check("refused" in err and "ASK" in err and "sevadm snp" in err, f"wrong chain:\n{err}")
    check(sc.raw_request(api, "GET", "/v1/snp/certs?format=table")[2] == before,
          "a refused import changed the table")

    # files missing, or not PEM without --der.
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    _, err = sevadm(api, "snp", "certs", "import", empty, want=1)
    check("ark.pem" in err and "vcek.pem" in err, f"empty dir:\n{err}")
    shutil.copy(os.path.join(derdir, "ark.der"), os.path.join(empty, "ark.pem"))
    _, err = sevadm(api, "snp", "certs", "import", empty, want=1)
    check("not PEM" in err and "--der" in err, f"DER as ark.pem:\n{err}")
    sevadm(api, "snp", "certs", "bogus", want=2)

    p = subprocess.run([os.environ["SEVADM_EXE"], "--daemon", "unix:" + api, "ok"],
                       capture_output=True, text=True, timeout=120)
    line = [x for x in p.stdout.splitlines() if "SNP certificates" in x]
    check(len(line) == 1 and "PASS" in line[0], f"ok with the table:\n{p.stdout}{p.stderr}")
    # no table: export says what to do.
    st, _ = unix_request(api, "DELETE", "/v1/snp/certs")
    check(st == 200, f"DELETE: {st}")
    p = subprocess.run([os.environ["SEVADM_EXE"], "--daemon", "unix:" + api, "ok"],
                       capture_output=True, text=True, timeout=120)
    line = [x for x in p.stdout.splitlines() if "SNP certificates" in x]
    check(p.returncode == 1 and len(line) == 1 and "FAIL" in line[0] and "the ARK" in line[0]
          and "sevadm snp certs import" in line[0], f"ok without the table:\n{p.stdout}{p.stderr}")
    _, err = sevadm(api, "snp", "certs", "export", os.path.join(tmp, "none"), want=1)
    check("no SNP certificate table" in err and "import" in err, f"export with none:\n{err}")
    procs.stop(sevd)


def main():
    run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE", "SEVD_BUILD_ROOT", "SEVADM_EXE"),
             "sevd-snpcertscli-", run,
             "sevadm snp certs: export on a fresh host, show, import PEM and DER, refusals")


if __name__ == "__main__":
    main()
