/* Argument, input and output helpers of the guest owner's offline verbs (cli/owner.h).
 * Inputs are the user's own files; outputs may hold keys, so they are created with O_EXCL
 * under their final mode and never left half-written: all are renamed together at the end. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli/owner.h"
#include "cli/sevadm.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"

void owner_free_wiped(uint8_t *p, size_t len)
{
	if (!p)
		return;
	secret_wipe(p, len);
	free(p);
}

int owner_read_file(const char *verb, const char *what, const char *path, size_t max,
		    uint8_t **ret, size_t *ret_len)
{
	int r = read_full_file(path, max, ret, ret_len);

	if (r == -EFBIG)
		return sevadm_fail(verb, "%s %s is larger than %zu bytes", what, path, max);
	if (r < 0)
		return sevadm_fail(verb, "cannot read %s %s: %s", what, path, strerror(-r));
	return 0;
}

int owner_read_arg(const char *verb, const char *flag, const char *val, size_t want, size_t max,
		   uint8_t **ret, size_t *ret_len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (want)
		max = want;
	if (stat(val, &st) == 0) {
		r = owner_read_file(verb, flag, val, max, &buf, &len);
		if (r != 0)
			return r;
	} else if (want && strlen(val) == 2 * want && hex_decode(val, &buf, &len) == 0) {
		/* Hex as sevd's JSON carries it: 2·want hex digits never decode as base64 of
		 * `want` bytes, so the two spellings cannot be confused. */
	} else if (base64_decode(val, strlen(val), &buf, &len) < 0)
		return sevadm_usage(verb, "%s %s: no such file, and neither base64 nor hex", flag,
				    val);
	if ((want && len != want) || len == 0 || len > max) {
		owner_free_wiped(buf, len);
		return sevadm_fail(verb, "%s must be %zu bytes, got %zu", flag, want ? want : max,
				   len);
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int owner_sha256_file(const char *verb, const char *what, const char *path, uint8_t out[32])
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t buf[65536];
	ssize_t n;

	if (fd < 0)
		return sevadm_fail(verb, "cannot open %s %s: %s", what, path, strerror(errno));
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		return sevadm_fail(verb, "cannot set up SHA-256");
	while ((n = loop_read(fd, buf, sizeof buf)) > 0)
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1)
			return sevadm_fail(verb, "SHA-256 failed");
	if (n < 0)
		return sevadm_fail(verb, "cannot read %s %s: %s", what, path, strerror((int)-n));
	if (EVP_DigestFinal_ex(md, out, NULL) != 1)
		return sevadm_fail(verb, "SHA-256 failed");
	return 0;
}

int owner_parse_num(const char *verb, const char *flag, const char *s, uint32_t max,
		    uint32_t *ret)
{
	uint32_t v;

	if (parse_u32(s, &v) < 0 || v > max)
		return sevadm_usage(verb, "%s=%s must be a number (decimal or 0x hex) up to %u", flag,
				    s, max);
	*ret = v;
	return 0;
}

int owner_out_add(struct owner_out *o, const char *path, const void *buf, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (o->n >= OWNER_OUT_MAX)
		return sevadm_fail(o->verb, "too many output files");
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return sevadm_fail(o->verb, "out of memory");
	fd = mkostemp(tmp, O_CLOEXEC); /* O_CREAT|O_EXCL, mode 0600 */
	if (fd < 0)
		return sevadm_fail(o->verb, "cannot create a file next to %s: %s", path,
				   strerror(errno));
	o->tmp[o->n] = TAKE_PTR(tmp);
	o->final[o->n] = strdup(path);
	o->n++;
	if (!o->final[o->n - 1])
		return sevadm_fail(o->verb, "out of memory");
	if (fchmod(fd, mode) < 0)
		return sevadm_fail(o->verb, "cannot set the mode of %s: %s", path,
				   strerror(errno));
	r = loop_write(fd, buf, len);
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r < 0)
		return sevadm_fail(o->verb, "cannot write %s: %s", path, strerror(-r));
	return 0;
}

int owner_out_commit(struct owner_out *o)
{
	for (size_t i = 0; i < o->n; i++) {
		if (rename(o->tmp[i], o->final[i]) < 0) {
			int r = sevadm_fail(o->verb, "cannot rename into %s: %s", o->final[i],
					    strerror(errno));
			/* Files already renamed are complete; remove them too: all or nothing. */
			for (size_t j = 0; j < i; j++)
				unlink(o->final[j]);
			owner_out_abort(o);
			return r;
		}
		free(o->tmp[i]);
		o->tmp[i] = NULL;
	}
	owner_out_abort(o);
	return 0;
}

void owner_out_abort(struct owner_out *o)
{
	for (size_t i = 0; i < o->n; i++) {
		if (o->tmp[i])
			unlink(o->tmp[i]);
		free(o->tmp[i]);
		free(o->final[i]);
		o->tmp[i] = o->final[i] = NULL;
	}
	o->n = 0;
}
