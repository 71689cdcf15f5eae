/* sevadm's guest lifecycle verbs as an operator runs them: the real sevadm against the real sevd
 * and sev-psp-emu. launch (plain and with a session, streamed image, progress bar only on a
 * terminal), measure (base64 as sevctl, --json, --tik verification), secret inject, finish,
 * activate, deactivate, attest, decommission and show guests; every verb's --help and usage
 * errors (exit 2); refusals (exit 1) that name the guest, the reason, the firmware status by
 * name (INVALID_GUEST_STATE, BAD_MEASUREMENT) and the next step; failures that leave no guest
 * behind; launch storms (--count): N guests with distinct handles and ASIDs, failures part-way
 * (tenant quota, ASIDs run out, images that do not fit) named and undone, the progress bar only
 * on a terminal, --json, and Ctrl-C. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "tests/cli/test-cli-guest-util.h"

static struct tg_daemon d;

static const char *const guest_verbs[] = { "launch", "measure", "finish", "activate",
					   "deactivate", "attest", "decommission" };

/* ---- no daemon needed ---- */

static void test_help(void)
{
	struct tg_run r = TG_CLI("--help");

	TG_EXPECT(r, 0, "Usage: sevadm", NULL);
	for (size_t i = 0; i < ELEMENTSOF(guest_verbs); i++) {
		char line[32];
		snprintf(line, sizeof(line), "\n  %s ", guest_verbs[i]);
		TU_CHECK(strstr(r.out, line), "--help does not list '%s'", guest_verbs[i]);
	}
	tg_run_clear(&r);
	for (size_t i = 0; i < ELEMENTSOF(guest_verbs); i++) {
		char usage[64];
		snprintf(usage, sizeof(usage), "Usage: sevadm %s", guest_verbs[i]);
		r = TG_CLI(guest_verbs[i], "--help");
		TG_EXPECT(r, 0, usage, NULL);
		TU_CHECK(r.err[0] == 0, "%s --help wrote to stderr: %s", guest_verbs[i], r.err);
		tg_run_clear(&r);
	}
	r = TG_CLI("secret", "inject", "--help");
	TG_EXPECT(r, 0, "Usage: sevadm secret inject HANDLE --header", NULL);
	tg_run_clear(&r);
	r = TG_CLI("secret", "--help");
	TG_EXPECT(r, 0, "sevadm secret inject HANDLE", NULL);
	tg_run_clear(&r);
}

/* Exit 2, a message naming the problem, and the verb's --help hint; nothing reaches sevd (the
 * daemon is not even running). */
static void test_usage_errors(void)
{
	static const struct {
		const char *args[10];
		const char *err;
	} cases[] = {
		{ { "launch" }, "needs exactly one IMAGE" },
		{ { "launch", "a", "b" }, "needs exactly one IMAGE" },
		{ { "launch", "img", "--godh", "g" }, "--godh and --session go together" },
		{ { "launch", "img", "--session-dir", "d", "--godh", "g", "--session", "s" },
		  "not both" },
		{ { "launch", "img", "--session-name", "x" }, "--session-name needs --session-dir" },
		{ { "launch", "img", "--policy", "fast" }, "--policy fast: not a policy" },
		{ { "launch", "img", "--policy", "0x40" }, "not a policy" },
		{ { "launch", "img", "--asid", "0" }, "--asid 0: not an ASID" },
		{ { "launch", "img", "--memory-size", "lots" }, "not a number of bytes" },
		{ { "launch", "img", "--policy" }, "needs an argument" },
		{ { "launch", "img", "--frobnicate" }, "Try 'sevadm launch --help'" },
		{ { "measure" }, "needs exactly one HANDLE" },
		{ { "measure", "abc" }, "'abc' is not a guest handle" },
		{ { "measure", "0" }, "'0' is not a guest handle" },
		{ { "measure", "1", "--tik", "t" }, "--tik needs --launch-digest or --firmware" },
		{ { "measure", "1", "--firmware", "f" }, "need --tik" },
		{ { "finish" }, "needs exactly one HANDLE" },
		{ { "finish", "1", "2" }, "needs exactly one HANDLE" },
		{ { "finish", "-1" }, "Try 'sevadm finish --help'" },
		{ { "activate", "1", "--asid", "zero" }, "--asid zero: not an ASID" },
		{ { "deactivate", "x" }, "is not a guest handle" },
		{ { "decommission" }, "needs exactly one HANDLE" },
		{ { "attest", "1", "--nonce", "beef" }, "--nonce beef: expected 32 hex digits" },
		{ { "secret" }, "expected 'build' or 'inject'" },
		{ { "secret", "frob" }, "unknown subcommand 'frob' (build, inject)" },
		{ { "secret", "inject", "1" }, "inject needs --header and --payload" },
		{ { "secret", "inject", "--header", "h", "--payload", "p" }, "needs exactly one HANDLE" },
		{ { "secret", "inject", "h1", "--header", "h", "--payload", "p" }, "not a guest handle" },
		{ { "launch", "img", "--count", "0" }, "--count 0: not a number of guests (1..4096)" },
		{ { "launch", "img", "--count", "many" }, "--count many: not a number of guests" },
		{ { "launch", "img", "--parallel", "2" }, "--parallel needs --count" },
		{ { "launch", "img", "--count", "2", "--parallel", "65" },
		  "--parallel 65: not a number of launches at a time (1..64)" },
		{ { "launch", "-", "--count", "2" }, "give a file, not '-'" },
		{ { "launch", "img", "--count", "2", "--vmsa", "-" }, "give a file, not '-'" },
		{ { "launch", "img", "--count", "2", "--asid", "7" }, "cannot go with --count" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct tg_run r = tg_cli_argv(cases[i].args);
		TU_CHECK(r.rc == 2, "case %zu (%s): exit %d, expected 2: %s", i, cases[i].args[0],
			 r.rc, r.err);
		TU_CHECK(strstr(r.err, cases[i].err), "case %zu: stderr lacks '%s': %s", i,
			 cases[i].err, r.err);
		TU_CHECK(strncmp(r.err, "sevadm: ", 8) == 0, "case %zu: not prefixed: %s", i, r.err);
		TU_CHECK(strstr(r.err, "Try 'sevadm "), "case %zu: no --help hint: %s", i, r.err);
		tg_run_clear(&r);
	}
}

/* ---- helpers over the running daemon ---- */

static unsigned count_guests(void)
{
	struct tg_run r = TG_CLI("--json", "show", "guests");
	json_object *j;
	unsigned n;

	TG_EXPECT(r, 0, NULL, NULL);
	j = tg_json(&r);
	n = (unsigned)json_object_array_length(tg_get(j, "guests", json_type_array));
	json_object_put(j);
	tg_run_clear(&r);
	return n;
}

/* The guest's entry in `show guests --json`, or NULL. */
static json_object *find_guest(unsigned handle)
{
	struct tg_run r = TG_CLI("--json", "show", "guests");
	json_object *j, *list, *found = NULL;

	TG_EXPECT(r, 0, NULL, NULL);
	j = tg_json(&r);
	list = tg_get(j, "guests", json_type_array);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *g = json_object_array_get_idx(list, i);
		if ((unsigned)json_object_get_int(tg_get(g, "handle", json_type_int)) == handle)
			found = json_object_get(g);
	}
	json_object_put(j);
	tg_run_clear(&r);
	return found;
}

