/* Launch measurement and launch digest (SEV API §6.5; QEMU target/i386/sev.c for what is
 * measured in which order; sev-tool calculate_measurement for the API < 0.17 rule). Inputs
 * come from the guest owner; the firmware image is parsed defensively (attest/guid.c). */
#include "attest/measurement.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "attest/guid.h"
#include "attest/kdf.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "psp/sev-abi.h"

bool attest_api_at_least(uint8_t major, uint8_t minor, uint8_t want_major, uint8_t want_minor)
{
	return major > want_major || (major == want_major && minor >= want_minor);
}

int attest_measurement_compute(const uint8_t tik[16], const struct attest_measure_input *in,
			       uint8_t ret[ATTEST_MEASURE_SIZE])
{
	uint8_t prefix[4] = { in->ctx, in->api_major, in->api_minor, in->build }, pol[4];
	/* Firmware before API 0.17 (early Naples) did not hash the context/version prefix. */
	bool with_prefix = attest_api_at_least(in->api_major, in->api_minor, 0, 17);
	struct attest_part parts[] = {
		{ prefix, with_prefix ? sizeof prefix : 0 },
		{ pol, sizeof pol },
		{ in->digest, sizeof in->digest },
		{ in->mnonce, sizeof in->mnonce },
	};

	put_le32(pol, in->policy);
	return attest_hmac_sha256(tik, 16, parts, ELEMENTSOF(parts), ret);
}

int attest_measurement_verify(const uint8_t tik[16], const struct attest_measure_input *in,
			      const uint8_t measure[ATTEST_MEASURE_SIZE])
{
	uint8_t expect[ATTEST_MEASURE_SIZE];
	int r = attest_measurement_compute(tik, in, expect);

	if (r < 0)
		return r;
	r = secret_memcmp(expect, measure, sizeof expect) == 0;
	secret_wipe(expect, sizeof expect);
	return r;
}

/* GUIDs of QEMU's SEV hashes table (target/i386/sev.c), EFI byte order. */
static const char table_guid[] = "9438d606-4f22-4cc9-b479-a793d411fd21";
static const char cmdline_guid[] = "97d02dd8-bd20-4c94-aa78-e7714d36ab2a";
static const char initrd_guid[] = "44baf731-3a2f-4bd7-9af1-41e29169781d";
static const char kernel_guid[] = "4de79437-abd2-427f-b835-d5b172d2045b";
static const char hashes_area_guid[] = "7255371f-3a3b-4b04-927b-1da6efa8d454";

static int put_hash_entry(uint8_t *out, const char *guid_s, const uint8_t hash[32])
{
	uint8_t guid[ATTEST_GUID_SIZE];
	int r = attest_guid_parse(guid_s, guid);

	return r < 0 ? r : (int)attest_guid_entry_put(out, guid, 2, hash, 32);
}

int attest_sev_hashes_table(const uint8_t kernel_sha256[32], const uint8_t *initrd_sha256,
			    const char *cmdline, uint8_t ret[ATTEST_SEV_HASHES_TABLE_SIZE])
{
	uint8_t cmd_hash[32], initrd_hash[32], guid[ATTEST_GUID_SIZE];
	const char *c = cmdline ? cmdline : "";
	size_t off = ATTEST_GUID_SIZE + 2;
	int r;

	/* The command line is measured with its NUL; no initrd is measured as empty data. */
	if (EVP_Digest(c, strlen(c) + 1, cmd_hash, NULL, EVP_sha256(), NULL) != 1)
		return -EIO;
	if (initrd_sha256)
		memcpy(initrd_hash, initrd_sha256, 32);
	else if (EVP_Digest("", 0, initrd_hash, NULL, EVP_sha256(), NULL) != 1)
		return -EIO;
	memset(ret, 0, ATTEST_SEV_HASHES_TABLE_SIZE);
	if ((r = put_hash_entry(ret + off, cmdline_guid, cmd_hash)) < 0)
		return r;
	off += (size_t)r;
	if ((r = put_hash_entry(ret + off, initrd_guid, initrd_hash)) < 0)
		return r;
	off += (size_t)r;
	if ((r = put_hash_entry(ret + off, kernel_guid, kernel_sha256)) < 0)
		return r;
	off += (size_t)r;
	/* Header: table GUID and the unpadded length (168); zero padding up to 16 bytes. */
	if ((r = attest_guid_parse(table_guid, guid)) < 0)
		return r;
	memcpy(ret, guid, sizeof guid);
	put_le16(ret + ATTEST_GUID_SIZE, (uint16_t)off);
	return 0;
}

