#!/usr/bin/env python3
"""sevd's node-feature-discovery feature file (--inventory-file / inventory_file):
against the real sev-psp-emu (509 ASIDs, SEV-ES below 100) and sevd.

Checks: the file appears with NFD's `<namespace>/<name>=<value>` lines and the numbers of
GET /v1/inventory; it follows every launch (SEV and SEV-ES guests) and every decommission
(used down, flush-pending up) within a bounded wait, and the latency from the API's answer to
the file is printed; a reader thread that reads the file in a loop meanwhile never finds it
missing, cut short or inconsistent (used + free + flush_pending = total for every type), and
the directory NFD reads never holds another name that is not a dot file (NFD skips those);
idle, keeping the file makes no core requests; the file is removed when sevd stops; the config
key does the same as the flag; a relative path is refused at start naming the key; a PSP that
stops answering (a stalled command) shows as amd.com/sev.psp_healthy=false until sevd
reconnects; the file carries NFD's `# +expiry-time=` about 10 minutes ahead, so that labels of
a sevd that died without removing it expire. Exit 77 only when run outside meson."""

import calendar
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sevdtest import (check, run_test, start_emu, start_sevd, unix_request,  # noqa: E402
                      wait_for)
import sevdtest  # noqa: E402

TYPES = ("sev", "sev-es", "snp")
KEYS = ("total", "used", "free", "flush_pending")
LINE = re.compile(r"^[a-z0-9.-]+/[A-Za-z0-9._-]+=[A-Za-z0-9._-]{1,63}$")


def parse(text):
    """NFD's local source format: '#' comments, `ns/name[=value]` lines. Raises ValueError on
    anything else or on a count that does not add up (a torn or mixed file)."""
    out = {}
    if not text.endswith("\n"):
        raise ValueError(f"no final newline (cut short?): {text[-40:]!r}")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not LINE.match(line):
            raise ValueError(f"not an NFD feature line: {line!r}")
        k, v = line.split("=", 1)
        out[k] = v
    for t in TYPES:
        if out.get(f"amd.com/{t}") not in ("true", "false"):
            raise ValueError(f"amd.com/{t} missing or not true/false")
        n = {k: int(out[f"amd.com/{t}.{k}"]) for k in KEYS}
        if n["used"] + n["free"] + n["flush_pending"] != n["total"]:
            raise ValueError(f"{t}: counts do not add up: {n}")
    return out


def file_matches_api(path, api):
    """The file's numbers equal GET /v1/inventory's now (None while they differ)."""
    st, inv = unix_request(api, "GET", "/v1/inventory")
    check(st == 200, f"GET /v1/inventory: {st} {inv}")
    with open(path) as f:
        feats = parse(f.read())
    for t, j in (("sev", "sev"), ("sev-es", "sev_es"), ("snp", "snp")):
        for k in KEYS:
            if int(feats[f"amd.com/{t}.{k}"]) != inv[j][k]:
                return None
        want = "true" if inv["capabilities"][j.replace("-", "_")] else "false"
        if feats[f"amd.com/{t}"] != want:
            return None
    return feats


