#!/usr/bin/env python3
"""sevd.conf kds_url: the real sev-psp-emu --snp, sevd and its config file.

Checks: with `kds_url = off` sevd starts no fetch of the SNP certificate table although the
emulator's key server answers: GET /v1/snp/certs answers source none, no entries and nothing
pending, still so seconds later; the log has the notice naming kds_url = off and the fix, and
no fetch. A second sevd on the same emulator without the key fetches the table (source kds),
so it is the key that stopped the fetch. A kds_url that is neither off nor an http[s] URL
stops sevd at start naming the key. Exit 77 only when run outside meson."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (check, log_of, run_test, start_emu, start_sevd,  # noqa: E402
                      unix_request, wait_certs)




def conf(tmp, name, text):
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def off(procs, tmp, emu):
    sevd, api = start_sevd(procs, tmp, emu, extra=["--config", conf(tmp, "off",
                                                                     "kds_url = off\n")])
    for _ in range(2):
        st, t = unix_request(api, "GET", "/v1/snp/certs")
        check(st == 200 and t["source"] == "none" and t["entries"] == [] and t["size"] == 0 and
              "pending" not in t, f"kds_url = off: {st} {t}")
        time.sleep(3)
    log = log_of(tmp, "sevd")
    check("kds_url = off" in log and "sevadm snp certs import" in log,
          "no notice naming kds_url = off and the fix in the log")
    check("No SNP certificate table yet" not in log and "from the emulator's key server" not in
          log, "sevd fetched with kds_url = off")
    procs.stop(sevd)


def control(procs, tmp, emu):
    sevd, api = start_sevd(procs, tmp, emu, name="sevd2")
    t = wait_certs(api, 240)
    check(t["source"] == "kds" and sorted(e["name"] for e in t["entries"]) ==
          ["ark", "ask", "vcek"], f"without kds_url: {t}")
    procs.stop(sevd)


def bad(tmp, emu):
    p = subprocess.run([os.environ["SEVD_EXE"], "--psp", "emu:" + emu, "--state-dir",
                        os.path.join(tmp, "bad-state"), "--listen",
                        "unix:" + os.path.join(tmp, "bad.sock"), "--config",
                        conf(tmp, "bad", "kds_url = ftp://kds.example\n")],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode != 0 and "kds_url" in p.stderr and "http[s]://" in p.stderr,
          f"a bad kds_url: exit {p.returncode}, {p.stderr!r}")


def main():
    def body(procs, tmp):
        emu = start_emu(procs, tmp, extra=["--snp"], name="emu")
        bad(tmp, emu)
        off(procs, tmp, emu)
        control(procs, tmp, emu)
    run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE"), "sevd-kds-url-", body,
             "kds_url = off: no fetch of the SNP certificate table, the notice; a bad "
             "kds_url stops sevd naming it")


if __name__ == "__main__":
    main()
