/* libFuzzer target: the VMM socket's frame parsers (hv-glue/vmm-msg.c) on untrusted bytes. Byte
 * 0 bit 0 picks the reader: sevd's core reading a VMM's request (hv_vmm_req_parse), or a VMM
 * reading sevd's answer (hv_vmm_ans_parse); the rest is one frame. A frame that parses must
 * have the length its header says, point only inside the input, and build back to the same
 * bytes. Must never crash or read past the buffer. */
#include <stdlib.h>
#include <string.h>

#include "hv-glue/vmm-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_req(const uint8_t *buf, size_t len)
{
	static uint8_t out[HV_VMM_REQ_MAX];
	struct hv_vmm_req q;
	const char *why = NULL;

	if (hv_vmm_req_parse(buf, len, &q, &why) != 0) {
		if (!why)
			abort(); /* every refusal names its field */
		return;
	}
	if (len > HV_VMM_REQ_MAX || (q.page && (q.page < buf || q.page + HV_VMM_PAGE > buf + len)))
		abort();
	if (hv_vmm_req_build(&q, out) != len || memcmp(out, buf, len) != 0)
		abort();
}

static void check_ans(const uint8_t *buf, size_t len)
{
	static uint8_t out[HV_VMM_ANS_MAX];
	struct hv_vmm_ans a;
	const char *why = NULL;

	if (hv_vmm_ans_parse(buf, len, &a, &why) != 0) {
		if (!why)
			abort();
		return;
	}
	if (len > HV_VMM_ANS_MAX || (a.page && (a.page < buf || a.page + HV_VMM_PAGE > buf + len)) ||
	    (a.table && (a.table < buf || a.table + a.certs_len > buf + len)))
		abort();
	if (hv_vmm_ans_build(&a, out) != len || memcmp(out, buf, len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size < 1)
		return 0;
	copy = malloc(size - 1 ? size - 1 : 1); /* exactly the frame: ASan sees any overread */
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	if (data[0] & 1)
		check_ans(copy, size - 1);
	else
		check_req(copy, size - 1);
	free(copy);
	return 0;
}