static const char *guest_state(unsigned handle, char *buf, size_t len)
{
	json_object *g = find_guest(handle);

	TU_CHECK(g, "guest %u is not in show guests", handle);
	snprintf(buf, len, "%s", json_object_get_string(tg_get(g, "state", json_type_string)));
	json_object_put(g);
	return buf;
}

/* `sevadm launch IMAGE args...` in human mode: stdout is the handle alone. */
static unsigned launch(const char *image, const char *const *extra)
{
	const char *args[24] = { "launch", image };
	size_t n = 2;
	unsigned h = 0;

	for (; extra && *extra && n < 22; extra++)
		args[n++] = *extra;
	struct tg_run r = tg_cli_argv(args);
	TG_EXPECT(r, 0, NULL, "launched: handle");
	TU_CHECK(sscanf(r.out, "%u\n", &h) == 1 && h > 0, "launch printed no handle: %s", r.out);
	TU_CHECK(!strchr(r.err, '\r') && !strstr(r.err, "] "), "a progress bar on a pipe: %s", r.err);
	tg_run_clear(&r);
	return h;
}

static char *handle_s(unsigned h)
{
	static char buf[4][16];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%u", h);
	return buf[k];
}

/* ---- with the daemon ---- */

/* The plain lifecycle (no session): launch → wrong-state refusals → measure → finish →
 * activate → decommission, with human and JSON output. */
