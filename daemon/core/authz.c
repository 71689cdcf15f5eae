/* The core decides who may do what (authz.h). The worker forwards evidence, never a role:
 * a bearer token is hashed here and compared with the core's own copy of the configured
 * hashes in constant time, so a worker that never saw a valid token cannot make one up.
 * A Unix caller is a connection id the core issued when it accepted the connection itself
 * (core/conns.h): the credentials are those the core read from the kernel, whatever the
 * worker writes beside the id. A TLS client's certificate chain comes once per connection
 * (CONN_CERT): the core verifies it against tls_client_ca itself and answers an id, and maps
 * the subject it read; it trusts the worker only that the client holds the key (the
 * handshake runs in the worker: daemon/README.md, "Who the core believes over TLS"). */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>
#include <sys/random.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "daemon/core/authz.h"
#include "daemon/core/client-cert.h"
#include "daemon/core/conns.h"

enum refusal {
	REFUSE_NO_EVIDENCE, /* no credentials, and the op is not public */
	REFUSE_BAD_TOKEN,   /* a token that matches no configured hash */
	REFUSE_BAD_SUBJECT, /* a certificate subject no client_cert_role maps */
	REFUSE_BAD_EVIDENCE, /* malformed evidence (unknown kind, unterminated text) */
	REFUSE_ROLE,	    /* a known caller whose role the op's row does not admit */
	REFUSE_TENANT,	    /* a guest of another tenant, or a launch into one */
	REFUSE_RATE,	    /* a destructive op over sevd.conf's destructive_rate (429) */
	REFUSE_NO_CONNECTION,  /* Unix evidence without a connection id */
	REFUSE_BAD_CONNECTION, /* a connection id the core never issued, or closed */
	REFUSE_BAD_CERT,       /* CONN_CERT: a chain that does not verify against tls_client_ca */
	REFUSE_MAX_,
};

static const char *const refusal_names[REFUSE_MAX_] = {
    [REFUSE_NO_EVIDENCE] = "no_evidence",
    [REFUSE_BAD_TOKEN] = "bad_token",
    [REFUSE_BAD_SUBJECT] = "bad_subject",
    [REFUSE_BAD_EVIDENCE] = "bad_evidence",
    [REFUSE_ROLE] = "role",
    [REFUSE_TENANT] = "tenant",
    [REFUSE_RATE] = "rate",
    [REFUSE_NO_CONNECTION] = "no_connection",
    [REFUSE_BAD_CONNECTION] = "bad_connection",
    [REFUSE_BAD_CERT] = "bad_certificate",
};

static const char *const op_names[SEVD_OP_MAX_] = {
#define NAME_ROW(name, fn, gfn, fw, req, rep, roles, guest) [SEVD_OP_##name] = #name,
    SEVD_OPS(NAME_ROW)
#undef NAME_ROW
};

/* The roles column; an op whose row says 0 is refused for everyone. */
static const unsigned op_roles[SEVD_OP_MAX_] = {
#define ROLE_ROW(name, fn, gfn, fw, req, rep, roles, guest) [SEVD_OP_##name] = (roles),
    SEVD_OPS(ROLE_ROW)
#undef ROLE_ROW
};

