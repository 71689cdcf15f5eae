#!/usr/bin/env python3
"""bench-cli-floor does the work it stands for: its measurement and secret packet are the
vectors' known answers (sevctl cases 3 and 4, vectors/MANIFEST.md) and its session files have
the sizes sevadm session writes; a wrong input fails it. Exit 77 only outside meson."""
import base64
import os
import subprocess
import sys
import tempfile


def main():
    exe, vec = sys.argv[1] if len(sys.argv) > 1 else None, os.environ.get("SEV_VECTORS")
    if not exe or not vec:
        print("SKIP: run through meson test (bench-cli-floor and SEV_VECTORS)")
        sys.exit(77)
    sv = os.path.join(vec, "sevctl")
    m = [os.path.join(sv, "OVMF.amdsev.fd_trimmed"), os.path.join(sv, "measurement/vmlinuz-fake"),
         os.path.join(sv, "measurement/initrd-fake"), "foo bar baz fake kernel=cmdline",
         os.path.join(sv, "measurement/tik1.bin"), "wxP6tRHCFrFQWxsuqZA8QA==", "1", "40", "40", "3"]
    out = subprocess.run([exe, "measurement"] + m, capture_output=True, text=True, timeout=60)
    want = "h3auYbWQnVW7EGLWN4Hf9SN0oEYMPU2sK4bLnefWPwvDE/q1EcIWsVBbGy6pkDxA"
    if out.returncode != 0 or out.stdout.strip() != want:
        raise AssertionError(f"measurement: {out.returncode} {out.stdout!r} {out.stderr!r}")
    m[3] = "another cmdline"
    out = subprocess.run([exe, "measurement"] + m, capture_output=True, text=True, timeout=60)
    if out.returncode != 0 or out.stdout.strip() == want:
        raise AssertionError("another command line gave the same measurement")
    with tempfile.TemporaryDirectory() as d:
        h, p = os.path.join(d, "h"), os.path.join(d, "p")
        subprocess.run([exe, "secret", os.path.join(sv, "secret/tik1.bin"),
                        os.path.join(sv, "secret/tek1.bin"),
                        "TLeA7607lZQntLjRY1/i+sbtdSZ+75zxpz4Px9hzpBLwItF5Q2o4prA++3ZZv9ZS",
                        "rFR07U3TLH2YnsUj2SVZ7A==", "736869e5-84f0-4973-92ec-06879ce3da0b",
                        os.path.join(sv, "secret/secret1.txt"), h, p], check=True, timeout=60)
        got = base64.b64encode(open(h, "rb").read()).decode()
        if got != "AAAAAKxUdO1N0yx9mJ7FI9klWey8FSzeYQ4X8K71VzNKLU/KQsIsQxLjtbhaPUewqshX5Q==":
            raise AssertionError(f"secret header {got}")
        pdh = os.path.join(vec, "sev-tool/launch_blob/LB1/pdh.cert")
        subprocess.run([exe, "session", pdh, "1", os.path.join(d, "vm")], check=True, timeout=60)
        for suffix, size in (("_godh.b64", 2084), ("_session.b64", 128), ("_tek.bin", 16),
                             ("_tik.bin", 16)):
            data = open(os.path.join(d, "vm" + suffix), "rb").read()
            n = len(base64.b64decode(data)) if suffix.endswith(".b64") else len(data)
            if n != size:
                raise AssertionError(f"session {suffix}: {n} bytes, not {size}")
        bad = subprocess.run([exe, "session", os.path.join(sv, "secret/tik1.bin"), "1",
                              os.path.join(d, "x")], capture_output=True, timeout=60)
        if bad.returncode == 0:
            raise AssertionError("a 16-byte file was taken for a PDH certificate")
    print("bench-cli-floor: measurement and secret are the known answers, session complete")


if __name__ == "__main__":
    main()
