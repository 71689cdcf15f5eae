#!/usr/bin/env python3
"""What sevadm loads before its first useful instruction: the dynamic loader's own record
(LD_DEBUG=libs) of one `sevadm --help`. libsystemd and the libraries it brings (libcap,
libgcrypt, libgpg-error, liblzma, libzstd, liblz4) cost ~1.2 ms per process and sevadm never
logs to the journal, so none of them may be loaded; sevd, which does log there, is the control
that the record is read right."""
import os
import re
import subprocess
import sys

JOURNAL_LIBS = ("libsystemd", "libcap", "libgcrypt", "libgpg-error", "liblzma", "libzstd",
                "liblz4")


def loaded(argv):
    env = dict(os.environ, LD_DEBUG="libs")
    env.pop("LD_PRELOAD", None)
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    # "calling init: /lib/x86_64-linux-gnu/libsystemd.so.0" (one per object, at start-up)
    return {os.path.basename(m) for m in re.findall(r"calling init: (\S+)", p.stderr)}


def main():
    sevadm, sevd = os.environ.get("SEVADM_EXE"), os.environ.get("SEVD_EXE")
    if not sevadm or not sevd:
        print("SKIP: SEVADM_EXE and SEVD_EXE are not set (run through meson test)")
        sys.exit(77)
    ctl = loaded([sevd, "--help"])
    if not any(n.startswith("libsystemd") for n in ctl):
        raise AssertionError(f"the loader's record of sevd names no libsystemd: {sorted(ctl)}")
    got = loaded([sevadm, "--help"])
    bad = sorted(n for n in got if n.startswith(JOURNAL_LIBS))
    if bad:
        raise AssertionError(f"sevadm loads {bad} (all it loads: {sorted(got)}): the journal "
                             "backend (common/log-journal.c) is the daemon's alone")
    print(f"sevadm loads {len(got)} objects, none of libsystemd's: {sorted(got)}")


if __name__ == "__main__":
    main()
