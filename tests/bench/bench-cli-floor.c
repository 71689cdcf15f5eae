/* bench-cli-floor: the process floor of the guest owner's sevadm verbs, for `tests/bench/run`'s
 * cli.floor_ratio. Each case is one process that initialises libcrypto, reads the same inputs,
 * makes the same attest/ calls as the sevadm verb and writes the same outputs, and nothing
 * else (no option parsing beyond positions, no daemon client, no help texts):
 *   measurement FIRMWARE KERNEL INITRD CMDLINE TIK MNONCE_B64 API_MAJOR API_MINOR BUILD POLICY
 *       as `sevadm measurement build --firmware ... --kernel ... --initrd ... --cmdline ...
 *       --tik ... --nonce ...`: prints base64 of MEASURE ‖ MNONCE;
 *   session PDH_CERT POLICY PREFIX
 *       as `sevadm session --name PREFIX PDH_CERT POLICY`: PREFIX_godh.b64, _session.b64,
 *       _tek.bin, _tik.bin;
 *   secret TIK TEK BLOB_B64 IV_B64 GUID FILE HEADER PAYLOAD
 *       as `sevadm secret build --tik --tek --launch-measure-blob --iv --secret GUID:FILE
 *       HEADER PAYLOAD` (API 0.17 or later): the 52-byte header and the sealed table.
 * Files are written as sevadm writes them (fsync'd temporary, renamed). Exit 0 when the work
 * was done, 1 otherwise (one line on stderr). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest/guid.h"
#include "attest/measurement.h"
#include "attest/secret.h"
#include "attest/session.h"
#include "attest/sev-cert.h"
#include "common/macros.h"
#include "common/secret.h"
#include "common/util.h"
#include "psp/sev-abi.h"

#define FILE_MAX (16u * 1024 * 1024)

static int fail(const char *what)
{
	fprintf(stderr, "bench-cli-floor: %s\n", what);
	return 1;
}

static int read_exact(const char *path, uint8_t *out, size_t len)
{
	_cleanup_free_ uint8_t *b = NULL;
	size_t n = 0;

	if (read_full_file(path, FILE_MAX, &b, &n) < 0 || n != len)
		return -EINVAL;
	memcpy(out, b, len);
	return 0;
}

static int sha256_file(const char *path, uint8_t out[32])
{
	_cleanup_free_ uint8_t *b = NULL;
	size_t n = 0;

	if (read_full_file(path, FILE_MAX, &b, &n) < 0)
		return -EIO;
	return EVP_Digest(b, n, out, NULL, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

static int measurement(char **a)
{
	_cleanup_free_ uint8_t *fw = NULL, *mn = NULL;
	_cleanup_free_ char *text = NULL;
	struct attest_measure_input in = { .ctx = ATTEST_MEASURE_CTX };
	struct attest_verdict v = {};
	uint8_t kernel[32], initrd[32], tik[16], out[48];
	uint32_t major, minor, build, policy;
	size_t fw_len = 0, mn_len = 0;

	if (read_full_file(a[0], FILE_MAX, &fw, &fw_len) < 0 || sha256_file(a[1], kernel) < 0 ||
	    sha256_file(a[2], initrd) < 0 || read_exact(a[4], tik, sizeof tik) < 0)
		return fail("cannot read the inputs");
	if (base64_decode(a[5], strlen(a[5]), &mn, &mn_len) < 0 || mn_len != ATTEST_MNONCE_SIZE ||
	    parse_u32(a[6], &major) < 0 || parse_u32(a[7], &minor) < 0 ||
	    parse_u32(a[8], &build) < 0 || parse_u32(a[9], &policy) < 0)
		return fail("bad MNONCE_B64, API version, build or policy");
	in.api_major = (uint8_t)major, in.api_minor = (uint8_t)minor, in.build = (uint8_t)build;
	in.policy = policy;
	memcpy(in.mnonce, mn, ATTEST_MNONCE_SIZE);
	if (attest_launch_digest(&(struct attest_digest_input){ .firmware = fw,
								 .firmware_len = fw_len,
								 .kernel_sha256 = kernel,
								 .initrd_sha256 = initrd,
								 .cmdline = a[3],
								 .policy = policy },
				 in.digest, &v) < 0 ||
	    attest_measurement_compute(tik, &in, out) < 0)
		return fail(attest_verdict_why(&v, "the launch digest failed"));
	memcpy(out + 32, in.mnonce, ATTEST_MNONCE_SIZE);
	text = base64_encode(out, sizeof out);
	secret_wipe(tik, sizeof tik);
	return text && printf("%s\n", text) > 0 ? 0 : fail("out of memory");
}

/* One output as sevadm's owner verbs write theirs (cli/owner-util.c): a temporary file,
 * written and fsync'd, renamed into place; the directory is not synced. */