class Reader(threading.Thread):
    """Reads the feature file as fast as it can, as nfd-worker would at any moment."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.dir = path, os.path.dirname(path)
        self.stop, self.reads, self.versions, self.errors = False, 0, set(), []

    def run(self):
        while not self.stop:
            try:
                with open(self.path) as f:
                    text = f.read()
                parse(text)
                self.versions.add(text)
                self.reads += 1
                for n in os.listdir(self.dir):
                    if n != os.path.basename(self.path) and not n.startswith("."):
                        self.errors.append(f"a name NFD would read: {n}")
            except (OSError, ValueError) as e:
                self.errors.append(repr(e))
            if len(self.errors) > 20:
                return


def follow(path, api, what, want):
    """After a change: wait (bounded) for the file to show it; returns seconds it took."""
    t0 = time.monotonic()
    feats = wait_for(f"the feature file after {what}",
                     lambda: (lambda f: f if f and want(f) else None)(file_matches_api(path, api)),
                     10, 0.02)
    return time.monotonic() - t0, feats


def test_follows(procs, tmp, emu):
    nfd = os.path.join(tmp, "features.d")
    os.mkdir(nfd)
    path = os.path.join(nfd, "sevd")
    sevd, api = start_sevd(procs, tmp, emu, ["--inventory-file", path])
    feats = wait_for("the feature file", lambda: file_matches_api(path, api), 10, 0.05)
    check(feats["amd.com/sev.total"] == "410" and feats["amd.com/sev.free"] == "410",
          f"Milan's 410 plain-SEV ASIDs: {feats}")
    check(feats["amd.com/sev-es.free"] == "99" and feats["amd.com/sev-es"] == "true",
          f"99 SEV-ES ASIDs: {feats}")
    check(feats["amd.com/snp"] == "false" and feats["amd.com/snp.total"] == "0",
          f"no SNP on this emulator: {feats}")
    check(feats.get("amd.com/sev.api") == "1.55", f"API version: {feats.get('amd.com/sev.api')}")
    check(feats.get("amd.com/sev.psp_healthy") == "true", f"PSP health: {feats}")
    with open(path) as f:
        m = re.search(r"^# \+expiry-time=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$", f.read(), re.M)
    check(m, "no NFD expiry-time directive")
    left = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ")) - time.time()
    check(60 < left <= 601, f"expiry-time {m.group(1)} is {left:.0f} s away (want about 600)")
    print(f"file: {len(feats)} features, sev.free=410 sev-es.free=99 snp=false, "
          f"expires in {left:.0f} s unless renewed")

    reader = Reader(path)
    reader.start()
    lat, handles = [], []
    for i in range(6):
        es = i % 2 == 1
        body = '{"policy": %d, "name": "inv-%d"}' % (4 if es else 1, i)
        st, g = unix_request(api, "POST", "/v1/guests", body)
        check(st == 201, f"launch {i}: {st} {g}")
        handles.append(g["handle"])
        t = "sev-es" if es else "sev"
        n_type = (i + 1) // 2 if es else i // 2 + 1
        d, feats = follow(path, api, f"launch {i}",
                          lambda f: int(f[f"amd.com/{t}.used"]) == n_type)
        lat.append(d)
    check(feats["amd.com/sev.used"] == "3" and feats["amd.com/sev-es.used"] == "3",
          f"three guests of each type: {feats}")
    for i, h in enumerate(handles):
        st, r = unix_request(api, "DELETE", f"/v1/guests/{h}")
        check(st == 200, f"decommission {h}: {st} {r}")
        d, feats = follow(path, api, f"decommission {h}",
                          lambda f: int(f["amd.com/sev.used"]) + int(f["amd.com/sev-es.used"])
                          == 5 - i)
        lat.append(d)
    pending = int(feats["amd.com/sev.flush_pending"]) + int(feats["amd.com/sev-es.flush_pending"])
    check(pending == 6, f"six ASIDs pending a flush after six decommissions: {feats}")
    time.sleep(0.5)  # the reader goes on over the last version too
    reader.stop = True
    reader.join(10)
    check(not reader.errors, f"the reader saw a bad file: {reader.errors[:5]}")
    check(reader.reads > 0 and len(reader.versions) >= 2,
          f"reader: {reader.reads} reads, {len(reader.versions)} versions")
    print(f"follows: 6 launches + 6 decommissions, file matched the API after at most "
          f"{max(lat) * 1000:.0f} ms (median {sorted(lat)[len(lat) // 2] * 1000:.0f} ms); "
          f"reader: {reader.reads} reads, {len(reader.versions)} versions, none torn")

    # The file's updater reads the pool and the PSP's health directly: idle, it makes no core
    # requests (it would show as sevd_core_requests_total{op="HEALTH"} going up 4 a second).
    def core_requests():
        st, text = unix_request(api, "GET", "/metrics")
        check(st == 200, f"GET /metrics: {st}")
        return {m.group(1): int(m.group(2)) for m in
                re.finditer(r'^sevd_core_requests_total\{op="(\w+)"\} (\d+)$', text, re.M)}
    before = core_requests()
    time.sleep(1.5)
    after = core_requests()
    moved = {op: after[op] - before[op] for op in after if after[op] != before.get(op)}
    if moved.get("PLATFORM_STATUS") == 1:  # the platform is read again every 30 s
        del moved["PLATFORM_STATUS"]
    check(moved == {"METRICS": 1}, f"core requests while idle: {moved}")

    st = procs.stop(sevd)
    check(st == 0, f"sevd exit status {st}")
    check(not os.path.exists(path), "the feature file outlived sevd")
    check(not [n for n in os.listdir(nfd)], f"left in features.d: {os.listdir(nfd)}")
    print("stop: file removed with sevd")


def test_config_key(procs, tmp, emu):
    path = os.path.join(tmp, "by-config")
    conf = os.path.join(tmp, "inv.conf")
    with open(conf, "w") as f:
        f.write(f"inventory_file = {path}\n")
    sevd, api = start_sevd(procs, tmp, emu, ["--config", conf], name="sevd-conf")
    wait_for("the feature file from the config key", lambda: file_matches_api(path, api), 10, 0.05)
    procs.stop(sevd)
    with open(conf, "w") as f:
        f.write("inventory_file = relative/features\n")
    log = os.path.join(tmp, "bad.log")
    p = procs.start([os.environ["SEVD_EXE"], "--psp", "emu:" + emu, "--state-dir",
                     os.path.join(tmp, "bad-state"), "--listen",
                     "unix:" + os.path.join(tmp, "bad.sock"), "--config", conf], log)
    st = p.wait(timeout=30)
    with open(log) as f:
        text = f.read()
    check(st != 0 and "inventory_file" in text, f"relative inventory_file: exit {st}, log {text}")
    print("config: inventory_file = PATH keeps the file; a relative path is refused by name")


def test_psp_health(procs, tmp):
    """A PEK_GEN the emulator stalls past sevd's command timeout: the file says
    amd.com/sev.psp_healthy=false until sevd has reconnected, then true again."""
    emu = start_emu(procs, tmp, extra=["--fault", "PEK_GEN:hang=6"], name="emu-hang")
    conf = os.path.join(tmp, "hang.conf")
    with open(conf, "w") as f:
        f.write("command_timeout_ms = 2000\n")
    path = os.path.join(tmp, "hang-features")
    sevd, api = start_sevd(procs, tmp, emu, ["--config", conf, "--inventory-file", path],
                           name="sevd-hang")

    def health():
        with open(path) as f:
            return parse(f.read()).get("amd.com/sev.psp_healthy")
    wait_for("the feature file", lambda: health() == "true", 10, 0.05)
    t = threading.Thread(target=lambda: unix_request(api, "POST", "/v1/platform/pek"))
    t.start()
    wait_for("psp_healthy=false after the stalled PEK_GEN", lambda: health() == "false", 20, 0.05)
    st, _ = unix_request(api, "GET", "/v1/inventory")
    check(st == 503, f"GET /v1/inventory while the PSP is unhealthy: {st}")
    t.join(30)
    wait_for("psp_healthy=true once sevd reconnected", lambda: health() == "true", 30, 0.05)
    procs.stop(sevd)
    print("health: a stalled PEK_GEN shows as amd.com/sev.psp_healthy=false, then true again")


def main():
    def body(procs, tmp):
        emu = start_emu(procs, tmp)
        test_follows(procs, tmp, emu)
        test_config_key(procs, tmp, emu)
        test_psp_health(procs, tmp)
    run_test(("SEVD_EXE", "SEV_PSP_EMU_EXE"), "sevd-inv-", body,
             lambda: f"daemon inventory file: {sevdtest.checks} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