int attest_ovmf_hashes_area(const uint8_t *fw, size_t fw_len, uint32_t *ret_base,
			    uint32_t *ret_size)
{
	uint8_t guid[ATTEST_GUID_SIZE];
	const uint8_t *data;
	size_t len;
	int r;

	if ((r = attest_guid_parse(hashes_area_guid, guid)) < 0)
		return r;
	r = attest_ovmf_footer_find(fw, fw_len, guid, &data, &len);
	if (r < 0)
		return r;
	if (len < 8)
		return -EBADMSG;
	/* SevHashTableDescriptor { u32 base; u32 size; }; zeros mean "no such area". */
	*ret_base = get_le32(data);
	*ret_size = get_le32(data + 4);
	if (*ret_base == 0 || *ret_size == 0)
		return -ENOENT;
	return 0;
}

static int digest_direct_boot(EVP_MD_CTX *md, const struct attest_digest_input *in,
			      struct attest_verdict *v)
{
	uint8_t table[ATTEST_SEV_HASHES_TABLE_SIZE];
	uint32_t base, size;
	int r;

	r = attest_ovmf_hashes_area(in->firmware, in->firmware_len, &base, &size);
	if (r == -ENOENT)
		return attest_verdict_reject(v, "the firmware has no SEV hashes table area (its "
					     "OVMF footer lacks 7255371f-...; use an AmdSev OVMF "
					     "build for direct kernel boot)", r);
	if (r < 0)
		return attest_verdict_reject(v, "the firmware's OVMF footer table is malformed", r);
	if (size < sizeof table)
		return attest_verdict_reject(v, "the firmware's SEV hashes table area is too small",
					     -EINVAL);
	r = attest_sev_hashes_table(in->kernel_sha256, in->initrd_sha256, in->cmdline, table);
	if (r < 0)
		return r;
	/* QEMU writes the table at `base` and measures it with its own LAUNCH_UPDATE_DATA right
	 * after the firmware: the digest sees firmware ‖ padded table. */
	return EVP_DigestUpdate(md, table, sizeof table) == 1 ? 0 : -EIO;
}

static int digest_vmsas(EVP_MD_CTX *md, const struct attest_digest_input *in,
			struct attest_verdict *v)
{
	if (in->num_cpus == 0 || !in->vmsa_cpu0 || (in->num_cpus > 1 && !in->vmsa_cpu1))
		return attest_verdict_reject(v, "an SEV-ES policy needs --num-cpus and the VMSA "
					     "pages of CPU 0 and CPU 1", -EINVAL);
	if (in->vmsa_cpu0_len != SEV_VMSA_SIZE || (in->num_cpus > 1 &&
						   in->vmsa_cpu1_len != SEV_VMSA_SIZE))
		return attest_verdict_reject(v, "a VMSA must be one 4096-byte page, as "
					     "LAUNCH_UPDATE_VMSA measures it", -EINVAL);
	if (EVP_DigestUpdate(md, in->vmsa_cpu0, SEV_VMSA_SIZE) != 1)
		return -EIO;
	for (unsigned i = 1; i < in->num_cpus; i++)
		if (EVP_DigestUpdate(md, in->vmsa_cpu1, SEV_VMSA_SIZE) != 1)
			return -EIO;
	return 0;
}

int attest_launch_digest(const struct attest_digest_input *in, uint8_t ret[ATTEST_DIGEST_SIZE],
			 struct attest_verdict *v)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	int r = 0;

	if (!md)
		return -ENOMEM;
	if (!in->firmware || in->firmware_len == 0)
		return attest_verdict_reject(v, "no firmware image", -EINVAL);
	if (!in->kernel_sha256 && (in->initrd_sha256 || in->cmdline))
		return attest_verdict_reject(v, "an initrd or a command line needs a kernel",
					     -EINVAL);
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, in->firmware, in->firmware_len) != 1)
		return -EIO;
	if (in->kernel_sha256)
		r = digest_direct_boot(md, in, v);
	if (r >= 0 && (in->policy & SEV_POLICY_ES))
		r = digest_vmsas(md, in, v);
	if (r >= 0 && EVP_DigestFinal_ex(md, ret, NULL) != 1)
		r = -EIO;
	return r;
}