static void test_lifecycle(void)
{
	_cleanup_free_ char *img = tg_make_image("plain.img", 300000);
	char st[32];
	unsigned before = count_guests(), h = launch(img, (const char *[]){ "--name", "plain", NULL });
	const char *hs = handle_s(h);
	struct tg_run r;

	TU_CHECK_EQ(count_guests(), before + 1);
	TU_CHECK(strcmp(guest_state(h, st, sizeof(st)), "LUPDATE") == 0, "state %s", st);

	r = TG_CLI("show", "guests");
	TG_EXPECT(r, 0, "HANDLE", NULL);
	TU_CHECK(strstr(r.out, "plain") && strstr(r.out, "LUPDATE") && strstr(r.out, "NODBG"),
		 "show guests: %s", r.out);
	TU_CHECK(strstr(r.out, "TENANT") && strstr(r.out, "default"), "tenant column: %s", r.out);
	tg_run_clear(&r);

	/* Wrong state: LAUNCH_FINISH needs LSECRET. The message names the guest, the firmware
	 * status, the state it is in and what to do. */
	r = TG_CLI("finish", hs);
	TG_EXPECT(r, 1, NULL, "INVALID_GUEST_STATE");
	TU_CHECK(strstr(r.err, "sevadm: finish: guest ") && strstr(r.err, "is in state LUPDATE") &&
			 strstr(r.err, "sevadm measure"), "finish too early: %s", r.err);
	tg_run_clear(&r);

	r = TG_CLI("measure", hs);
	TG_EXPECT(r, 0, NULL, NULL);
	size_t blob_len = 0;
	_cleanup_free_ uint8_t *blob = NULL;
	r.out[strcspn(r.out, "\n")] = 0;
	TU_CHECK(base64_decode(r.out, strlen(r.out), &blob, &blob_len) == 0 && blob_len == 48,
		 "measure printed no 48-byte base64 blob: %s", r.out);
	tg_run_clear(&r);
	TU_CHECK(strcmp(guest_state(h, st, sizeof(st)), "LSECRET") == 0, "state %s", st);

	/* Asked again: the same measurement (sevd answers it from its journal). */
	r = TG_CLI("--json", "measure", hs);
	TG_EXPECT(r, 0, NULL, NULL);
	json_object *j = tg_json(&r);
	_cleanup_free_ char *mhex = hex_encode(blob, 32), *nhex = hex_encode(blob + 32, 16);
	TU_CHECK(strcmp(json_object_get_string(tg_get(j, "measurement", json_type_string)), mhex) == 0,
		 "measurement changed");
	TU_CHECK(strcmp(json_object_get_string(tg_get(j, "mnonce", json_type_string)), nhex) == 0,
		 "mnonce changed");
	TU_CHECK_EQ(json_object_get_int(tg_get(j, "handle", json_type_int)), h);
	tg_get(j, "blob", json_type_string);
	json_object_put(j);
	tg_run_clear(&r);

	r = TG_CLI("finish", hs);
	TG_EXPECT(r, 0, "finished its launch (state RUNNING)", NULL);
	tg_run_clear(&r);
	r = TG_CLI("finish", hs);
	TG_EXPECT(r, 1, NULL, "(firmware status INVALID_GUEST_STATE)");
	TU_CHECK(strstr(r.err, "is in state RUNNING"), "finish twice: %s", r.err);
	tg_run_clear(&r);

	r = TG_CLI("activate", hs);
	TG_EXPECT(r, 0, NULL, NULL);
	unsigned asid = (unsigned)atoi(r.out);
	TU_CHECK(asid >= 5 && asid <= 15, "activate printed ASID '%s' outside the SEV range 5..15",
		 r.out);
	tg_run_clear(&r);
	r = TG_CLI("--json", "activate", hs);
	TG_EXPECT(r, 0, NULL, NULL);
	j = tg_json(&r);
	TU_CHECK_EQ(json_object_get_int(tg_get(j, "asid", json_type_int)), asid);
	json_object_put(j);
	tg_run_clear(&r);
	json_object *g = find_guest(h);
	/* show guests --json: the documented keys in a fixed order (what scripts rely on) */
	static const char *const keys[] = { "handle", "name", "state", "policy", "asid", "tenant",
					    "es", "memory_size", "data_bytes", "measurement",
					    "mnonce", "created", "updated", "id" };
	size_t k = 0;
	json_object_object_foreach(g, key, val) {
		(void)val;
		TU_CHECK(k < ELEMENTSOF(keys) && strcmp(key, keys[k]) == 0, "key %zu is '%s'", k, key);
		k++;
	}
	TU_CHECK_EQ(k, ELEMENTSOF(keys));
	TU_CHECK(strcmp(json_object_get_string(tg_get(g, "measurement", json_type_string)), mhex) == 0,
		 "show guests measurement");
	TU_CHECK_EQ(json_object_get_int(tg_get(g, "asid", json_type_int)), asid);
	TU_CHECK(strcmp(json_object_get_string(tg_get(g, "state", json_type_string)), "RUNNING") == 0,
		 "not RUNNING");
	json_object_put(g);

	r = TG_CLI("--json", "decommission", hs);
	TG_EXPECT(r, 0, NULL, NULL);
	j = tg_json(&r);
	TU_CHECK(json_object_get_boolean(tg_get(j, "decommissioned", json_type_boolean)), "json");
	json_object_put(j);
	tg_run_clear(&r);
	TU_CHECK(!find_guest(h), "guest %u still listed after decommission", h);
	TU_CHECK_EQ(count_guests(), before);

	/* Gone: every verb says so, with the next step. */
	static const char *const after[] = { "measure", "finish", "activate", "decommission" };
	for (size_t i = 0; i < ELEMENTSOF(after); i++) {
		r = TG_CLI(after[i], hs);
		TG_EXPECT(r, 1, NULL, "no such guest: 'sevadm show guests'");
		TU_CHECK(strstr(r.err, "guest ") && strstr(r.err, hs), "%s: %s", after[i], r.err);
		tg_run_clear(&r);
	}
}

/* deactivate / activate again: the guest keeps its keys, the ASID comes back from the pool. */
static void test_deactivate(void)
{
	_cleanup_free_ char *img = tg_make_image("deact.img", 4096);
	unsigned h = launch(img, (const char *[]){ "--name", "deact", NULL });
	const char *hs = handle_s(h);
	struct tg_run r = TG_CLI("measure", hs);

	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	r = TG_CLI("finish", hs);
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	r = TG_CLI("deactivate", hs);
	TG_EXPECT(r, 0, "deactivated", NULL);
	tg_run_clear(&r);
	json_object *g = find_guest(h);
	json_object *asid = NULL;
	TU_CHECK(json_object_object_get_ex(g, "asid", &asid) && !asid, "ASID after deactivate: %s",
		 json_object_to_json_string(g));
	json_object_put(g);
	r = TG_CLI("deactivate", hs);
	TG_EXPECT(r, 1, NULL, "firmware status INACTIVE");
	tg_run_clear(&r);
	r = TG_CLI("activate", hs);
	TG_EXPECT(r, 0, NULL, NULL);
	TU_CHECK(atoi(r.out) >= 5, "re-activate: %s", r.out);
	tg_run_clear(&r);
	r = TG_CLI("decommission", hs);
	TG_EXPECT(r, 0, "decommissioned", NULL);
	tg_run_clear(&r);
}

/* A handle nobody launched: exit 1, the handle, "no such guest" and where to look. */
static void test_bad_handle(void)
{
	static const char *const verbs[] = { "measure", "finish", "activate", "deactivate",
					     "decommission", "attest" };
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
		struct tg_run r = TG_CLI(verbs[i], "4242");
		TG_EXPECT(r, 1, NULL, "guest 4242: ");
		TU_CHECK(strstr(r.err, "no such guest"), "%s: %s", verbs[i], r.err);
		tg_run_clear(&r);
	}
	_cleanup_free_ char *hdr = tg_make_image("hdr.bin", 52), *pay = tg_make_image("pay.bin", 64);
	struct tg_run r = TG_CLI("secret", "inject", "4242", "--header", hdr, "--payload", pay);
	TG_EXPECT(r, 1, NULL, "guest 4242: ");
	tg_run_clear(&r);
}

