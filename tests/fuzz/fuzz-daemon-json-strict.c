/* libFuzzer target: sevd's strict JSON front check of request bodies (daemon/worker/json-strict.c),
 * which reads untrusted bytes before json-c does. Checks, beyond "no crash": the
 * answer is 0 or -EINVAL, a refusal names its reason (a NUL-terminated "byte N: ..."), the
 * check reads nothing past the input (the copy is exactly its size, so ASan sees an overread),
 * and every object or array it accepts json-c parses whole, as sevd_api_parse_body asks it to
 * (the front check is never stricter in the other direction: what it passes, json-c reads).
 * Seeds: tests/fuzz/corpus/daemon-json-strict (bodies sevd takes, and each leniency the check
 * refuses: trailing commas, single quotes, 01, -0, duplicate keys, 2^63, bad UTF-8, lone
 * surrogates, comments, NUL); tests/daemon replays them with mutations in every build
 * (daemon-fuzz-json-strict). */
#include <errno.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/worker/json-strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* For the replay test (tests/daemon/test-fuzz-replay.c): inputs the check accepted. */
uint64_t fuzz_replay_accepted(void);

static uint64_t accepted;

uint64_t fuzz_replay_accepted(void)
{
	return accepted;
}

static void check_json_c(const char *buf, size_t size)
{
	json_tokener *tok = json_tokener_new_ex(JSON_STRICT_DEPTH + 1);
	json_object *o;
	size_t i = 0;

	while (i < size && strchr(" \t\r\n", buf[i]))
		i++;
	if (!tok || i == size || (buf[i] != '{' && buf[i] != '['))
		goto out; /* json-c cannot tell where a bare scalar without a terminator ends */
	o = json_tokener_parse_ex(tok, buf, (int)size);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != size)
		abort(); /* accepted here, refused by json-c */
	json_object_put(o);
out:
	json_tokener_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[160], *nul;
	char *buf;
	int r;

	if (size > 64 * 1024)
		return 0;
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(why, 'x', sizeof(why));
	r = json_strict_check(buf, size, why, sizeof(why));
	nul = memchr(why, '\0', sizeof(why));
	if (r == 0) {
		if (!nul || why[0])
			abort();
		check_json_c(buf, size);
		accepted++;
	} else if (r != -EINVAL || !nul || strncmp(why, "byte ", 5)) {
		abort();
	}
	free(buf);
	return 0;
}
