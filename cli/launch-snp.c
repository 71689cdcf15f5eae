/* sevadm launch --snp: an SEV-SNP guest through sevd's REST API — POST /v1/guests
 * {"type":"snp"} (SNP_GCTX_CREATE, SNP_LAUNCH_START), the image streamed as normal pages from
 * GPA 0 (/data?type=normal&gpa=0), the VMSA through /vmsa, /finish with the optional ID block,
 * ID auth (from `sevadm snp id-block --out DIR`) and HOST_DATA, /activate; then the launch
 * digest from /measurement. A launch that fails after create is decommissioned. The ID block
 * files are the owner's: only their sizes are checked here, firmware checks the rest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "cli/guest.h"
#include "cli/launch.h"
#include "psp/sev-abi.h"

static const char verb[] = "launch";

/* DIR/name, exactly want bytes, as base64 for the finish body. */
static int read_id_file(const char *dir, const char *name, size_t want, char **ret)
{
	_cleanup_free_ char *path = path_join(dir, name);
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (!path)
		return sevadm_fail(verb, "out of memory");
	r = read_full_file(path, want + 1, &buf, &len);
	if (r < 0)
		return sevadm_fail(verb, "--id-block %s: cannot read %s: %s — make them with "
				   "'sevadm snp id-block --out %s'", dir, path,
				   r == -EFBIG ? "too large" : strerror(-r), dir);
	if (len != want)
		return sevadm_fail(verb, "--id-block %s: %s has %zu bytes, not the %zu of an SNP %s "
				   "— make it with 'sevadm snp id-block --out %s'", dir, path, len,
				   want, strcmp(name, "id-block.bin") ? "ID auth page" : "ID block",
				   dir);
	*ret = base64_encode(buf, len);
	return *ret ? 0 : sevadm_fail(verb, "out of memory");
}

static int finish_body(const struct launch_args *a, json_object **ret)
{
	_cleanup_(json_object_putp) json_object *b = json_object_new_object();
	_cleanup_free_ char *blk = NULL, *auth = NULL;
	int r;

	if (!b)
		return sevadm_fail(verb, "out of memory");
	if (a->id_block_dir) {
		if ((r = read_id_file(a->id_block_dir, "id-block.bin",
				      sizeof(struct sev_snp_id_block), &blk)) != 0 ||
		    (r = read_id_file(a->id_block_dir, "id-auth.bin",
				      sizeof(struct sev_snp_id_auth), &auth)) != 0)
			return r;
		json_object_object_add(b, "id_block", json_object_new_string(blk));
		json_object_object_add(b, "id_auth", json_object_new_string(auth));
	}
	if (a->host_data)
		json_object_object_add(b, "host_data", json_object_new_string(a->host_data));
	*ret = TAKE_PTR(b);
	return 0;
}

static json_object *create_body(const struct launch_args *a)
{
	json_object *b = json_object_new_object();

	if (!b)
		return NULL;
	json_object_object_add(b, "type", json_object_new_string("snp"));
	json_object_object_add(b, "policy", json_object_new_uint64(a->snp_policy));
	json_object_object_add(b, "name", json_object_new_string(a->name ? a->name : "vm"));
	if (a->tenant)
		json_object_object_add(b, "tenant", json_object_new_string(a->tenant));
	if (a->mem)
		json_object_object_add(b, "memory_size", json_object_new_int64((int64_t)a->memory_size));
	return b;
}

/* --secrets-gpa: an empty SECRETS page (firmware fills it: SNP_LAUNCH_UPDATE PAGE_TYPE_SECRETS). */
static int secrets_page(struct http_client *c, uint32_t h, uint64_t gpa)
{
	_cleanup_(json_object_putp) json_object *res = NULL;
	_cleanup_free_ char *err = NULL;
	char path[96];
	int r;

	snprintf(path, sizeof(path), "/v1/guests/%u/data?type=secrets&gpa=0x%llx", h,
		 (unsigned long long)gpa);
	r = sevadm_call_bytes_quiet(c, "POST", path, NULL, 0, &res, &err);
	if (r < 0)
		return sevadm_fail(verb, "guest %u: the secrets page at GPA 0x%llx was refused: %s",
				   h, (unsigned long long)gpa, err ? err : strerror(-r));
	return 0;
}