/* Failures before or after LAUNCH_START leave no guest behind. */
static void test_launch_failures(void)
{
	_cleanup_free_ char *big = tg_make_image("big.img", 3 << 20);
	_cleanup_free_ char *empty = path_join(tg_dir, "empty.img");
	unsigned before = count_guests();
	struct tg_run r;

	r = TG_CLI("launch", "/nonexistent/image.bin");
	TG_EXPECT(r, 1, NULL, "cannot open the image /nonexistent/image.bin: No such file");
	tg_run_clear(&r);
	TU_CHECK(write_file_new(empty, "", 0, 0644) == 0, "empty image");
	r = TG_CLI("launch", empty);
	TG_EXPECT(r, 1, NULL, "is empty: nothing to launch");
	tg_run_clear(&r);
	r = TG_CLI("launch", big, "--session-dir", tg_dir, "--name", "nosuch");
	TG_EXPECT(r, 1, NULL, "nosuch_godh.b64");
	TU_CHECK(strstr(r.err, "sevadm session"), "no next step: %s", r.err);
	tg_run_clear(&r);
	/* The image does not fit the guest memory: refused by sevd after LAUNCH_START; the
	 * guest is decommissioned by sevadm. */
	r = TG_CLI("launch", big, "--memory-size", "1048576");
	TU_CHECK(r.rc == 1, "an image larger than the memory launched: %s %s", r.out, r.err);
	TU_CHECK(strstr(r.err, "was decommissioned; nothing is left behind"), "no cleanup: %s",
		 r.err);
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before);
}

/* The progress bar: drawn on a terminal, absent on a pipe (launch() checks the pipe side). */
static void test_progress(void)
{
	_cleanup_free_ char *img = tg_make_image("tty.img", 6 << 20);
	struct tg_run r = TG_CLI_TTY("launch", img, "--name", "tty", "--memory-size", "8388608");
	unsigned h = 0;

	TG_EXPECT(r, 0, NULL, "image upload [");
	TU_CHECK(strstr(r.err, "100%") && strstr(r.err, "6.0 MiB / 6.0 MiB") &&
			 strstr(r.err, " done"), "the terminal showed: %s", r.err);
	TU_CHECK(sscanf(r.out, "%u", &h) == 1 && h > 0, "the handle went to stdout: %s", r.out);
	tg_run_clear(&r);
	/* --json stays machine-readable: no bar even on a terminal. */
	r = TG_CLI_TTY("--json", "launch", img, "--name", "tty2", "--memory-size", "8388608");
	TG_EXPECT(r, 0, "\"handle\"", NULL);
	TU_CHECK(!strstr(r.err, "image upload ["), "a bar with --json: %s", r.err);
	json_object *j = tg_json(&r);
	unsigned h2 = (unsigned)json_object_get_int(tg_get(j, "handle", json_type_int));
	TU_CHECK_EQ(json_object_get_int64(tg_get(j, "bytes", json_type_int)), 6 << 20);
	TU_CHECK(strcmp(json_object_get_string(tg_get(j, "state", json_type_string)), "LUPDATE") == 0,
		 "launch --json state");
	json_object_put(j);
	tg_run_clear(&r);
	r = TG_CLI("decommission", handle_s(h));
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	r = TG_CLI("decommission", handle_s(h2));
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
}

/* IMAGE '-': read from stdin, sent chunked (no length known up front), measured whole: the
 * same launch digest as the file sent with a Content-Length. */
static void test_stdin(void)
{
	_cleanup_free_ char *img = tg_make_image("stdin.img", (1 << 20) + 1000);
	const char *args[] = { "--json", "launch", "-", "--name", "piped", NULL };
	struct tg_run r = tg_cli_stdin_argv(img, args);

	TG_EXPECT(r, 0, NULL, NULL);
	json_object *j = tg_json(&r);
	unsigned h = (unsigned)json_object_get_int(tg_get(j, "handle", json_type_int));
	TU_CHECK_EQ(json_object_get_int64(tg_get(j, "bytes", json_type_int)), (1 << 20) + 1000);
	json_object_put(j);
	tg_run_clear(&r);
	json_object *g = find_guest(h);
	/* padded to 16 bytes, as firmware measures whole blocks */
	TU_CHECK_EQ(json_object_get_int64(tg_get(g, "data_bytes", json_type_int)), (1 << 20) + 1008);
	json_object_put(g);
	r = TG_CLI("decommission", handle_s(h));
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
}

/* With a session: verification with the TIK, a secret that the firmware accepts, a tampered
 * one it refuses (BAD_MEASUREMENT), a tampered session blob it refuses at LAUNCH_START. */
