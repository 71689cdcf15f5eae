/* SEV-SNP report renderings: JSON (stable keys, byte arrays as lower-case hex) for machines and
 * a labelled multi-line text for people. Input is an already decoded struct snp_report; the
 * bit names follow SNP ABI 56860 (guest policy table 9, PLATFORM_INFO and KEY_INFO fields of
 * the ATTESTATION_REPORT table). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/snp-report.h"
#include "common/ossl.h"
#include "common/util.h"

struct bit_name {
	unsigned bit;
	const char *name;
};

/* Guest policy bits above the ABI version bytes (bit 17 is reserved, must be one). */
static const struct bit_name policy_bits[] = {
	{ 16, "smt_allowed" },	     { 17, "reserved_must_be_one" }, { 18, "migrate_ma" },
	{ 19, "debug_allowed" },     { 20, "single_socket" },	     { 21, "cxl_allowed" },
	{ 22, "mem_aes_256_xts" },   { 23, "rapl_disabled" },	     { 24, "ciphertext_hiding" },
	{ 25, "page_swap_disabled" },
};

static const struct bit_name plat_info_bits[] = {
	{ 0, "smt_enabled" },	{ 1, "tsme_enabled" },	       { 2, "ecc_enabled" },
	{ 3, "rapl_disabled" }, { 4, "ciphertext_hiding_enabled" }, { 5, "alias_check_complete" },
	{ 7, "tio_enabled" },
};

static const char *signing_key_name(enum snp_signing_key k)
{
	switch (k) {
	case SNP_KEY_VCEK:
		return "VCEK";
	case SNP_KEY_VLEK:
		return "VLEK";
	case SNP_KEY_NONE:
		return "none";
	}
	return "reserved";
}

static json_object *json_hex(const void *p, size_t n)
{
	_cleanup_free_ char *h = hex_encode(p, n);

	return h ? json_object_new_string(h) : NULL;
}

static json_object *json_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

static json_object *json_bits(uint64_t v, const struct bit_name *t, size_t n)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; o && i < n; i++)
		json_object_object_add(o, t[i].name, json_object_new_boolean((v >> t[i].bit) & 1));
	return o;
}

json_object *attest_snp_tcb_to_json(const struct snp_tcb *t)
{
	json_object *o = json_object_new_object();
	char raw[19];

	if (!o)
		return NULL;
	snprintf(raw, sizeof raw, "0x%016llx", (unsigned long long)t->raw);
	json_object_object_add(o, "raw", json_object_new_string(raw));
	if (t->has_fmc)
		json_object_object_add(o, "fmc", json_object_new_int(t->fmc));
	json_object_object_add(o, "bootloader", json_object_new_int(t->bootloader));
	json_object_object_add(o, "tee", json_object_new_int(t->tee));
	json_object_object_add(o, "snp", json_object_new_int(t->snp));
	json_object_object_add(o, "microcode", json_object_new_int(t->microcode));
	return o;
}

static json_object *policy_json(uint64_t policy)
{
	json_object *o = json_bits(policy, policy_bits, ELEMENTSOF(policy_bits));
	char raw[19];

	if (!o)
		return NULL;
	snprintf(raw, sizeof raw, "0x%llx", (unsigned long long)policy);
	json_object_object_add(o, "raw", json_object_new_string(raw));
	json_object_object_add(o, "abi_minor", json_object_new_int((int)(policy & 0xff)));
	json_object_object_add(o, "abi_major", json_object_new_int((int)((policy >> 8) & 0xff)));
	return o;
}

static json_object *key_info_json(const struct snp_report *r)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "raw", json_object_new_int64(r->key_info));
	json_object_object_add(o, "author_key_en", json_object_new_boolean(r->key_info & 1));
	json_object_object_add(o, "mask_chip_key", json_object_new_boolean((r->key_info >> 1) & 1));
	json_object_object_add(o, "signing_key",
			       json_object_new_string(signing_key_name(attest_snp_report_signing_key(r))));
	return o;
}

static json_object *version_json(uint8_t major, uint8_t minor, uint8_t build)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "major", json_object_new_int(major));
	json_object_object_add(o, "minor", json_object_new_int(minor));
	json_object_object_add(o, "build", json_object_new_int(build));
	return o;
}

