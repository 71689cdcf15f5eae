/* EMU_MSG_CTL: the host's side channel to the emulated PSP, one text line per message. These
 * model what is not a firmware command on real hardware (WBINVD on every core, AMD's key
 * server handing out the CEK and the AMD root) plus introspection and fault plans (fault.h).
 * Lines come from clients: every token is checked. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/emu/fault.h"
#include "psp/emu/guest.h"
#include "psp/emu/server.h"
#include "psp/emu/snp.h"

static int reply_text(uint8_t *out, size_t cap, size_t *out_len, const char *fmt, ...)
	_printf_(4, 5);
static int reply_text(uint8_t *out, size_t cap, size_t *out_len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf((char *)out, cap, fmt, ap);
	va_end(ap);
	*out_len = n < 0 ? 0 : MIN((size_t)n, cap - 1);
	return 0;
}

/* The host ran WBINVD on every core (sevd does it before DF_FLUSH, as Linux's
 * sev_platform_init and __sev_recycle_asids do), or with an argument on the cores of one CCX
 * (0-based, below --ccx): firmware reads the WBINVD_DONE flags per core and CCX. */
static int ctl_wbinvd(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	uint32_t ccx;

	if (!arg) {
		fw->wbinvd_done = fw->ccx_all;
		return reply_text(out, cap, len, "ok");
	}
	if (parse_u32(arg, &ccx) < 0 || ccx >= EMU_CCX_MAX || !(fw->ccx_all & (1u << ccx))) {
		reply_text(out, cap, len, "wbinvd takes no argument (every core) or a CCX number "
					  "below the part's CCX count (--ccx)");
		return -EINVAL;
	}
	fw->wbinvd_done |= 1u << ccx;
	return reply_text(out, cap, len, "ok");
}

/* What AMD's key server would hand out for this chip: the ASK-signed CEK (SEV format), and the
 * ASK and ARK (AMD format). */
static int ctl_get_cert(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	const struct emu_chip *c = &fw->nv.chip;

	if (arg && strcmp(arg, "cek") == 0) {
		if (cap < SEV_CERT_SIZE)
			return -ENOBUFS;
		memcpy(out, &c->cek, SEV_CERT_SIZE);
		*len = SEV_CERT_SIZE;
		return 0;
	}
	if (arg && (strcmp(arg, "ark") == 0 || strcmp(arg, "ask") == 0))
		return attest_amd_cert_encode(strcmp(arg, "ark") == 0 ? &c->ark : &c->ask, out, cap,
					      len);
	reply_text(out, cap, len, "get-cert takes one of: cek ask ark");
	return -EINVAL;
}

/* What AMD's firmware download site would hand out: a signed firmware image for version
 * MAJOR.MINOR build BUILD, in the emulator's own format (dlfw.c), for DOWNLOAD_FIRMWARE. */
static int ctl_firmware_image(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	char *save = NULL, *ver = arg ? strtok_r(arg, " \t\r\n", &save) : NULL;
	char *build = ver ? strtok_r(NULL, " \t\r\n", &save) : NULL;
	char *dot = ver ? strchr(ver, '.') : NULL;
	uint32_t ma, mi, b;

	if (!dot || !build || strtok_r(NULL, " \t\r\n", &save)) {
		reply_text(out, cap, len, "firmware-image takes MAJOR.MINOR BUILD");
		return -EINVAL;
	}
	*dot = 0;
	if (parse_u32(ver, &ma) < 0 || parse_u32(dot + 1, &mi) < 0 || parse_u32(build, &b) < 0 ||
	    ma > 255 || mi > 255 || b > 255) {
		reply_text(out, cap, len, "firmware-image: MAJOR, MINOR and BUILD are 0..255");
		return -EINVAL;
	}
	return emu_fw_image_make(fw, (uint8_t)ma, (uint8_t)mi, (uint8_t)b, out, cap, len);
}

static int ctl_status(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	return reply_text(out, cap, len,
			  "state=%s owner=%s wbinvd_done=%d commands=%llu max_concurrent=%u "
			  "regions=%u nv_generation=%llu factory_resets=%llu ccxs=%u "
			  "wbinvd_ccxs=0x%x",
			  sev_platform_state_name(fw->state),
			  !fw->nv.owner.valid	      ? "none" :
			  fw->nv.owner.ext_owned ? "external" :
						   "self",
			  fw->wbinvd_done == fw->ccx_all, (unsigned long long)fw->commands_served,
			  fw->max_concurrent_seen, emu_mem_count(fw->mem),
			  (unsigned long long)fw->nv.generation,
			  (unsigned long long)fw->nv.factory_resets,
			  (unsigned)__builtin_popcount(fw->ccx_all), fw->wbinvd_done);
}

/* `fault RULE` installs one rule (README.md "Fault plans"), `fault list` shows them with
 * their counters, `fault clear` removes them all. Only sev-psp-emu's main() makes the rule
 * table; a firmware core without one (the fuzz targets) refuses. */