static void test_session_and_secret(void)
{
	_cleanup_free_ char *img = tg_make_image("sess.img", 65536), *certs = path_join(tg_dir, "certs");
	_cleanup_free_ char *pdh = path_join(certs, "pdh.cert");
	struct tg_run r = TG_CLI("export", "--full", certs);

	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	r = TG_CLI("session", "--name", "sess", pdh, "1");
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	r = TG_CLI("session", "--name", "wrongpol", pdh, "3");
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);

	/* A session made for another policy: the policy MAC does not match. */
	unsigned before = count_guests();
	r = TG_CLI("launch", img, "--session-dir", ".", "--name", "wrongpol");
	TG_EXPECT(r, 1, NULL, "(firmware status BAD_MEASUREMENT)");
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before);

	unsigned h = launch(img, (const char *[]){ "--session-dir", ".", "--name", "sess", NULL });
	const char *hs = handle_s(h);
	/* secret inject before measure: wrong state. */
	_cleanup_free_ char *junk_h = tg_make_image("junk.hdr", 52), *junk_p = tg_make_image("junk.pay", 64);
	r = TG_CLI("secret", "inject", hs, "--header", junk_h, "--payload", junk_p);
	TG_EXPECT(r, 1, NULL, "INVALID_GUEST_STATE");
	TU_CHECK(strstr(r.err, "secret needs LSECRET"), "hint: %s", r.err);
	tg_run_clear(&r);

	/* measure --tik --firmware: verified; a wrong image: refused with a clear verdict. */
	r = TG_CLI("measure", hs, "--tik", "sess_tik.bin", "--firmware", img, "--outfile",
		   "sess.blob");
	TG_EXPECT(r, 0, NULL, "Measurement verified");
	tg_run_clear(&r);
	r = TG_CLI("measure", hs, "--tik", "sess_tik.bin", "--firmware", junk_p);
	TG_EXPECT(r, 1, NULL, "the measurement does NOT match");
	tg_run_clear(&r);
	r = TG_CLI("--json", "measure", hs, "--tik", "sess_tik.bin", "--firmware", img, "--policy",
		   "nodbg");
	TG_EXPECT(r, 0, "\"verified\": true", NULL);
	tg_run_clear(&r);

	/* A secret packet: tampered MAC → BAD_MEASUREMENT; the real one is accepted. */
	_cleanup_free_ char *sec = tg_make_image("disk.key", 32);
	r = TG_CLI("secret", "build", "--tik", "sess_tik.bin", "--tek", "sess_tek.bin",
		   "--launch-measure-blob", "sess.blob", "--secret",
		   "736869e5-84f0-4973-92ec-06879ce3da0b:disk.key", "s.hdr", "s.pay");
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	size_t hl = 0;
	_cleanup_free_ uint8_t *hdr = tu_read_file("s.hdr", &hl);
	TU_CHECK_EQ(hl, 52);
	hdr[51] ^= 1; /* last MAC byte */
	TU_CHECK(write_file_new("bad.hdr", hdr, hl, 0644) == 0, "bad.hdr");
	r = TG_CLI("secret", "inject", hs, "--header", "bad.hdr", "--payload", "s.pay");
	TG_EXPECT(r, 1, NULL, "(firmware status BAD_MEASUREMENT)");
	TU_CHECK(strstr(r.err, "guest "), "names the guest: %s", r.err);
	tg_run_clear(&r);
	r = TG_CLI("secret", "inject", hs, "--header", "s.hdr", "--payload", "s.pay");
	TG_EXPECT(r, 0, "Secret injected into guest", NULL);
	tg_run_clear(&r);
	r = TG_CLI("finish", hs);
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	r = TG_CLI("secret", "inject", hs, "--header", "s.hdr", "--payload", "s.pay");
	TG_EXPECT(r, 1, NULL, "INVALID_GUEST_STATE");
	tg_run_clear(&r);
	r = TG_CLI("decommission", hs);
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);

	/* A storm under one session: guests ss-1 and ss-2 both use sess's keys, so the owner's TIK
	 * verifies each one's measurement. */
	unsigned hh[2];
	r = TG_CLI("launch", img, "--count", "2", "--session-dir", ".", "--session-name", "sess",
		   "--name", "ss");
	TG_EXPECT(r, 0, NULL, "2 guests launched ('ss-1' to 'ss-2')");
	TU_CHECK(sscanf(r.out, "%u\n%u", &hh[0], &hh[1]) == 2, "two handles: %s", r.out);
	tg_run_clear(&r);
	for (size_t i = 0; i < 2; i++) {
		r = TG_CLI("measure", handle_s(hh[i]), "--tik", "sess_tik.bin", "--firmware", img);
		TG_EXPECT(r, 0, NULL, "Measurement verified");
		tg_run_clear(&r);
		r = TG_CLI("decommission", handle_s(hh[i]));
		TG_EXPECT(r, 0, NULL, NULL);
		tg_run_clear(&r);
	}
}

/* The host's admission rules (sevd.conf: require_nodbg, a quota of 1 for tenant "tiny") and
 * ASID ranges: each refusal names the rule and says what to do; no guest is left behind. */
static void test_admission(void)
{
	_cleanup_free_ char *img = tg_make_image("adm.img", 8192);
	unsigned before = count_guests();
	struct tg_run r = TG_CLI("launch", img, "--policy", "0");

	TG_EXPECT(r, 1, NULL, "rule require_nodbg");
	TU_CHECK(strstr(r.err, "requires NODBG") && strstr(r.err, "change the guest's policy") &&
			 !strstr(r.err, "your role"), "admission refusal: %s", r.err);
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before);

	unsigned h = launch(img, (const char *[]){ "--tenant", "tiny", "--name", "tiny1", NULL });
	r = TG_CLI("launch", img, "--tenant", "tiny", "--name", "tiny2");
	TG_EXPECT(r, 1, NULL, "rule tenant_quota");
	TU_CHECK(strstr(r.err, "tenant tiny"), "quota refusal names the tenant: %s", r.err);
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before + 1);
	/* A guest without an ASID still counts: deactivating makes no room for another launch,
	 * and the deactivated guest itself can be activated again (it is already counted). */
	r = TG_CLI("deactivate", handle_s(h));
	TG_EXPECT(r, 0, "deactivated", NULL);
	tg_run_clear(&r);
	r = TG_CLI("launch", img, "--tenant", "tiny", "--name", "tiny3");
	TG_EXPECT(r, 1, NULL, "rule tenant_quota");
	TU_CHECK(strstr(r.err, "tenant tiny holds 1 of its 1 guests") &&
			 strstr(r.err, "with or without an ASID"), "quota after deactivate: %s", r.err);
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before + 1);
	r = TG_CLI("activate", handle_s(h));
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	r = TG_CLI("decommission", handle_s(h));
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);

	/* ASID 3 is in the SEV-ES range (1..4): a plain SEV guest cannot have it. */
	r = TG_CLI("launch", img, "--asid", "3");
	TG_EXPECT(r, 1, NULL, "ASID 3");
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before);
}