static void add_blobs_json(json_object *o, const struct snp_report *r)
{
	json_object_object_add(o, "family_id", json_hex(r->family_id, sizeof r->family_id));
	json_object_object_add(o, "image_id", json_hex(r->image_id, sizeof r->image_id));
	json_object_object_add(o, "report_data", json_hex(r->report_data, sizeof r->report_data));
	json_object_object_add(o, "measurement", json_hex(r->measurement, sizeof r->measurement));
	json_object_object_add(o, "host_data", json_hex(r->host_data, sizeof r->host_data));
	json_object_object_add(o, "id_key_digest",
			       json_hex(r->id_key_digest, sizeof r->id_key_digest));
	json_object_object_add(o, "author_key_digest",
			       json_hex(r->author_key_digest, sizeof r->author_key_digest));
	json_object_object_add(o, "report_id", json_hex(r->report_id, sizeof r->report_id));
	json_object_object_add(o, "report_id_ma", json_hex(r->report_id_ma, sizeof r->report_id_ma));
	json_object_object_add(o, "chip_id", json_hex(r->chip_id, sizeof r->chip_id));
}

static json_object *signature_json(const struct snp_report *r)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "algo", json_object_new_int64(r->sig_algo));
	json_object_object_add(o, "r_le", json_hex(r->sig_r, sizeof r->sig_r));
	json_object_object_add(o, "s_le", json_hex(r->sig_s, sizeof r->sig_s));
	return o;
}

int attest_snp_report_to_json(const struct snp_report *r, json_object **ret)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "version", json_object_new_int64(r->version));
	json_object_object_add(o, "generation", json_object_new_string(attest_snp_gen_name(r->gen)));
	json_object_object_add(o, "guest_svn", json_object_new_int64(r->guest_svn));
	json_object_object_add(o, "policy", policy_json(r->policy));
	json_object_object_add(o, "vmpl", json_object_new_int64(r->vmpl));
	json_object_object_add(o, "sig_algo", json_object_new_int64(r->sig_algo));
	json_object_object_add(o, "current_tcb", attest_snp_tcb_to_json(&r->current_tcb));
	json_object_object_add(o, "reported_tcb", attest_snp_tcb_to_json(&r->reported_tcb));
	json_object_object_add(o, "committed_tcb", attest_snp_tcb_to_json(&r->committed_tcb));
	json_object_object_add(o, "launch_tcb", attest_snp_tcb_to_json(&r->launch_tcb));
	json_object *pi = json_bits(r->plat_info, plat_info_bits, ELEMENTSOF(plat_info_bits));
	if (pi)
		json_object_object_add(pi, "raw", json_u64(r->plat_info));
	json_object_object_add(o, "plat_info", pi);
	json_object_object_add(o, "key_info", key_info_json(r));
	add_blobs_json(o, r);
	if (r->has_cpuid) {
		json_object_object_add(o, "cpuid_fam_id", json_object_new_int(r->cpuid_fam_id));
		json_object_object_add(o, "cpuid_mod_id", json_object_new_int(r->cpuid_mod_id));
		json_object_object_add(o, "cpuid_step", json_object_new_int(r->cpuid_step));
	}
	if (r->has_mit_vector) {
		json_object_object_add(o, "launch_mit_vector", json_u64(r->launch_mit_vector));
		json_object_object_add(o, "current_mit_vector", json_u64(r->current_mit_vector));
	}
	json_object_object_add(o, "current_version",
			       version_json(r->current_major, r->current_minor, r->current_build));
	json_object_object_add(o, "committed_version",
			       version_json(r->committed_major, r->committed_minor,
					    r->committed_build));
	json_object_object_add(o, "signature", signature_json(r));
	*ret = TAKE_PTR(o);
	return 0;
}

/* ---- human text ---- */

static void text_hex(FILE *f, const char *label, const void *p, size_t n)
{
	_cleanup_free_ char *h = hex_encode(p, n);

	fprintf(f, "%-20s %s\n", label, h ? h : "?");
}

static void text_tcb(FILE *f, const char *label, const struct snp_tcb *t)
{
	fprintf(f, "%-20s 0x%016llx (", label, (unsigned long long)t->raw);
	if (t->has_fmc)
		fprintf(f, "fmc %u, ", t->fmc);
	fprintf(f, "bootloader %u, tee %u, snp %u, microcode %u / 0x%02x)\n", t->bootloader, t->tee,
		t->snp, t->microcode, t->microcode);
}