static int ctl_fault(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	char msg[EMU_FAULT_MAX_TEXT + 256];
	int r;

	if (!fw->faults) {
		reply_text(out, cap, len, "fault plans are off in this firmware core (only "
					  "sev-psp-emu itself takes them)");
		return -EOPNOTSUPP;
	}
	if (!arg) {
		reply_text(out, cap, len, "fault takes one of: CMD:ACTION[:OPTION...], list, clear");
		return -EINVAL;
	}
	if (strcmp(arg, "list") == 0) {
		*len = emu_faults_list(fw->faults, (char *)out, cap);
		return 0;
	}
	if (strcmp(arg, "clear") == 0) {
		emu_faults_clear(fw->faults);
		return reply_text(out, cap, len, "ok");
	}
	r = emu_faults_add(fw->faults, arg, msg, sizeof(msg));
	if (r < 0) {
		reply_text(out, cap, len, "fault rule refused: %s", msg);
		return r;
	}
	return reply_text(out, cap, len, "ok %s", msg);
}

/* CPUID Fn0000_0001 EAX of the part modelled (--snp-product): what a host reads with CPUID
 * itself, and sevd needs to know which TCB layout (Milan/Genoa or Turin) the status uses. */
static int ctl_cpuid_fms(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	struct emu_snp *s = emu_snp_get(fw);

	(void)arg;
	if (!s) {
		reply_text(out, cap, len, "cpuid-fms: SNP is off (--snp); the SEV model has no part");
		return -EOPNOTSUPP;
	}
	return reply_text(out, cap, len, "0x%08x", s->product->fms);
}

static const struct {
	const char *verb;
	int max_args; /* -1: the verb parses its own */
	int (*fn)(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len);
} ctl_table[] = {
	{ "wbinvd", 1, ctl_wbinvd },
	{ "get-cert", 1, ctl_get_cert },
	{ "status", 0, ctl_status },
	{ "fault", 1, ctl_fault },
	{ "guest-memfd", -1, emu_guest_ctl_memfd }, /* guest.c; README-guest.md */
	{ "firmware-image", -1, ctl_firmware_image },
	{ "rmpupdate", 1, emu_snp_ctl_rmpupdate }, /* SNP (snp-*.c); README-snp.md */
	{ "rmp", 1, emu_snp_ctl_rmp },
	{ "snp-guests", 0, emu_snp_ctl_guests },
	{ "snp-secrets", 1, emu_snp_ctl_secrets },
	{ "snp-memfd", 1, emu_snp_ctl_memfd }, /* snp-view.c */
	{ "snp-vcek", 1, emu_snp_ctl_vcek },
	{ "snp-cert", 1, emu_snp_ctl_cert },
	{ "snp-cert-refuse", 1, emu_snp_ctl_cert_refuse }, /* test-only */
	{ "cpuid-fms", 0, ctl_cpuid_fms },
};

int emu_ctl(struct emu_fw *fw, const char *line, uint8_t *out, size_t cap, size_t *out_len)
{
	char buf[256], rest[256] = "", *save = NULL, *verb, *arg, *extra, *r = rest;

	*out_len = 0;
	if (strlen(line) >= sizeof(buf)) {
		reply_text(out, cap, out_len, "control line too long");
		return -EINVAL;
	}
	strcpy(buf, line);
	verb = strtok_r(buf, " \t\r\n", &save);
	if (verb && save) /* the words after the verb, for verbs that parse their own */
		snprintf(rest, sizeof(rest), "%s", save);
	r += strspn(r, " \t\r\n");
	arg = verb ? strtok_r(NULL, " \t\r\n", &save) : NULL;
	extra = arg ? strtok_r(NULL, " \t\r\n", &save) : NULL;
	for (size_t i = 0; verb && i < ELEMENTSOF(ctl_table); i++) {
		if (strcmp(verb, ctl_table[i].verb) != 0)
			continue;
		int nargs = !!arg + !!extra;

		if (ctl_table[i].max_args >= 0 && nargs > ctl_table[i].max_args) {
			reply_text(out, cap, out_len, "%s: too many arguments", verb);
			return -EINVAL;
		}
		if (ctl_table[i].max_args < 0)
			return ctl_table[i].fn(fw, *r ? r : NULL, out, cap, out_len);
		return ctl_table[i].fn(fw, arg, out, cap, out_len);
	}
	reply_text(out, cap, out_len, "unknown control verb; known: wbinvd [CCX], get-cert "
				      "cek|ask|ark, status, fault RULE|list|clear, guest-memfd, "
				      "firmware-image, rmpupdate, rmp, snp-guests, snp-secrets, snp-memfd, "
				      "snp-vcek, snp-cert, snp-cert-refuse on|off");
	return -EINVAL;
}