/* SEV-ES: the VMSA page follows the image (LAUNCH_UPDATE_VMSA) and the ASID comes from the ES
 * range 1..4; a VMSA for a plain SEV guest is refused by firmware by name, and that launch
 * is decommissioned. */
static void test_es(void)
{
	_cleanup_free_ char *img = tg_make_image("es.img", 8192), *vmsa = tg_make_image("es.vmsa", 4096);
	unsigned before = count_guests();
	struct tg_run r = TG_CLI("--json", "launch", img, "--policy", "nodbg,es", "--vmsa", vmsa,
				 "--name", "es");

	TG_EXPECT(r, 0, NULL, NULL);
	json_object *j = tg_json(&r);
	unsigned h = (unsigned)json_object_get_int(tg_get(j, "handle", json_type_int));
	int asid = json_object_get_int(tg_get(j, "asid", json_type_int));
	TU_CHECK(asid >= 1 && asid <= 4, "an SEV-ES guest got ASID %d, outside 1..4", asid);
	TU_CHECK_EQ(json_object_get_int(tg_get(j, "policy", json_type_int)), 0x5);
	json_object_put(j);
	tg_run_clear(&r);
	r = TG_CLI("show", "guests");
	TU_CHECK(strstr(r.out, "NODBG ES"), "policy words: %s", r.out);
	tg_run_clear(&r);
	r = TG_CLI("launch", img, "--vmsa", vmsa);
	TG_EXPECT(r, 1, NULL, "(firmware status UNSUPPORTED)");
	TU_CHECK(strstr(r.err, "was decommissioned; nothing is left behind"), "cleanup: %s", r.err);
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before + 1);
	r = TG_CLI("decommission", handle_s(h));
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
}

/* Roles: a reader token may look but not launch; the refusal says what to do. */
static void test_roles(void)
{
	_cleanup_free_ char *img = tg_make_image("role.img", 4096);
	struct tg_run r = TG_CLI("--daemon", d.tcp_ep, "--token", d.reader_token, "launch", img);

	TG_EXPECT(r, 1, NULL, "your role may not do this");
	tg_run_clear(&r);
	r = TG_CLI("--daemon", d.tcp_ep, "--token", d.reader_token, "show", "guests");
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	unsigned before = count_guests();
	r = TG_CLI("--daemon", d.tcp_ep, "--token", d.launcher_token, "launch", img, "--name", "tcp");
	TG_EXPECT(r, 0, NULL, NULL);
	unsigned h = (unsigned)atoi(r.out);
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before + 1);
	r = TG_CLI("--daemon", d.tcp_ep, "--token", d.launcher_token, "decommission", handle_s(h));
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
}

/* ---- launch storms (--count) ---- */

/* The handles a storm printed, one a line; at most max. */
static size_t handles_of(const char *out, unsigned *h, size_t max)
{
	size_t n = 0;

	for (const char *l = out; *l && n < max; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
		TU_CHECK(sscanf(l, "%u", &h[n]) == 1 && h[n] > 0, "not a handle line: %s", out);
		n++;
	}
	return n;
}

static void decommission_all(const unsigned *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct tg_run r = TG_CLI("decommission", handle_s(h[i]));
		TG_EXPECT(r, 0, NULL, NULL);
		tg_run_clear(&r);
	}
}

/* Each handle is a guest in show guests named PREFIX-<its line number> (the stable order),
 * in LUPDATE, and all hold distinct ASIDs. */
static void check_storm_guests(const unsigned *h, size_t n, const char *prefix, bool by_line)
{
	int asids[64];

	TU_CHECK(n <= ELEMENTSOF(asids), "too many guests for the check");
	for (size_t i = 0; i < n; i++) {
		json_object *g = find_guest(h[i]);
		char want[64];
		TU_CHECK(g, "storm guest %u is not in show guests", h[i]);
		const char *name = json_object_get_string(tg_get(g, "name", json_type_string));
		snprintf(want, sizeof(want), "%s-%zu", prefix, i + 1);
		if (by_line)
			TU_CHECK(strcmp(name, want) == 0, "line %zu is guest %u '%s', expected '%s'", i + 1,
				 h[i], name, want);
		else
			TU_CHECK(strncmp(name, prefix, strlen(prefix)) == 0 && name[strlen(prefix)] == '-',
				 "guest %u is named '%s', not %s-N", h[i], name, prefix);
		TU_CHECK(strcmp(json_object_get_string(tg_get(g, "state", json_type_string)),
				"LUPDATE") == 0, "storm guest %u is not in LUPDATE", h[i]);
		asids[i] = json_object_get_int(tg_get(g, "asid", json_type_int));
		TU_CHECK(asids[i] >= 5 && asids[i] <= 15, "guest %u has ASID %d", h[i], asids[i]);
		for (size_t j = 0; j < i; j++) {
			TU_CHECK(h[j] != h[i], "handle %u printed twice", h[i]);
			TU_CHECK(asids[j] != asids[i], "ASID %d given twice", asids[i]);
		}
		json_object_put(g);
	}
}

/* Lines of stderr holding needle. */
static unsigned count_lines_with(const char *text, const char *needle)
{
	unsigned n = 0;

	for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
		const char *end = strchr(l, '\n');
		_cleanup_free_ char *line = strndup(l, end ? (size_t)(end - l) : strlen(l));
		n += strstr(line, needle) != NULL;
	}
	return n;
}

/* Six guests, three at a time: six handles in the guests' order, distinct handles and ASIDs,
 * all in show guests (human and JSON); no bar on a pipe. */
