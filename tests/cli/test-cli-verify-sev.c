/* sevadm verify report/chain on a legacy SEV chain built here the way sev-psp-emu builds its
 * own (attest/ API): an emulator root ARK → ASK (RSA, AMD format) → CEK → PEK ← OCA, PDH ← PEK,
 * and an ATTESTATION report signed by the PEK. The chain is trusted only when the user names the
 * emulator root (--emulator-root), and the output says it is not AMD's; a flipped PEK byte, a
 * wrong nonce or digest each fail with the check named. */
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attest/amd-cert.h"
#include "attest/sev-cert.h"
#include "attest/sev-report.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "tests/testutil.h"

static const char *sevadm;
static char *tmp;

struct keys {
	EVP_PKEY *ark, *ask, *cek, *oca, *pek, *pdh;
};

static void write_to(const char *dir, const char *name, const void *buf, size_t len)
{
	_cleanup_free_ char *p = path_join(dir, name);

	TU_CHECK(write_file_atomic(p, buf, len, 0644) == 0, "write %s", p);
}

static void sev_cert(struct sev_cert *c, uint32_t usage, EVP_PKEY *key)
{
	memset(c, 0, sizeof *c);
	TU_CHECK(attest_sev_cert_init(c, 0, 24, usage, SEV_ALGO_ECDSA_SHA256, key) == 0, "init");
	for (int i = 0; i < 2; i++) {
		memset(&c->sig[i], 0, sizeof c->sig[i]);
		c->sig[i].usage = SEV_USAGE_NONE;
	}
}

static void amd_pair(const struct keys *k, uint8_t *out, size_t *out_len, struct amd_cert *ask,
		     struct amd_cert *ark)
{
	const uint8_t ark_id[16] = { 0xe1, 0x01 }, ask_id[16] = { 0xe1, 0x02 };
	size_t a, b;

	TU_CHECK(attest_amd_cert_init(ark, ark_id, ark_id, 0x00, k->ark) == 0, "ark");
	TU_CHECK(attest_amd_cert_sign(ark, k->ark) == 0, "ark sign");
	TU_CHECK(attest_amd_cert_init(ask, ask_id, ark_id, 0x13, k->ask) == 0, "ask");
	TU_CHECK(attest_amd_cert_sign(ask, k->ark) == 0, "ask sign");
	TU_CHECK(attest_amd_cert_encode(ask, out, AMD_CERT_MAX_SIZE, &a) == 0, "enc");
	TU_CHECK(attest_amd_cert_encode(ark, out + a, AMD_CERT_MAX_SIZE, &b) == 0, "enc");
	*out_len = a + b;
}

/* Writes DIR/{pdh,pek,oca,cek,ask,ark}.cert and ROOT (ASK ‖ ARK, the emulator's root). */
static void build_chain(const struct keys *k, const char *dir, const char *root)
{
	static uint8_t pair[2 * AMD_CERT_MAX_SIZE];
	struct amd_cert ask, ark;
	struct sev_cert cek, oca, pek, pdh;
	uint8_t enc[AMD_CERT_MAX_SIZE];
	size_t n, m;

	amd_pair(k, pair, &n, &ask, &ark);
	TU_CHECK(write_file_atomic(root, pair, n, 0644) == 0, "root");
	TU_CHECK(attest_amd_cert_encode(&ask, enc, sizeof enc, &m) == 0, "ask");
	write_to(dir, "ask.cert", enc, m);
	TU_CHECK(attest_amd_cert_encode(&ark, enc, sizeof enc, &m) == 0, "ark");
	write_to(dir, "ark.cert", enc, m);
	sev_cert(&cek, SEV_USAGE_CEK, k->cek);
	TU_CHECK(attest_sev_cert_sign(&cek, 0, SEV_USAGE_ASK, SEV_ALGO_RSA_SHA256, k->ask) == 0, "c");
	sev_cert(&oca, SEV_USAGE_OCA, k->oca);
	TU_CHECK(attest_sev_cert_sign(&oca, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, k->oca) == 0,
		 "o");
	sev_cert(&pek, SEV_USAGE_PEK, k->pek);
	TU_CHECK(attest_sev_cert_sign(&pek, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, k->oca) == 0,
		 "p");
	TU_CHECK(attest_sev_cert_sign(&pek, 1, SEV_USAGE_CEK, SEV_ALGO_ECDSA_SHA256, k->cek) == 0,
		 "p");
	memset(&pdh, 0, sizeof pdh);
	TU_CHECK(attest_sev_cert_init(&pdh, 0, 24, SEV_USAGE_PDH, SEV_ALGO_ECDH_SHA256, k->pdh) == 0,
		 "pdh");
	for (int i = 0; i < 2; i++) {
		memset(&pdh.sig[i], 0, sizeof pdh.sig[i]);
		pdh.sig[i].usage = SEV_USAGE_NONE;
	}
	TU_CHECK(attest_sev_cert_sign(&pdh, 0, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, k->pek) == 0,
		 "d");
	write_to(dir, "cek.cert", &cek, sizeof cek);
	write_to(dir, "oca.cert", &oca, sizeof oca);
	write_to(dir, "pek.cert", &pek, sizeof pek);
	write_to(dir, "pdh.cert", &pdh, sizeof pdh);
}

