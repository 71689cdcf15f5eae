/* sevadm secret inject: LAUNCH_SECRET through sevd — the packet the guest owner built with
 * `sevadm secret build` or sevctl's `secret build` (a 52-byte header: flags ‖ IV ‖ MAC, and
 * the encrypted payload) goes to the guest unchanged. The firmware checks the MAC against the
 * measurement and decrypts with the TEK (SEV API §6.6); this verb only checks sizes. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/secret.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "cli/guest.h"
#include "cli/owner.h"
#include "psp/sev-abi.h"

static const char verb[] = "secret";

static int help(void)
{
	printf("Usage: sevadm secret inject HANDLE --header HEADER_FILE --payload PAYLOAD_FILE\n"
	       "           [--address GPA]\n"
	       "\n"
	       "Inject a LAUNCH_SECRET packet into a measured guest (state LSECRET: after 'sevadm\n"
	       "measure', before 'sevadm finish'). HEADER_FILE and PAYLOAD_FILE are what 'sevadm\n"
	       "secret build' (or sevctl secret build) wrote: raw, base64 or hex.\n"
	       "  --address GPA  the guest-physical address to place it at (16-byte aligned;\n"
	       "                 default: sevd's, 0x30000): where the guest's firmware expects its\n"
	       "                 secret page (OVMF's SEV secret area)\n"
	       "The firmware refuses a packet whose MAC does not match the measurement\n"
	       "(BAD_MEASUREMENT) or whose length is wrong (INVALID_LEN).\n");
	return SEVADM_EXIT_OK;
}

struct iargs {
	uint32_t handle;
	const char *header, *payload;
	uint64_t address;
	bool has_address;
};

static int on_option(int o, const char *arg, void *p)
{
	struct iargs *a = p;

	switch (o) {
	case 'H': a->header = arg; break;
	case 'P': a->payload = arg; break;
	case 'a':
		if (parse_u64(arg, &a->address) < 0 || a->address % 16)
			return sevadm_usage(verb, "--address %s: not a 16-byte aligned "
					    "guest-physical address", arg);
		a->has_address = true;
		break;
	default: return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct iargs *a)
{
	static const struct option options[] = {
		{ "header", required_argument, NULL, 'H' },
		{ "payload", required_argument, NULL, 'P' },
		{ "address", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int r = guest_parse_options(verb, argc, argv, options, help, on_option, a);

	if (r != 0)
		return r;
	if (argc - optind != 1)
		return sevadm_usage(verb, "inject needs exactly one HANDLE");
	if (!a->header || !a->payload)
		return sevadm_usage(verb, "inject needs --header and --payload (as 'sevadm secret "
				    "build' wrote them)");
	return guest_parse_handle(verb, argv[optind], &a->handle);
}

/* The packet as the JSON body {"header": b64, "payload": b64}. The payload is ciphertext. */
static int packet_body(const struct iargs *a, json_object **ret)
{
	_cleanup_free_ uint8_t *h = NULL, *p = NULL;
	_cleanup_free_ char *h64 = NULL, *p64 = NULL;
	size_t hl = 0, pl = 0;
	int r;

	r = owner_read_arg(verb, "--header", a->header, sizeof(struct sev_secret_header), 0, &h,
			   &hl);
	if (r == 0)
		r = owner_read_arg(verb, "--payload", a->payload, 0, ATTEST_SECRET_MAX_LEN, &p, &pl);
	if (r != 0)
		return r;
	h64 = base64_encode(h, hl);
	p64 = base64_encode(p, pl);
	*ret = json_object_new_object();
	if (!h64 || !p64 || !*ret)
		return sevadm_fail(verb, "out of memory");
	json_object_object_add(*ret, "header", json_object_new_string(h64));
	json_object_object_add(*ret, "payload", json_object_new_string(p64));
	if (a->has_address)
		json_object_object_add(*ret, "guest_address", json_object_new_int64((int64_t)a->address));
	return 0;
}

int verb_secret_inject(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	_cleanup_(json_object_putp) json_object *body = NULL, *res = NULL;
	struct iargs a = {};
	int r;

	r = parse_args(argc, argv, &a);
	if (r != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	if ((r = packet_body(&a, &body)) != 0)
		return r;
	r = guest_simple_verb(ctx, verb, a.handle, "POST", "/secret", body, &res);
	if (r != 0)
		return r;
	if (ctx->json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		json_object_object_add(o, "handle", json_object_new_int64(a.handle));
		json_object_object_add(o, "state",
				       json_object_new_string(sevadm_json_str(res, "state", "LSECRET")));
		sevadm_print_json(o);
	} else
		printf("Secret injected into guest %u. Next: sevadm finish %u\n", a.handle, a.handle);
	return SEVADM_EXIT_OK;
}