static void test_storm(void)
{
	_cleanup_free_ char *img = tg_make_image("storm.img", 200000);
	unsigned before = count_guests(), h[8];
	struct tg_run r = TG_CLI("launch", img, "--count", "6", "--parallel", "3", "--name", "st");

	TG_EXPECT(r, 0, NULL, "6 guests launched ('st-1' to 'st-6'), policy 0x1 (NODBG)");
	TU_CHECK(!strchr(r.err, '\r') && !strstr(r.err, "guests ["), "a bar on a pipe: %s", r.err);
	size_t n = handles_of(r.out, h, ELEMENTSOF(h));
	TU_CHECK_EQ(n, 6);
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before + 6);
	check_storm_guests(h, n, "st", true);
	r = TG_CLI("show", "guests");
	TG_EXPECT(r, 0, "st-6", NULL);
	TU_CHECK(strstr(r.out, "st-1 ") && strstr(r.out, "st-3 "), "show guests: %s", r.out);
	tg_run_clear(&r);
	decommission_all(h, n);
	TU_CHECK_EQ(count_guests(), before);
}

/* A storm that meets the tenant's quota (2) part-way: exit 1, two guests launched, each refused
 * guest named with sevd's reason, a summary; no guest beyond the two. */
static void test_storm_quota(void)
{
	_cleanup_free_ char *img = tg_make_image("quota.img", 8192);
	unsigned before = count_guests(), h[8];
	struct tg_run r = TG_CLI("launch", img, "--count", "5", "--parallel", "2", "--tenant",
				 "pair", "--name", "sq");

	TG_EXPECT(r, 1, NULL, "sevadm: launch: 3 of 5 guests failed (sq-");
	size_t n = handles_of(r.out, h, ELEMENTSOF(h));
	TU_CHECK_EQ(n, 2);
	TU_CHECK_EQ(count_lines_with(r.err, "rule tenant_quota: tenant pair"), 3);
	TU_CHECK_EQ(count_lines_with(r.err, " of 5): refused by the host admission policy"), 3);
	TU_CHECK(strstr(r.err, "2 launched (their handles are on stdout)") &&
			 strstr(r.err, "launch one again with 'sevadm launch"), "summary: %s", r.err);
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before + 2);
	check_storm_guests(h, n, "sq", false);

	/* --json: one entry per guest, in order; the refused ones carry sevd's reason. */
	r = TG_CLI("--json", "launch", img, "--count", "3", "--tenant", "pair", "--name", "sj");
	TU_CHECK(r.rc == 1, "storm over quota: exit %d: %s", r.rc, r.err);
	json_object *arr = json_tokener_parse(r.out);
	TU_CHECK(arr && json_object_is_type(arr, json_type_array) &&
			 json_object_array_length(arr) == 3, "--json storm: %s", r.out);
	for (size_t i = 0; i < 3; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		char name[16];
		snprintf(name, sizeof(name), "sj-%zu", i + 1);
		TU_CHECK_EQ(json_object_get_int(tg_get(o, "index", json_type_int)), i + 1);
		TU_CHECK(strcmp(json_object_get_string(tg_get(o, "name", json_type_string)), name) == 0,
			 "entry %zu: %s", i, json_object_to_json_string(o));
		TU_CHECK(strstr(json_object_get_string(tg_get(o, "error", json_type_string)),
				"tenant_quota"), "entry %zu: %s", i, json_object_to_json_string(o));
	}
	json_object_put(arr);
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before + 2);
	decommission_all(h, n);
	TU_CHECK_EQ(count_guests(), before);
}

/* More guests than free SEV ASIDs (5..15): those that find none fail by name, the others hold
 * distinct ASIDs. Images that do not fit the memory fail after LAUNCH_START: each of those is
 * decommissioned, none is left. */
static void test_storm_exhaustion(void)
{
	_cleanup_free_ char *img = tg_make_image("many.img", 4096), *big = tg_make_image("big2.img", 2 << 20);
	unsigned before = count_guests(), h[16];
	struct tg_run r = TG_CLI("launch", img, "--count", "13", "--parallel", "4", "--name", "ex");

	TG_EXPECT(r, 1, NULL, " of 13 guests failed (ex-");
	size_t n = handles_of(r.out, h, ELEMENTSOF(h));
	unsigned failed = count_lines_with(r.err, " of 13): no free plain SEV ASID: all of 5..15");
	TU_CHECK(n + failed == 13 && failed >= 2, "%zu launched, %u failed for want of an ASID: %s",
		 n, failed, r.err);
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before + n);
	check_storm_guests(h, n, "ex", false);
	decommission_all(h, n);

	r = TG_CLI("launch", big, "--count", "3", "--memory-size", "1048576", "--name", "nf");
	TG_EXPECT(r, 1, NULL, "3 of 3 guests failed (nf-1, nf-2, nf-3)");
	TU_CHECK(r.out[0] == 0, "handles of failed guests: %s", r.out);
	TU_CHECK_EQ(count_lines_with(r.err, "was decommissioned; nothing is left behind"), 3);
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before);

	r = TG_CLI("launch", "/nonexistent/storm.img", "--count", "2");
	TG_EXPECT(r, 1, NULL, "cannot open the image /nonexistent/storm.img: No such file");
	tg_run_clear(&r);
	r = TG_CLI("launch", "/dev/null", "--count", "2");
	TG_EXPECT(r, 1, NULL, "is not a regular file: --count reads it once per guest");
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before);
}