/* sevadm with stdout and stderr in files of tmp; both read back whole. */
static int run(char **out, char **err, const char *const *args)
{
	char *argv[24] = { (char *)sevadm };
	_cleanup_free_ char *op = path_join(tmp, "stdout.txt"), *ep = path_join(tmp, "stderr.txt");
	size_t n = 1, len;
	int status;
	pid_t pid;

	for (; *args && n < ELEMENTSOF(argv) - 1; args++)
		argv[n++] = (char *)*args;
	pid = fork();
	TU_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		if (!freopen(op, "w", stdout) || !freopen(ep, "w", stderr))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	TU_CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	*out = (char *)tu_read_file(op, &len);
	*out = realloc(*out, len + 1);
	(*out)[len] = 0;
	*err = (char *)tu_read_file(ep, &len);
	*err = realloc(*err, len + 1);
	(*err)[len] = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define SEVADM(out, err, ...) run(out, err, (const char *const[]){ __VA_ARGS__, NULL })

static void check(int status, int want, char *out, char *err, const char *out_has,
		  const char *err_has)
{
	TU_CHECK(status == want, "exit %d, expected %d\n%s\n%s", status, want, out, err);
	if (out_has)
		TU_CHECK(strstr(out, out_has), "stdout lacks '%s':\n%s", out_has, out);
	if (err_has)
		TU_CHECK(strstr(err, err_has), "stderr lacks '%s':\n%s", err_has, err);
	free(out);
	free(err);
}

static void test_report(const struct keys *k, const char *dir, const char *root)
{
	_cleanup_free_ char *rep = path_join(tmp, "report.bin"), *roots = tu_vector_path("amd-roots");
	struct sev_attestation_report r = { .policy = 0x1 };
	const char *nonce = "000102030405060708090a0b0c0d0e0f";
	const char *digest = "2020202020202020202020202020202020202020202020202020202020202020";
	char *out, *err;

	for (int i = 0; i < 16; i++)
		r.mnonce[i] = (uint8_t)i;
	memset(r.launch_digest, 0x20, sizeof r.launch_digest);
	TU_CHECK(attest_sev_report_sign(&r, k->pek) == 0, "sign the report");
	TU_CHECK(write_file_atomic(rep, &r, sizeof r, 0644) == 0, "write");

	int s = SEVADM(&out, &err, "verify", "report", rep, "--chain", dir, "--roots", roots,
		       "--emulator-root", root, "--nonce", nonce, "--measurement", digest);
	check(s, 0, out, err, "EMULATED", NULL);
	s = SEVADM(&out, &err, "verify", "report", rep, "--chain", dir, "--roots", roots, "--nonce",
		   nonce);
	check(s, 1, out, err, NULL, "not one of the trusted roots");
	s = SEVADM(&out, &err, "verify", "report", rep, "--chain", dir, "--roots", roots,
		   "--emulator-root", root, "--nonce", "ff0102030405060708090a0b0c0d0e0f");
	check(s, 1, out, err, NULL, "mnonce");
	s = SEVADM(&out, &err, "verify", "chain", dir, "--roots", roots, "--emulator-root", root);
	check(s, 0, out, err, "PDH signed by PEK", NULL);

	/* A byte of the PEK's signed part flipped: the chain fails, naming the PEK. */
	_cleanup_free_ char *pekp = path_join(dir, "pek.cert");
	size_t len;
	_cleanup_free_ uint8_t *pek = tu_read_file(pekp, &len);
	pek[0x20] ^= 1;
	TU_CHECK(write_file_atomic(pekp, pek, len, 0644) == 0, "write");
	s = SEVADM(&out, &err, "verify", "report", rep, "--chain", dir, "--roots", roots,
		   "--emulator-root", root);
	check(s, 1, out, err, "FAILED", "PEK");
}

int main(void)
{
	struct keys k;
	_cleanup_free_ char *dir = NULL, *root = NULL;

	sevadm = getenv("SEVADM_EXE");
	if (!sevadm || access(sevadm, X_OK) < 0)
		tu_skip("sevadm is not built (SEVADM_EXE)");
	tmp = tu_mkdtemp();
	k.ark = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	k.ask = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	k.cek = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	k.oca = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	k.pek = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	k.pdh = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	TU_CHECK(k.ark && k.ask && k.cek && k.oca && k.pek && k.pdh, "keys");
	dir = path_join(tmp, "chain");
	root = path_join(tmp, "emu_ask_ark.cert");
	TU_CHECK(mkdir(dir, 0755) == 0, "mkdir");
	build_chain(&k, dir, root);
	test_report(&k, dir, root);
	EVP_PKEY *all[] = { k.ark, k.ask, k.cek, k.oca, k.pek, k.pdh };
	for (size_t i = 0; i < ELEMENTSOF(all); i++)
		EVP_PKEY_free(all[i]);
	tu_rmtree(tmp);
	free(tmp);
	tu_done("test-cli-verify-sev");
}