/* Build-time checks of every row: firmware and guest are 0 or 1, roles only names roles. */
#define ROW_CHECK(name, fn, gfn, fw, req, rep, roles, guest)                                      \
	_Static_assert((fw) == 0 || (fw) == 1, "ops.h: " #name ": firmware is 0 or 1");          \
	_Static_assert((guest) == 0 || (guest) == 1, "ops.h: " #name ": guest is 0 or 1");       \
	_Static_assert(((roles) & ~((1u << SEVD_ROLE_MAX_) - 1)) == 0,                           \
		       "ops.h: " #name ": roles are SEVD_ROLES_* bits");
SEVD_OPS(ROW_CHECK)
#undef ROW_CHECK

/* Destructive ops (ops.h SEVD_DESTRUCTIVE_OPS) are the admin's alone: checked at build time
 * against the roles column, so a row cannot widen one unnoticed. */
enum {
#define ROLES_ENUM(name, fn, gfn, fw, req, rep, roles, guest) OP_ROLES_##name = (roles),
	SEVD_OPS(ROLES_ENUM)
#undef ROLES_ENUM
};
#define DESTRUCTIVE_CHECK(name)                                                                   \
	_Static_assert(OP_ROLES_##name == SEVD_ROLES_ADMIN,                                       \
		       "ops.h: " #name " is destructive: its roles must be SEVD_ROLES_ADMIN");
SEVD_DESTRUCTIVE_OPS(DESTRUCTIVE_CHECK)
#undef DESTRUCTIVE_CHECK

static const bool op_destructive[SEVD_OP_MAX_] = {
#define DESTRUCTIVE_ROW(name) [SEVD_OP_##name] = true,
    SEVD_DESTRUCTIVE_OPS(DESTRUCTIVE_ROW)
#undef DESTRUCTIVE_ROW
};

struct sevd_authz {
	struct sevd_token tokens[32];
	unsigned n_tokens;
	struct sevd_cert_role *cert_roles;
	unsigned n_cert_roles;
	uint32_t admin_gid;
	bool have_admin_gid, metrics_public;
	/* The destructive ops' token bucket: rate per period, a burst of rate (0 = off). */
	pthread_mutex_t rate_lock;
	double rate_tokens;
	uint64_t rate_last_ms;
	unsigned rate, period_s;
	_Atomic uint64_t refused[SEVD_OP_MAX_][REFUSE_MAX_];
	/* TLS connections whose chain the core verified (CONN_CERT): id -> subject, until
	 * CONN_END or a new worker (sevd_authz_conns_reset). */
	X509_STORE *client_ca;
	pthread_mutex_t cert_lock;
	struct cert_conn {
		uint64_t id;
		char dn[SEVD_EVIDENCE_MAX], cn[SEVD_EVIDENCE_MAX];
	} *cert_conns;
	unsigned n_cert_conns;
};

#define CERT_CONNS_MAX 4096

static void refuse(struct sevd_authz *a, const struct sevd_request *req, struct sevd_reply *rep,
		   int why);

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Take one destructive op from the bucket: 0, or the seconds until one is there again. */
static unsigned rate_take(struct sevd_authz *a)
{
	double per_ms, t;
	uint64_t now;
	unsigned wait = 0;

	if (!a->rate)
		return 0;
	per_ms = (double)a->rate / ((double)a->period_s * 1000.0);
	pthread_mutex_lock(&a->rate_lock);
	now = now_ms();
	t = a->rate_tokens + (double)(now - a->rate_last_ms) * per_ms;
	t = t > a->rate ? a->rate : t;
	a->rate_last_ms = now;
	if (t >= 1.0)
		t -= 1.0;
	else
		wait = (unsigned)((1.0 - t) / per_ms / 1000.0) + 1;
	a->rate_tokens = t;
	pthread_mutex_unlock(&a->rate_lock);
	return wait;
}

const char *sevd_op_name(uint32_t op)
{
	return op < SEVD_OP_MAX_ && op_names[op] ? op_names[op] : "unknown";
}

int sevd_authz_new(const struct sevd_core_config *cfg, struct sevd_authz **ret)
{
	struct sevd_authz *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	if (cfg->n_tokens > ELEMENTSOF(a->tokens)) {
		free(a);
		return -E2BIG;
	}
	if (cfg->n_tokens)
		memcpy(a->tokens, cfg->tokens, cfg->n_tokens * sizeof(a->tokens[0]));
	a->n_tokens = cfg->n_tokens;
	if (cfg->n_cert_roles) {
		a->cert_roles = calloc(cfg->n_cert_roles, sizeof(*a->cert_roles));
		if (!a->cert_roles) {
			sevd_authz_free(a);
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < cfg->n_cert_roles; i++) {
		a->cert_roles[i] = cfg->cert_roles[i];
		a->cert_roles[i].subject = strdup(cfg->cert_roles[i].subject);
		a->n_cert_roles = i + 1;
		if (!a->cert_roles[i].subject) {
			sevd_authz_free(a);
			return -ENOMEM;
		}
	}
	a->admin_gid = cfg->admin_gid;
	a->have_admin_gid = cfg->have_admin_gid;
	a->metrics_public = cfg->metrics_public;
	a->rate = cfg->destructive_rate;
	a->period_s = cfg->destructive_period_s ? cfg->destructive_period_s : 60;
	a->rate_tokens = a->rate;
	a->rate_last_ms = now_ms();
	pthread_mutex_init(&a->rate_lock, NULL);
	pthread_mutex_init(&a->cert_lock, NULL);
	a->cert_conns = calloc(CERT_CONNS_MAX, sizeof(*a->cert_conns));
	if (!a->cert_conns) {
		sevd_authz_free(a);
		return -ENOMEM;
	}
	if (cfg->tls_client_ca) {
		char err[256];

		a->client_ca = sevd_client_ca_load(cfg->tls_client_ca, err, sizeof(err));
		if (!a->client_ca)
			log_error("The core cannot verify TLS client certificates (%s): every "
				  "client certificate is refused; fix tls_client_ca in sevd.conf",
				  err);
	}
	*ret = a;
	return 0;
}

void sevd_authz_free(struct sevd_authz *a)
{
	if (!a)
		return;
	for (unsigned i = 0; i < a->n_cert_roles; i++)
		free(a->cert_roles[i].subject);
	free(a->cert_roles);
	pthread_mutex_destroy(&a->rate_lock);
	pthread_mutex_destroy(&a->cert_lock);
	X509_STORE_free(a->client_ca);
	free(a->cert_conns);
	secret_wipe(a->tokens, sizeof(a->tokens));
	free(a);
}

/* Every configured hash is compared (CRYPTO_memcmp, no early exit), as the worker does. */
static int token_role(struct sevd_authz *a, const char *token, enum sevd_role *ret,
		      const char **ret_tenant)
{
	uint8_t h[32];
	unsigned int n = 0;
	bool known = false;

	if (EVP_Digest(token, strlen(token), h, &n, EVP_sha256(), NULL) != 1 || n != sizeof(h))
		return -EIO;
	for (unsigned i = 0; i < a->n_tokens; i++)
		if (CRYPTO_memcmp(h, a->tokens[i].hash, sizeof(h)) == 0 && !known) {
			known = true;
			*ret = a->tokens[i].role;
			*ret_tenant = a->tokens[i].tenant;
		}
	secret_wipe(h, sizeof(h));
	return known ? 0 : -ENOENT;
}

/* CERT evidence: the connection id back to the subject the core verified (CONN_CERT),
 * written into the request over whatever the worker put there. */
static int cert_caller(struct sevd_authz *a, struct sevd_caller *cl)
{
	int r = REFUSE_BAD_CONNECTION;

	if (!cl->conn)
		return REFUSE_NO_CONNECTION;
	pthread_mutex_lock(&a->cert_lock);
	for (unsigned i = 0; i < a->n_cert_conns; i++)
		if (a->cert_conns[i].id == cl->conn) {
			memcpy(cl->text, a->cert_conns[i].dn, sizeof(cl->text));
			memcpy(cl->cn, a->cert_conns[i].cn, sizeof(cl->cn));
			r = -1;
			break;
		}
	pthread_mutex_unlock(&a->cert_lock);
	return r;
}

/* The first client_cert_role line that matches, in the file's order (as worker/tls.c): its
 * role and its tenant ("" = none; ret_tenant may be NULL). */
static int cert_role(struct sevd_authz *a, const struct sevd_caller *cl, enum sevd_role *ret,
		     const char **ret_tenant)
{
	for (unsigned i = 0; i < a->n_cert_roles; i++)
		if (!strcmp(a->cert_roles[i].is_dn ? cl->text : cl->cn, a->cert_roles[i].subject)) {
			*ret = a->cert_roles[i].role;
			if (ret_tenant)
				*ret_tenant = a->cert_roles[i].tenant;
			return 0;
		}
	return -ENOENT;
}

/* As worker/auth.c's Unix rule: uid 0 or a member of admin_group is admin, else reader;
 * from the peer the core read at accept() (a peer it could not read has no rights). */
static enum sevd_role unix_role(struct sevd_authz *a, const struct sevd_conn_peer *p)
{
	if (p->uid == (uint32_t)-1)
		return SEVD_ROLE_PUBLIC;
	if (p->uid == 0)
		return SEVD_ROLE_ADMIN;
	if (a->have_admin_gid) {
		if (p->gid == a->admin_gid)
			return SEVD_ROLE_ADMIN;
		for (unsigned i = 0; i < p->n_groups && i < SEVD_EVIDENCE_GROUPS; i++)
			if (p->groups[i] == a->admin_gid)
				return SEVD_ROLE_ADMIN;
	}
	return SEVD_ROLE_READER;
}

/* A Unix caller: the connection id back to the credentials the core read, written into the
 * request (for the log and the ops) over whatever the worker put there. */
static int unix_caller(struct sevd_authz *a, struct sevd_caller *cl, enum sevd_role *ret)
{
	struct sevd_conn_peer p;

	if (!cl->conn)
		return REFUSE_NO_CONNECTION;
	if (sevd_conns_peer(cl->conn, &p) < 0)
		return REFUSE_BAD_CONNECTION;
	cl->uid = p.uid;
	cl->gid = p.gid;
	cl->n_groups = p.n_groups;
	memcpy(cl->groups, p.groups, sizeof(cl->groups));
	*ret = unix_role(a, &p);
	return -1;
}

/* The caller's role (-1; -2: a certificate no line maps, public), or the refusal its
 * evidence earns. */
static int caller_role(struct sevd_authz *a, struct sevd_caller *cl, enum sevd_role *ret,
		       const char **ret_tenant)
{
	int why;

	if (!memchr(cl->text, '\0', sizeof(cl->text)) || !memchr(cl->cn, '\0', sizeof(cl->cn)))
		return REFUSE_BAD_EVIDENCE;
	switch (cl->kind) {
	case SEVD_EVIDENCE_NONE:
		*ret = SEVD_ROLE_PUBLIC;
		return -1;
	case SEVD_EVIDENCE_UNIX:
		return unix_caller(a, cl, ret);
	case SEVD_EVIDENCE_TOKEN:
		return token_role(a, cl->text, ret, ret_tenant) < 0 ? REFUSE_BAD_TOKEN : -1;
	case SEVD_EVIDENCE_CERT: /* unmapped: public, as the worker has it (worker/tls.c) */
		if ((why = cert_caller(a, cl)) >= 0)
			return why;
		if (cert_role(a, cl, ret, ret_tenant) < 0) {
			*ret = SEVD_ROLE_PUBLIC;
			return -2;
		}
		return -1;
	default:
		return REFUSE_BAD_EVIDENCE;
	}
}

static const char *const kind_names[] = {"none", "unix", "token", "certificate"};


/* A launch (GUEST_CREATE, GUEST_RECEIVE_START) by a principal of a tenant goes into that
 * tenant: an empty tenant field becomes it, another one is refused. Admin names any. */
static int launch_tenant(struct sevd_request *req, const char *tenant)
{
	char *field = req->op == SEVD_OP_GUEST_CREATE	     ? req->u.create.tenant
		      : req->op == SEVD_OP_GUEST_RECEIVE_START ? req->u.migrate.tenant
							       : NULL;

	if (!field || !tenant[0])
		return 0;
	if (field[0] && strncmp(field, tenant, SEVD_GUEST_NAME_MAX))
		return -1;
	snprintf(field, SEVD_GUEST_NAME_MAX, "%s", tenant);
	return 0;
}

void sevd_authz_whoami(struct sevd_authz *a, const struct sevd_caller *cl, struct sevd_reply *rep)
{
	enum sevd_role role = SEVD_ROLE_PUBLIC;
	const char *tenant = "";

	rep->u.whoami.role = SEVD_ROLE_PUBLIC;
	rep->u.whoami.known = 0;
	if (cl->kind != SEVD_EVIDENCE_TOKEN || !memchr(cl->text, '\0', sizeof(cl->text)))
		return;
	rep->u.whoami.untenanted = 0;
	if (token_role(a, cl->text, &role, &tenant) == 0) {
		rep->u.whoami.role = (uint32_t)role;
		rep->u.whoami.known = 1;
		/* As sevd_authz_check decides principal_tenant: admin, or a token without one. */
		rep->u.whoami.untenanted = role == SEVD_ROLE_ADMIN || !tenant[0];
	}
}

/* CONN_CERT: verify the chain, map nothing yet (the role is decided per request from the
 * subject, cert_role), issue an id. A chain that does not verify is a refusal. */
void sevd_authz_conn_cert(struct sevd_authz *a, const struct sevd_request *req,
			  struct sevd_reply *rep)
{
	struct cert_conn e = {0};
	char err[160];
	enum sevd_role role = SEVD_ROLE_PUBLIC;
	int r;

	rep->fw_status = SEV_STATUS_NO_FW_CALL;
	r = req->u.cert_chain.len > sizeof(req->u.cert_chain.der)
		    ? (snprintf(err, sizeof(err), "a chain longer than %zu bytes",
				sizeof(req->u.cert_chain.der)),
		       -EMSGSIZE)
		    : sevd_client_chain_verify(a->client_ca, req->u.cert_chain.der,
					       req->u.cert_chain.len, e.dn, e.cn, sizeof(e.dn),
					       err, sizeof(err));
	if (r < 0) {
		refuse(a, req, rep, REFUSE_BAD_CERT);
		snprintf(rep->message, sizeof(rep->message),
			 "the core refused a TLS client certificate: %s (issue client "
			 "certificates under tls_client_ca)",
			 err);
		return;
	}
	pthread_mutex_lock(&a->cert_lock);
	while (e.id == 0)
		if (getrandom(&e.id, sizeof(e.id), 0) != sizeof(e.id))
			e.id = 0;
	if (a->n_cert_conns == CERT_CONNS_MAX) /* the oldest goes: a worker that never ends */
		memmove(a->cert_conns, a->cert_conns + 1,
			(CERT_CONNS_MAX - 1) * sizeof(*a->cert_conns));
	else
		a->n_cert_conns++;
	a->cert_conns[a->n_cert_conns - 1] = e;
	pthread_mutex_unlock(&a->cert_lock);
	{
		struct sevd_caller cl = {.kind = SEVD_EVIDENCE_CERT};

		memcpy(cl.text, e.dn, sizeof(cl.text));
		memcpy(cl.cn, e.cn, sizeof(cl.cn));
		if (cert_role(a, &cl, &role, NULL) < 0)
			role = SEVD_ROLE_PUBLIC;
	}
	rep->u.conn.id = e.id;
	rep->u.conn.role = (uint32_t)role;
}

void sevd_authz_conn_end(struct sevd_authz *a, uint64_t id)
{
	pthread_mutex_lock(&a->cert_lock);
	for (unsigned i = 0; i < a->n_cert_conns; i++)
		if (a->cert_conns[i].id == id) {
			a->cert_conns[i] = a->cert_conns[--a->n_cert_conns];
			break;
		}
	pthread_mutex_unlock(&a->cert_lock);
}

void sevd_authz_conns_reset(struct sevd_authz *a)
{
	pthread_mutex_lock(&a->cert_lock);
	a->n_cert_conns = 0;
	pthread_mutex_unlock(&a->cert_lock);
}

int sevd_authz_check(struct sevd_authz *a, struct sevd_request *req, struct sevd_reply *rep)
{
	enum sevd_role role = SEVD_ROLE_PUBLIC;
	const char *tenant = "";
	unsigned allowed;
	int why;

	memset(req->principal_tenant, 0, sizeof(req->principal_tenant));
	req->principal_role = SEVD_ROLE_PUBLIC;
	if (req->op == 0 || req->op >= SEVD_OP_MAX_)
		return 0; /* unknown ops are refused by the dispatch, as before */
	if (req->op == SEVD_OP_WHOAMI || req->op == SEVD_OP_CONN_CERT || req->op == SEVD_OP_CONN_END)
		return 0; /* a bad token asking who it is gets "nobody", not a refusal; a chain is
			   * its own evidence (sevd_authz_conn_cert); an id may always end */
	allowed = op_roles[req->op];
	if (req->op == SEVD_OP_METRICS && a->metrics_public)
		allowed |= SEVD_ROLE_BIT(SEVD_ROLE_PUBLIC);
	why = caller_role(a, &req->caller, &role, &tenant);
	if (why < 0 && role < SEVD_ROLE_MAX_ && (allowed & SEVD_ROLE_BIT(role))) {
		req->principal_role = (uint32_t)role;
		if (op_destructive[req->op]) {
			unsigned wait = rate_take(a);

			if (wait) {
				refuse(a, req, rep, REFUSE_RATE);
				snprintf(rep->message, sizeof(rep->message),
					 "the core refused %s: rate (more than %u destructive "
					 "platform operations in %u s, sevd.conf destructive_rate); "
					 "retry in %u s",
					 op_names[req->op], a->rate, a->period_s, wait);
				return -EACCES;
			}
		}
		if (role == SEVD_ROLE_ADMIN)
			return 0; /* admin acts on every tenant's guests, and names any */
		if (launch_tenant(req, tenant) < 0) {
			refuse(a, req, rep, REFUSE_TENANT);
			return -EACCES;
		}
		snprintf(req->principal_tenant, sizeof(req->principal_tenant), "%s", tenant);
		return 0;
	}
	if (why == -2)
		why = REFUSE_BAD_SUBJECT;
	else if (why < 0)
		why = role == SEVD_ROLE_PUBLIC ? REFUSE_NO_EVIDENCE : REFUSE_ROLE;
	refuse(a, req, rep, why);
	return -EACCES;
}

void sevd_authz_note(struct sevd_authz *a, uint32_t op, const struct sevd_reply *rep)
{
	if (op == 0 || op >= SEVD_OP_MAX_)
		return;
	if (!strcmp(rep->rule, "core_refused:tenant")) {
		atomic_fetch_add_explicit(&a->refused[op][REFUSE_TENANT], 1, memory_order_relaxed);
		log_warning("SECURITY: the core refused %s for the worker: tenant (a guest of "
			    "another tenant than the credential's)",
			    op_names[op]);
	} else if (!strcmp(rep->rule, "forbidden:role")) {
		/* a role the row admits for some guests only (GUEST_DELETE: the migrator's
		 * receiving ones), refused on the guest's record: the route's own rule, which
		 * only the core can check, so a plain 403 "forbidden" (worker/api.c) */
		atomic_fetch_add_explicit(&a->refused[op][REFUSE_ROLE], 1, memory_order_relaxed);
		log_info("The core refused %s: role (%s)", op_names[op], rep->message);
	}
}

static void refuse(struct sevd_authz *a, const struct sevd_request *req, struct sevd_reply *rep,
		   int why)
{
	atomic_fetch_add_explicit(&a->refused[req->op][why], 1, memory_order_relaxed);
	/* A sound worker checks the same roles first: a refusal here means a worker that is
	 * out of step with the core or compromised. No token bytes are logged. */
	log_warning("SECURITY: the core refused %s for the worker: %s (evidence: %s, uid %u)",
		    op_names[req->op], refusal_names[why],
		    req->caller.kind < ELEMENTSOF(kind_names) ? kind_names[req->caller.kind]
							   : "malformed",
		    req->caller.kind == SEVD_EVIDENCE_UNIX && why != REFUSE_NO_CONNECTION &&
			    why != REFUSE_BAD_CONNECTION
			? req->caller.uid
			: 0u);
	rep->r = -EACCES;
	snprintf(rep->message, sizeof(rep->message),
		 "the core refused %s: %s (the caller's credentials do not allow this operation; "
		 "check the token, certificate or Unix user, and the route's role)",
		 op_names[req->op], refusal_names[why]);
	snprintf(rep->rule, sizeof(rep->rule), "core_refused:%s", refusal_names[why]);
}

int sevd_authz_render(struct sevd_authz *a, char *text, size_t size, int n)
{
	int m = snprintf(text + n, size - (size_t)n,
			 "# HELP sevd_core_refusals_total Requests of the worker the core refused "
			 "(caller evidence the op table does not admit), by op and reason.\n"
			 "# TYPE sevd_core_refusals_total counter\n");

	for (unsigned op = 1; op < SEVD_OP_MAX_; op++)
		for (unsigned w = 0; w < REFUSE_MAX_; w++) {
			uint64_t v = atomic_load(&a->refused[op][w]);

			if (m < 0 || (size_t)m >= size - (size_t)n)
				return n;
			n += m;
			m = 0;
			if (!v)
				continue;
			m = snprintf(text + n, size - (size_t)n,
				     "sevd_core_refusals_total{op=\"%s\",reason=\"%s\"} %" PRIu64
				     "\n",
				     op_names[op], refusal_names[w], v);
		}
	if (m > 0 && (size_t)m < size - (size_t)n)
		n += m;
	return n;
}
