/* Roles from peer credentials and bearer tokens. See auth.h for the rules. */
#include <errno.h>
#include <grp.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/socket.h>

#include "common/macros.h"
#include "common/secret.h"
#include "daemon/worker/auth.h"
#include "daemon/sevd-config.h"

static const char *const role_names[SEVD_ROLE_MAX_] = {
	[SEVD_ROLE_PUBLIC] = "public", [SEVD_ROLE_READER] = "reader",
	[SEVD_ROLE_OWNER] = "owner",   [SEVD_ROLE_LAUNCHER] = "launcher",
	[SEVD_ROLE_ADMIN] = "admin",   [SEVD_ROLE_MIGRATOR] = "migrator",
};

const char *sevd_role_name(enum sevd_role r)
{
	return r < SEVD_ROLE_MAX_ ? role_names[r] : "unknown";
}

int sevd_role_from_name(const char *s, enum sevd_role *ret)
{
	for (int i = 0; i < SEVD_ROLE_MAX_; i++)
		if (strcmp(s, role_names[i]) == 0) {
			*ret = (enum sevd_role)i;
			return 0;
		}
	return -EINVAL;
}

/* Is gid among the peer's groups? SO_PEERGROUPS (Linux 4.13) gives the supplementary groups
 * the peer had at connect() time; the primary gid comes with SO_PEERCRED. */
static bool peer_in_group(int fd, gid_t primary, gid_t gid)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (primary == gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

void sevd_auth_unix_evidence(int fd, struct sevd_caller *cl)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[SEVD_EVIDENCE_GROUPS];
	socklen_t glen = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
		return; /* no evidence: public */
	cl->kind = SEVD_EVIDENCE_UNIX;
	cl->uid = (uint32_t)cred.uid;
	cl->gid = (uint32_t)cred.gid;
	/* More groups than fit: ERANGE, and only the primary gid counts (fail closed). */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0)
		for (size_t i = 0; i < glen / sizeof(gid_t); i++)
			cl->groups[cl->n_groups++] = (uint32_t)groups[i];
}

void sevd_auth_token_evidence(const char *token, struct sevd_caller *cl)
{
	size_t n = strlen(token);

	cl->kind = SEVD_EVIDENCE_TOKEN;
	if (n < sizeof(cl->text))
		memcpy(cl->text, token, n + 1); /* longer: empty, which no hash matches */
}

enum sevd_role sevd_auth_unix_peer(int fd, gid_t admin_gid, bool have_admin_gid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
		return SEVD_ROLE_PUBLIC; /* should not happen on AF_UNIX; fail closed */
	if (cred.uid == 0)
		return SEVD_ROLE_ADMIN;
	if (have_admin_gid && peer_in_group(fd, cred.gid, admin_gid))
		return SEVD_ROLE_ADMIN;
	return SEVD_ROLE_READER;
}

int sevd_auth_hash(const char *token, uint8_t ret[32])
{
	unsigned int n = 0;

	if (EVP_Digest(token, strlen(token), ret, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -EIO;
	return 0;
}
