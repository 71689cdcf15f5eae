/* Upload admission (upload-limit.h): a table of the uploads running, each with the SHA-256
 * of its caller's credential (the token itself is not kept), under one lock; a full table
 * or a principal at its limit waits on a condition with a deadline (CLOCK_MONOTONIC). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/secret.h"
#include "common/util.h"
#include "daemon/core/core.h"
#include "daemon/worker/api.h"
#include "daemon/worker/upload-limit.h"

#define SLOTS_MAX 64

static struct {
	pthread_once_t once;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned total, per_principal, wait_ms;
	unsigned running;
	bool used[SLOTS_MAX];
	uint8_t key[SLOTS_MAX][32];
} L = {.once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER};

static void init_cond(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&L.cond, &a);
	pthread_condattr_destroy(&a);
}

void sevd_upload_limit_set(unsigned total, unsigned per_principal, unsigned wait_ms)
{
	pthread_once(&L.once, init_cond);
	pthread_mutex_lock(&L.lock);
	L.total = total < SLOTS_MAX ? total : SLOTS_MAX;
	L.per_principal = per_principal && per_principal < L.total ? per_principal : L.total;
	L.wait_ms = wait_ms;
	pthread_mutex_unlock(&L.lock);
}

/* The principal: who the credential is, hashed (a token is a secret). */
static int principal_key(const struct sevd_caller *c, uint8_t key[32])
{
	char s[SEVD_EVIDENCE_MAX + 32];
	unsigned int n = 0;
	int r;

	switch (c->kind) {
	case SEVD_EVIDENCE_UNIX:
		snprintf(s, sizeof(s), "unix:%u", c->uid);
		break;
	case SEVD_EVIDENCE_TOKEN:
	case SEVD_EVIDENCE_CERT:
		snprintf(s, sizeof(s), "%s:%.*s", c->kind == SEVD_EVIDENCE_TOKEN ? "token" : "cert",
			 (int)strnlen(c->text, sizeof(c->text)), c->text);
		break;
	default:
		snprintf(s, sizeof(s), "none");
		break;
	}
	r = EVP_Digest(s, strlen(s), key, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -EIO;
	secret_wipe(s, sizeof(s));
	return r;
}

/* The principal in words, for the refusal (never the token). */
static void principal_name(const struct sevd_caller *c, char *buf, size_t size)
{
	if (c->kind == SEVD_EVIDENCE_UNIX)
		snprintf(buf, size, "uid %u on the Unix socket", c->uid);
	else if (c->kind == SEVD_EVIDENCE_TOKEN)
		snprintf(buf, size, "this bearer token");
	else if (c->kind == SEVD_EVIDENCE_CERT)
		snprintf(buf, size, "client certificate CN=%.64s",
			 c->cn[0] ? c->cn : "(none)");
	else
		snprintf(buf, size, "this caller");
}

static unsigned held_by(const uint8_t key[32])
{
	unsigned n = 0;

	for (unsigned i = 0; i < SLOTS_MAX; i++)
		n += L.used[i] && secret_memcmp(L.key[i], key, 32) == 0;
	return n;
}

static void refuse(const struct sevd_caller *c, bool mine, unsigned held,
		   struct sevd_api_response *resp)
{
	char who[128], msg[480];

	principal_name(c, who, sizeof(who));
	if (mine)
		snprintf(msg, sizeof(msg),
			 "%s already runs %u image uploads, the most one principal may "
			 "(upload_limit_per_principal = %u in sevd.conf); none ended within %u ms. "
			 "Retry when one of them has ended, or raise upload_limit_per_principal",
			 who, held, L.per_principal, L.wait_ms);
	else
		snprintf(msg, sizeof(msg),
			 "sevd already runs %u image uploads, the most it takes at once "
			 "(upload_limit = %u in sevd.conf: each holds a core channel, and "
			 "reserved_channels stay free for reads and health); none ended within "
			 "%u ms. Retry when an upload has ended, or raise upload_limit",
			 L.running, L.total, L.wait_ms);
	sevd_api_error(resp, 429, "upload_limit", msg, -1);
}

int sevd_upload_admit(const struct sevd_caller *caller, struct sevd_api_response *resp,
		      int *ret_ticket)
{
	static const struct sevd_caller nobody;
	struct timespec dl;
	uint8_t key[32];
	unsigned held = 0;
	bool timed_out = false;
	int slot = -1;

	*ret_ticket = -1;
	if (!caller)
		caller = &nobody;
	pthread_once(&L.once, init_cond);
	if (principal_key(caller, key) < 0) {
		sevd_api_error(resp, 503, "internal", "cannot hash the caller's credential", -1);
		return -EIO;
	}
	pthread_mutex_lock(&L.lock);
	if (!L.total) {
		pthread_mutex_unlock(&L.lock);
		secret_wipe(key, sizeof(key));
		return 0;
	}
	timespec_after_ms(CLOCK_MONOTONIC, L.wait_ms, &dl);
	for (;;) {
		held = held_by(key);
		if (L.running < L.total && held < L.per_principal)
			break;
		if (timed_out) {
			refuse(caller, held >= L.per_principal, held, resp);
			pthread_mutex_unlock(&L.lock);
			secret_wipe(key, sizeof(key));
			return -EUSERS;
		}
		timed_out = pthread_cond_timedwait(&L.cond, &L.lock, &dl) == ETIMEDOUT;
	}
	for (slot = 0; slot < SLOTS_MAX && L.used[slot]; slot++)
		;
	L.used[slot] = true; /* running < total <= SLOTS_MAX: there is one */
	memcpy(L.key[slot], key, sizeof(key));
	L.running++;
	pthread_mutex_unlock(&L.lock);
	secret_wipe(key, sizeof(key));
	*ret_ticket = slot;
	return 0;
}

void sevd_upload_release(int ticket)
{
	if (ticket < 0 || ticket >= SLOTS_MAX)
		return;
	pthread_mutex_lock(&L.lock);
	if (L.used[ticket]) {
		L.used[ticket] = false;
		secret_wipe(L.key[ticket], sizeof(L.key[ticket]));
		L.running--;
	}
	pthread_cond_broadcast(&L.cond);
	pthread_mutex_unlock(&L.lock);
}