/* The storm's bar on a terminal ("guests [...] k/N launched"), never with --json. */
static void test_storm_progress(void)
{
	_cleanup_free_ char *img = tg_make_image("tstorm.img", 65536);
	unsigned h[8];
	struct tg_run r = TG_CLI_TTY("launch", img, "--count", "3", "--name", "ts");

	TG_EXPECT(r, 0, NULL, "guests [");
	TU_CHECK(strstr(r.err, "] 3/3 launched") && strstr(r.err, "] 0/3"), "the terminal showed: %s",
		 r.err);
	size_t n = handles_of(r.out, h, ELEMENTSOF(h));
	TU_CHECK_EQ(n, 3);
	tg_run_clear(&r);
	decommission_all(h, n);
	r = TG_CLI_TTY("--json", "launch", img, "--count", "2", "--name", "tj");
	TG_EXPECT(r, 0, NULL, NULL);
	TU_CHECK(!strstr(r.err, "guests ["), "a bar with --json: %s", r.err);
	json_object *arr = json_tokener_parse(r.out);
	TU_CHECK(arr && json_object_is_type(arr, json_type_array) &&
			 json_object_array_length(arr) == 2, "--json storm: %s", r.out);
	for (size_t i = 0; i < 2; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		h[i] = (unsigned)json_object_get_int(tg_get(o, "handle", json_type_int));
		TU_CHECK_EQ(json_object_get_int64(tg_get(o, "bytes", json_type_int)), 65536);
		tg_get(o, "asid", json_type_int);
	}
	json_object_put(arr);
	tg_run_clear(&r);
	decommission_all(h, 2);
}

/* Until the file at path holds needle (bounded: 120 s). */
static void wait_for_text(const char *path, const char *needle)
{
	for (int waited = 0;; waited += 10) {
		size_t len = 0;
		_cleanup_free_ uint8_t *b = tu_read_file(path, &len);
		_cleanup_free_ char *t = strndup((char *)b, len);
		if (t && strstr(t, needle))
			return;
		TU_CHECK(waited < 120000, "'%s' never appeared in %s: %s", needle, path, t ? t : "");
		usleep(10000);
	}
}

/* Ctrl-C once the first handle is out: the launched guests are listed, those in flight are
 * undone, no new one starts: every guest sevd holds afterwards is one that was printed. sevd is
 * stopped (SIGSTOP) from before the signal until sevadm has said it is stopping, so the storm
 * cannot run to its end in between: the outcome does not depend on timing. */
static void test_storm_interrupt(void)
{
	_cleanup_free_ char *img = tg_make_image("intr.img", 3 << 20), *errp = path_join(tg_dir, "intr.err");
	unsigned before = count_guests(), h[16];
	const char *argv[] = { tg_sevadm, "launch", img, "--count", "10", "--parallel", "2",
			       "--memory-size", "4194304", "--name", "ic", NULL };
	char out[512] = "";
	size_t len = 0;
	int p[2], status;

	TU_CHECK(pipe(p) == 0, "pipe: %m");
	pid_t pid = fork();
	TU_CHECK(pid >= 0, "fork: %m");
	if (pid == 0) {
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(p[1], 1);
		dup2(e, 2);
		close(p[0]);
		execv(tg_sevadm, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	for (ssize_t k; len + 1 < sizeof(out) && (k = read(p[0], out + len, sizeof(out) - 1 - len)) > 0;) {
		len += (size_t)k;
		out[len] = 0;
		if (strchr(out, '\n'))
			break;
	}
	TU_CHECK(kill(d.pid, SIGSTOP) == 0 && kill(pid, SIGINT) == 0, "signals: %m");
	wait_for_text(errp, "sevadm: launch: stopping: no new launch starts");
	TU_CHECK(kill(d.pid, SIGCONT) == 0, "SIGCONT: %m");
	for (ssize_t k; len + 1 < sizeof(out) && (k = read(p[0], out + len, sizeof(out) - 1 - len)) > 0;)
		len += (size_t)k;
	out[len] = 0;
	close(p[0]);
	TU_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status), "the storm died: 0x%x", status);
	struct tg_run r = { .rc = WEXITSTATUS(status), .out = strdup(out) };
	size_t elen = 0;
	r.err = (char *)tu_read_file(errp, &elen);
	r.err = realloc(r.err, elen + 1);
	r.err[elen] = 0;
	size_t n = handles_of(r.out, h, ELEMENTSOF(h));
	/* at most the first, and the two in flight when sevd stopped */
	TU_CHECK(n >= 1 && n <= 3, "%zu guests launched around the signal: %s", n, r.err);
	TG_EXPECT(r, 1, NULL, "sevadm: launch: interrupted: ");
	char want[64];
	snprintf(want, sizeof(want), "interrupted: %zu of 10 guests launched", n);
	TU_CHECK(strstr(r.err, want) && strstr(r.err, "stopped in flight and undone") &&
			 strstr(r.err, "not started"), "summary: %s", r.err);
	/* each launch stopped in flight says which guest sevd had made and that it is gone */
	TU_CHECK_EQ(count_lines_with(r.err, "(interrupted) before its image was sent") +
			    count_lines_with(r.err, "reading the request body failed"),
		    count_lines_with(r.err, "was decommissioned; nothing is left behind"));
	TU_CHECK(!strstr(r.err, "could not be decommissioned"), "a guest left behind: %s", r.err);
	tg_run_clear(&r);
	TU_CHECK_EQ(count_guests(), before + n);
	check_storm_guests(h, n, "ic", true);
	decommission_all(h, n);
}

int main(void)
{
	tg_init("test-cli-guest");
	TU_CHECK(chdir(tg_dir) == 0, "chdir %s: %m", tg_dir);
	test_help();
	test_usage_errors();
	tg_daemon_start(&d, NULL, "policy.require_nodbg = yes\npolicy.tenant.tiny.quota = 1\n"
				  "policy.tenant.pair.quota = 2\n");
	test_bad_handle();
	test_lifecycle();
	test_deactivate();
	test_launch_failures();
	test_progress();
	test_stdin();
	test_session_and_secret();
	test_roles();
	test_admission();
	test_es();
	test_storm();
	test_storm_quota();
	test_storm_exhaustion();
	test_storm_progress();
	test_storm_interrupt();
	tg_daemon_stop(&d);
	tu_rmtree(tg_dir);
	free(tg_dir);
	tu_done("test-cli-guest");
}
