/* sevd's config keys, one of each kind, through sevd_config_set() as the config file and the
 * command line use it: a good value lands in its field, a value out of range or of the wrong
 * kind is refused with the reason an operator reads ("invalid value", or the key's own), an
 * unknown key is named as such, and "policy." keys reach the admission rules. No processes:
 * the parser is pure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sevd-config.h"
#include "tests/testutil.h"

struct want {
	const char *key, *value;
	int r;		    /* 0, or the error (the file's parser reports any as -EINVAL) */
	const char *reason; /* on an error */
};

static const struct want cases[] = {
	/* bool */
	{ "auto_init", "no", 0, NULL },
	{ "metrics_public", "on", 0, NULL },
	{ "snp", "maybe", -EINVAL, "invalid value" },
	/* numbers and their ranges */
	{ "queue_max", "0", -EINVAL, "invalid value" },
	{ "queue_max", "1", 0, NULL },
	{ "queue_wait_ms", "0", 0, NULL },
	{ "max_body", "0", -EINVAL, "invalid value" },
	{ "max_body", "4096", 0, NULL },
	{ "upload_limit", "16", -EINVAL, "invalid value" },
	{ "upload_limit", "15", 0, NULL },
	{ "reserved_channels", "0", -EINVAL, "invalid value" },
	{ "channel_wait", "601", -EINVAL, "invalid value" },
	{ "channel_wait", "600", 0, NULL },
	{ "journal_compact", "1", -EINVAL, "invalid value" },
	{ "journal_compact", "2", 0, NULL },
	{ "asid_flush_threshold", "0x10", 0, NULL },
	{ "emu_cpuid_ecx", "4294967296", -ERANGE, "invalid value" },
	{ "emu_cpuid_ecx", "4294967295", 0, NULL },
	{ "rate_limit", "-1", -EINVAL, "invalid value" },
	{ "connection_timeout", "99999999999", -ERANGE, "invalid value" },
	/* strings and paths */
	{ "state_dir", "/var/lib/sevd", 0, NULL },
	{ "migration_roots", "roots", -EINVAL,
	  "migration_roots must be an absolute path to a directory" },
	{ "migration_roots", "/etc/sevd/roots/", 0, NULL },
	{ "inventory_file", "/etc/sevd/", -EINVAL,
	  "inventory_file must be an absolute path to a file" },
	{ "inventory_file", "/etc/sevd/nfd", 0, NULL },
	/* keys with setters of their own */
	{ "psp", "qemu", -EINVAL, "invalid value" },
	{ "psp", "dev:/dev/sev", 0, NULL },
	{ "listen", "http://x", -EINVAL, "expected unix:/PATH, tls:ADDR:PORT or tcp:ADDR:PORT" },
	{ "control", "unix:/run/sevd/control.sock", 0, NULL },
	{ "kds_url", "ftp://kds", -EINVAL, "expected off or http[s]://HOST[:PORT][/PREFIX] (a "
	  "KDS, e.g. https://kdsintf.amd.com)" },
	{ "kds_url", "https://", -EINVAL, "expected off or http[s]://HOST[:PORT][/PREFIX] (a "
	  "KDS, e.g. https://kdsintf.amd.com)" },
	{ "kds_url", "http://127.0.0.1:8080/?x", -EINVAL, "expected off or "
	  "http[s]://HOST[:PORT][/PREFIX] (a KDS, e.g. https://kdsintf.amd.com)" },
	{ "kds_url", "off", 0, NULL },
	{ "kds_url", "http://127.0.0.1:8080/kds", 0, NULL },
	{ "client_cert_role", "admin", -EINVAL, "expected <role>:<subject DN or CN>" },
	/* the [policy] section's prefix, and what is not a key */
	{ "policy.no_such_rule", "1", -EINVAL, "unknown policy rule (see policy/admission.h)" },
	{ "no_such_key", "1", -EINVAL, "unknown key" },
	{ "queue_max_", "1", -EINVAL, "unknown key" },
};

static void run(void)
{
	struct sevd_config c;

	sevd_config_init(&c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct want *w = &cases[i];
		const char *reason = NULL;
		int r = sevd_config_set(&c, w->key, w->value, &reason);

		TU_CHECK(r == w->r, "%s = %s: %d, expected %d (%s)", w->key, w->value, r, w->r,
			 reason ? reason : "");
		if (w->r < 0)
			TU_CHECK(reason && !strcmp(reason, w->reason), "%s = %s: reason '%s'",
				 w->key, w->value, reason ? reason : "(none)");
	}
	/* The accepted values (each key's last case) landed in their fields. */
	TU_CHECK(!c.auto_init && c.metrics_public && c.snp, "bools");
	TU_CHECK_EQ(c.queue_max, 1);
	TU_CHECK_EQ(c.max_body, 4096);
	TU_CHECK_EQ(c.upload_limit, 15);
	TU_CHECK_EQ(c.channel_wait_s, 600);
	TU_CHECK_EQ(c.journal_compact, 2);
	TU_CHECK_EQ(c.flush_threshold, 16);
	TU_CHECK_EQ(c.emu_cpuid_ecx, 4294967295u);
	TU_CHECK(c.state_dir && !strcmp(c.state_dir, "/var/lib/sevd"), "state_dir");
	TU_CHECK(c.migration_roots && !strcmp(c.migration_roots, "/etc/sevd/roots/"),
		 "migration_roots");
	TU_CHECK(c.inventory_file && !strcmp(c.inventory_file, "/etc/sevd/nfd"), "inventory_file");
	TU_CHECK(c.psp && !strcmp(c.psp, "dev:/dev/sev"), "psp");
	TU_CHECK_EQ(c.n_listen, 0);
	TU_CHECK(c.kds_url && !strcmp(c.kds_url, "http://127.0.0.1:8080/kds"), "kds_url: %s",
		 c.kds_url ? c.kds_url : "(null)");
	TU_CHECK(c.control && !strcmp(c.control, "/run/sevd/control.sock"), "control: %s",
		 c.control ? c.control : "(null)");
	sevd_config_done(&c);
}

int main(void)
{
	run();
	tu_done("daemon-config-keys");
}
