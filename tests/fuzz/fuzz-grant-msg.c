/* libFuzzer target: the grant stream's frame parser (hv-glue/binding.c hv_grant_msg_parse),
 * which a VMM runs on what arrives from sevd's control socket. Version 1 (32 bytes) and
 * version 2 (48 bytes, the guest's stable id) frames: a frame that parses must be 32 or 48
 * bytes as its header says, carry an id only in version 2, and build back to the same bytes;
 * every refusal names its field. Must never crash or read past the buffer. */
#include <stdlib.h>
#include <string.h>

#include "hv-glue/binding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[HV_GRANT_MSG_MAX];
	static const uint8_t zero_id[HV_GUEST_ID_SIZE];
	struct hv_grant_msg m;
	const char *why = NULL;
	uint8_t *copy = malloc(size ? size : 1); /* exact-size buffer: ASan sees any overread */

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (hv_grant_msg_parse(copy, size, &m, &why) != 0) {
		if (!why)
			abort(); /* every refusal names its field */
		free(copy);
		return 0;
	}
	if (size == HV_GRANT_MSG_SIZE) {
		if (memcmp(m.id, zero_id, sizeof(zero_id)) != 0)
			abort(); /* version 1 has no id */
		hv_grant_msg_build(&m, out);
	} else if (size == HV_GRANT_MSG_V2_SIZE) {
		if (!memcmp(m.id, zero_id, sizeof(zero_id)))
			abort(); /* version 2 never carries id 0 */
		hv_grant_msg_build_v2(&m, out);
	} else {
		abort();
	}
	if (memcmp(out, copy, size) != 0)
		abort(); /* no bit of an accepted frame is ignored */
	free(copy);
	return 0;
}