static int put(const char *path, const void *buf, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL;
	int fd, r = 0;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (loop_write(fd, buf, len) < 0 || fsync(fd) < 0)
		r = -EIO;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

static int out_file(const char *prefix, const char *suffix, const void *buf, size_t len,
		    mode_t mode)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s%s", prefix, suffix) < 0)
		return -ENOMEM;
	return put(path, buf, len, mode);
}

static int out_b64(const char *prefix, const char *suffix, const void *buf, size_t len)
{
	_cleanup_free_ char *text = base64_encode(buf, len);

	return text ? out_file(prefix, suffix, text, strlen(text), 0644) : -ENOMEM;
}

static int session(char **a)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct sev_cert pdh, godh;
	struct sev_session_blob blob;
	struct attest_tk tk;
	uint32_t policy;
	size_t len = 0;
	int r;

	if (read_full_file(a[0], 16 * SEV_CERT_SIZE, &buf, &len) < 0 || len < SEV_CERT_SIZE ||
	    attest_sev_cert_parse(buf, SEV_CERT_SIZE, &pdh, NULL) < 0 ||
	    pdh.pubkey_usage != SEV_USAGE_PDH || parse_u32(a[1], &policy) < 0)
		return fail("cannot read the PDH certificate or the policy");
	if (attest_session_build(&pdh, policy, NULL, &godh, &blob, &tk) < 0)
		return fail("cannot build the session");
	r = out_b64(a[2], "_godh.b64", &godh, sizeof godh);
	if (r == 0)
		r = out_b64(a[2], "_session.b64", &blob, sizeof blob);
	if (r == 0)
		r = out_file(a[2], "_tek.bin", tk.tek, sizeof tk.tek, 0600);
	if (r == 0)
		r = out_file(a[2], "_tik.bin", tk.tik, sizeof tk.tik, 0600);
	secret_wipe(&tk, sizeof tk);
	return r == 0 ? 0 : fail("cannot write the session files");
}

static int secret(char **a)
{
	_cleanup_free_ uint8_t *blob = NULL, *iv = NULL, *data = NULL, *cipher = NULL;
	uint8_t *table = NULL; /* attest_secret_table's: secret_free */
	struct attest_secret s = {};
	struct sev_secret_header h;
	struct attest_tk tk;
	size_t blob_len = 0, iv_len = 0, data_len = 0, len = 0;
	int r = -EINVAL;

	if (read_exact(a[0], tk.tik, sizeof tk.tik) < 0 ||
	    read_exact(a[1], tk.tek, sizeof tk.tek) < 0 ||
	    base64_decode(a[2], strlen(a[2]), &blob, &blob_len) < 0 || blob_len < 32 ||
	    base64_decode(a[3], strlen(a[3]), &iv, &iv_len) < 0 || iv_len != 16 ||
	    attest_guid_parse(a[4], s.guid) < 0 ||
	    read_full_file(a[5], FILE_MAX, &data, &data_len) < 0)
		goto out;
	s.data = data, s.len = data_len;
	if (attest_secret_table(&s, 1, &table, &len) < 0 || !(cipher = malloc(len)) ||
	    attest_secret_seal(&(struct attest_secret_key){ &tk, blob, 0, 17 }, iv, table, len, &h,
			       cipher) < 0)
		goto out;
	r = put(a[6], &h, sizeof h, 0644);
	if (r == 0)
		r = put(a[7], cipher, len, 0644);
out:
	secret_wipe(&tk, sizeof tk);
	if (table)
		secret_free(table, len);
	return r == 0 ? 0 : fail("cannot build the secret packet");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int args;
		int (*run)(char **a);
	} cases[] = { { "measurement", 10, measurement }, { "session", 3, session },
		      { "secret", 8, secret } };

	for (size_t i = 0; argc > 1 && i < ELEMENTSOF(cases); i++)
		if (!strcmp(argv[1], cases[i].name))
			return argc == cases[i].args + 2 ? cases[i].run(argv + 2)
							 : fail("wrong number of arguments");
	return fail("usage: bench-cli-floor measurement|session|secret ARGS (see the source)");
}