static void text_bits(FILE *f, uint64_t v, const struct bit_name *t, size_t n)
{
	bool any = false;

	for (size_t i = 0; i < n; i++)
		if ((v >> t[i].bit) & 1) {
			fprintf(f, "%s%s", any ? ", " : " (", t[i].name);
			any = true;
		}
	fputs(any ? ")\n" : "\n", f);
}

static void text_header(FILE *f, const struct snp_report *r)
{
	fprintf(f, "%-20s %u\n", "version", r->version);
	fprintf(f, "%-20s %s\n", "generation", attest_snp_gen_name(r->gen));
	fprintf(f, "%-20s %u\n", "guest_svn", r->guest_svn);
	fprintf(f, "%-20s 0x%llx (abi %llu.%llu", "policy", (unsigned long long)r->policy,
		(unsigned long long)((r->policy >> 8) & 0xff), (unsigned long long)(r->policy & 0xff));
	for (size_t i = 0; i < ELEMENTSOF(policy_bits); i++)
		if ((r->policy >> policy_bits[i].bit) & 1)
			fprintf(f, ", %s", policy_bits[i].name);
	fputs(")\n", f);
	text_hex(f, "family_id", r->family_id, sizeof r->family_id);
	text_hex(f, "image_id", r->image_id, sizeof r->image_id);
	fprintf(f, "%-20s %u\n", "vmpl", r->vmpl);
	fprintf(f, "%-20s %u%s\n", "sig_algo", r->sig_algo,
		r->sig_algo == SNP_SIG_ALGO_ECDSA_P384_SHA384 ? " (ECDSA P-384 with SHA-384)" : "");
	fprintf(f, "%-20s 0x%llx", "plat_info", (unsigned long long)r->plat_info);
	text_bits(f, r->plat_info, plat_info_bits, ELEMENTSOF(plat_info_bits));
	fprintf(f, "%-20s 0x%x (signing key %s%s%s)\n", "key_info", r->key_info,
		signing_key_name(attest_snp_report_signing_key(r)),
		r->key_info & 1 ? ", author_key_en" : "", r->key_info & 2 ? ", mask_chip_key" : "");
}

static void text_body(FILE *f, const struct snp_report *r)
{
	text_tcb(f, "current_tcb", &r->current_tcb);
	text_tcb(f, "reported_tcb", &r->reported_tcb);
	text_tcb(f, "committed_tcb", &r->committed_tcb);
	text_tcb(f, "launch_tcb", &r->launch_tcb);
	text_hex(f, "report_data", r->report_data, sizeof r->report_data);
	text_hex(f, "measurement", r->measurement, sizeof r->measurement);
	text_hex(f, "host_data", r->host_data, sizeof r->host_data);
	text_hex(f, "id_key_digest", r->id_key_digest, sizeof r->id_key_digest);
	text_hex(f, "author_key_digest", r->author_key_digest, sizeof r->author_key_digest);
	text_hex(f, "report_id", r->report_id, sizeof r->report_id);
	text_hex(f, "report_id_ma", r->report_id_ma, sizeof r->report_id_ma);
	text_hex(f, "chip_id", r->chip_id, sizeof r->chip_id);
	if (r->has_cpuid)
		fprintf(f, "%-20s family 0x%02x, model 0x%02x, stepping 0x%02x\n", "cpuid",
			r->cpuid_fam_id, r->cpuid_mod_id, r->cpuid_step);
	if (r->has_mit_vector)
		fprintf(f, "%-20s launch 0x%llx, current 0x%llx\n", "mitigation_vector",
			(unsigned long long)r->launch_mit_vector,
			(unsigned long long)r->current_mit_vector);
	fprintf(f, "%-20s %u.%u build %u\n", "current_version", r->current_major,
		r->current_minor, r->current_build);
	fprintf(f, "%-20s %u.%u build %u\n", "committed_version", r->committed_major,
		r->committed_minor, r->committed_build);
	text_hex(f, "signature.r (LE)", r->sig_r, sizeof r->sig_r);
	text_hex(f, "signature.s (LE)", r->sig_s, sizeof r->sig_s);
}

int attest_snp_report_to_text(const struct snp_report *r, char **ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	text_header(f, r);
	text_body(f, r);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}