/* From create to the launch digest; on failure after create, the guest is undone. */
static int launch_steps(const struct sevadm_ctx *ctx, struct http_client *c,
			const struct launch_args *a, json_object *fin, uint32_t *ret_h,
			json_object **ret_g, json_object **ret_m, uint64_t *ret_bytes)
{
	_cleanup_(json_object_putp) json_object *body = create_body(a), *g = NULL, *up = NULL,
						*vm = NULL, *f = NULL, *act = NULL, *m = NULL;
	uint64_t vbytes = 0;
	char path[64];
	long long h;
	int r;

	if (!body)
		return sevadm_fail(verb, "out of memory");
	if ((r = guest_call(c, verb, 0, "POST", "/v1/guests", body, &g)) != 0)
		return r;
	h = sevadm_json_int(g, "handle", 0);
	if (h <= 0 || h > UINT32_MAX)
		return sevadm_fail(verb, "sevd accepted the SNP launch but sent no valid handle");
	if (ctx->cancel && *ctx->cancel)
		r = sevadm_fail(verb, "guest %lld: stopped (interrupted) before its image was sent",
				h);
	if (r == 0)
		r = guest_upload(ctx, c, verb, (uint32_t)h, "/data?type=normal&gpa=0", a->image, &up,
				 ret_bytes);
	if (r == 0 && a->secrets_gpa_s)
		r = secrets_page(c, (uint32_t)h, a->secrets_gpa);
	if (r == 0 && a->vmsa)
		r = guest_upload(ctx, c, verb, (uint32_t)h, "/vmsa", a->vmsa, &vm, &vbytes);
	if (r == 0)
		r = guest_call(c, verb, (uint32_t)h, "POST",
			       guest_path(path, sizeof(path), (uint32_t)h, "/finish"), fin, &f);
	if (r == 0)
		r = guest_call(c, verb, (uint32_t)h, "GET",
			       guest_path(path, sizeof(path), (uint32_t)h, "/measurement"), NULL, &m);
	if (r == 0 && strlen(sevadm_json_str(m, "launch_digest", "")) != 2 * 48)
		r = sevadm_fail(verb, "guest %lld: sevd sent no launch digest (96 hex digits) after "
				"finish — check 'sevadm show' and sevd's log", h);
	if (r == 0) {
		_cleanup_(json_object_putp) json_object *empty = json_object_new_object();
		r = guest_call(c, verb, (uint32_t)h, "POST",
			       guest_path(path, sizeof(path), (uint32_t)h, "/activate"), empty, &act);
	}
	if (r != 0) {
		launch_cleanup_guest(c, (uint32_t)h);
		return r;
	}
	*ret_h = (uint32_t)h;
	*ret_g = act ? TAKE_PTR(act) : TAKE_PTR(g);
	*ret_m = TAKE_PTR(m);
	return 0;
}

static void print_result(const struct sevadm_ctx *ctx, const struct launch_args *a, uint32_t h,
			 json_object *g, json_object *m, uint64_t bytes)
{
	const char *digest = sevadm_json_str(m, "launch_digest", "");

	if (ctx->json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		json_object_object_add(o, "handle", json_object_new_int64(h));
		json_object_object_add(o, "type", json_object_new_string("snp"));
		json_object_object_add(o, "name",
				       json_object_new_string(sevadm_json_str(g, "name",
									      a->name ? a->name : "vm")));
		json_object_object_add(o, "policy", json_object_new_uint64(a->snp_policy));
		json_object_object_add(o, "state",
				       json_object_new_string(sevadm_json_str(g, "state", "RUNNING")));
		json_object_object_add(o, "bytes", json_object_new_int64((int64_t)bytes));
		json_object_object_add(o, "launch_digest", json_object_new_string(digest));
		json_object_object_add(o, "id_block", json_object_new_boolean(!!a->id_block_dir));
		sevadm_print_json(o);
		return;
	}
	printf("%u\n%s\n", h, digest);
	fprintf(stderr, "SNP guest '%s' launched: handle %u, policy 0x%llx, %llu bytes of %s "
			"measured%s, finished and activated. Launch digest (SHA-384): %s\n",
		sevadm_json_str(g, "name", a->name ? a->name : "vm"), h,
		(unsigned long long)a->snp_policy, (unsigned long long)bytes, a->image,
		a->id_block_dir ? " with the ID block" : "", digest);
}

int launch_snp(const struct sevadm_ctx *ctx, const struct launch_args *a)
{
	_cleanup_(json_object_putp) json_object *fin = NULL, *g = NULL, *m = NULL;
	struct http_client *c = NULL;
	uint64_t bytes = 0;
	uint32_t h = 0;
	int r;

	if ((r = finish_body(a, &fin)) != 0) /* the ID block files before anything starts */
		return r;
	if ((r = sevadm_connect(ctx, verb, &c)) != 0)
		return r;
	r = launch_steps(ctx, c, a, fin, &h, &g, &m, &bytes);
	if (r == 0)
		print_result(ctx, a, h, g, m, bytes);
	http_client_free(c);
	return r;
}
