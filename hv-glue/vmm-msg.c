/* The VMM socket's frame codec (vmm-msg.h). Everything read is untrusted: sevd's core reads
 * requests from VMMs, a VMM reads answers from sevd; every length is checked against the
 * bytes there before a byte past the header is used (tests/fuzz/fuzz-vmm-msg.c). */
#include <errno.h>
#include <string.h>

#include "common/util.h"
#include "hv-glue/vmm-msg.h"

const char *hv_vmm_type_name(uint16_t type)
{
	switch (type) {
	case HV_VMM_GUEST_REQUEST:
		return "guest-request";
	case HV_VMM_EXT_GUEST_REQUEST:
		return "ext-guest-request";
	case HV_VMM_GUEST_INFO:
		return "guest-info";
	default:
		return NULL;
	}
}

static int bad(const char **why, const char *s)
{
	if (why)
		*why = s;
	return -EBADMSG;
}

static int frame_length(const uint8_t *buf, size_t len, uint32_t magic, uint32_t min, uint32_t max,
			const char **why)
{
	uint32_t n;

	if (len < 12)
		return bad(why, "shorter than the 12 bytes of magic, version, type and length");
	if (get_le32(buf) != magic)
		return bad(why, "magic: not an HVSQ request / HVSA answer frame");
	if (get_le16(buf + 4) != HV_VMM_VERSION)
		return bad(why, "version: only version 1 is known");
	n = get_le32(buf + 8);
	if (n < min || n > max)
		return bad(why, "length: outside the sizes a frame of this kind can have");
	return (int)n;
}

int hv_vmm_req_length(const uint8_t *buf, size_t len, const char **why)
{
	return frame_length(buf, len, HV_VMM_REQ_MAGIC, HV_VMM_REQ_HDR, HV_VMM_REQ_MAX, why);
}

int hv_vmm_ans_length(const uint8_t *buf, size_t len, const char **why)
{
	return frame_length(buf, len, HV_VMM_ANS_MAGIC, HV_VMM_ANS_HDR, HV_VMM_ANS_MAX, why);
}

static bool has_page(uint16_t type)
{
	return type == HV_VMM_GUEST_REQUEST || type == HV_VMM_EXT_GUEST_REQUEST;
}

size_t hv_vmm_req_build(const struct hv_vmm_req *q, uint8_t *buf)
{
	size_t n = HV_VMM_REQ_HDR + (has_page(q->type) ? HV_VMM_PAGE : 0);

	memset(buf, 0, HV_VMM_REQ_HDR);
	put_le32(buf, HV_VMM_REQ_MAGIC);
	put_le16(buf + 4, HV_VMM_VERSION);
	put_le16(buf + 6, q->type);
	put_le32(buf + 8, (uint32_t)n);
	put_le32(buf + 12, q->handle);
	put_le32(buf + 16, q->certs_len);
	if (has_page(q->type)) {
		if (q->page)
			memcpy(buf + HV_VMM_REQ_HDR, q->page, HV_VMM_PAGE);
		else
			memset(buf + HV_VMM_REQ_HDR, 0, HV_VMM_PAGE);
	}
	return n;
}

int hv_vmm_req_parse(const uint8_t *buf, size_t len, struct hv_vmm_req *ret, const char **why)
{
	int n = hv_vmm_req_length(buf, len, why);
	struct hv_vmm_req q = {0};

	if (n < 0)
		return n;
	if ((size_t)n != len)
		return bad(why, "length: not the number of bytes of the frame");
	q.type = get_le16(buf + 6);
	q.handle = get_le32(buf + 12);
	q.certs_len = get_le32(buf + 16);
	if (!hv_vmm_type_name(q.type))
		return bad(why, "type: not 1 (guest-request), 2 (ext-guest-request) or 3 (guest-info)");
	if (len != HV_VMM_REQ_HDR + (has_page(q.type) ? HV_VMM_PAGE : 0))
		return bad(why, "length: a guest request carries exactly one 4096-byte page, "
				"guest-info none");
	if (get_le32(buf + 20) != 0)
		return bad(why, "reserved: bytes 20..23 must be zero");
	if (q.type == HV_VMM_EXT_GUEST_REQUEST) {
		if (q.certs_len % HV_VMM_PAGE || q.certs_len > HV_VMM_CERTS_BUF_MAX)
			return bad(why, "certs_len: the certificate buffer is whole 4096-byte pages "
					"(GHCB: RBX pages), at most 16 MiB");
	} else if (q.certs_len) {
		return bad(why, "certs_len: only an extended guest request has a certificate buffer");
	}
	if (has_page(q.type))
		q.page = buf + HV_VMM_REQ_HDR;
	*ret = q;
	return 0;
}

size_t hv_vmm_ans_build(const struct hv_vmm_ans *a, uint8_t *buf)
{
	size_t n = HV_VMM_ANS_HDR;
	uint32_t flags = 0;

	memset(buf, 0, HV_VMM_ANS_HDR);
	if (a->page) {
		memcpy(buf + n, a->page, HV_VMM_PAGE);
		n += HV_VMM_PAGE;
		flags |= HV_VMM_F_PAGE;
	}
	if (a->table && a->certs_len <= HV_VMM_TABLE_MAX) {
		memcpy(buf + n, a->table, a->certs_len);
		n += a->certs_len;
		flags |= HV_VMM_F_TABLE;
	}
	put_le32(buf, HV_VMM_ANS_MAGIC);
	put_le16(buf + 4, HV_VMM_VERSION);
	put_le16(buf + 6, a->type);
	put_le32(buf + 8, (uint32_t)n);
	put_le32(buf + 12, a->handle);
	put_le32(buf + 16, (uint32_t)a->error);
	put_le32(buf + 20, a->fw_status);
	put_le32(buf + 24, a->vmm_error);
	put_le32(buf + 28, a->certs_len);
	put_le32(buf + 32, flags);
	put_le32(buf + 36, a->asid);
	put_le32(buf + 40, a->state);
	put_le64(buf + 48, a->ctx_paddr);
	memcpy(buf + 56, a->reason, strnlen(a->reason, sizeof(a->reason) - 1));
	memcpy(buf + 256, a->emu_socket, strnlen(a->emu_socket, sizeof(a->emu_socket) - 1));
	return n;
}

static int text_field(const uint8_t *p, size_t n, char *out)
{
	size_t k = strnlen((const char *)p, n);

	if (k == n)
		return -EBADMSG; /* no NUL */
	for (size_t i = k; i < n; i++)
		if (p[i])
			return -EBADMSG;
	memcpy(out, p, k);
	out[k] = '\0';
	return 0;
}

int hv_vmm_ans_parse(const uint8_t *buf, size_t len, struct hv_vmm_ans *ret, const char **why)
{
	int n = hv_vmm_ans_length(buf, len, why);
	struct hv_vmm_ans a = {0};
	uint32_t flags;
	size_t want = HV_VMM_ANS_HDR;

	if (n < 0)
		return n;
	if ((size_t)n != len)
		return bad(why, "length: not the number of bytes of the frame");
	a.type = get_le16(buf + 6);
	if (!hv_vmm_type_name(a.type))
		return bad(why, "type: not a request type");
	a.handle = get_le32(buf + 12);
	a.error = (int32_t)get_le32(buf + 16);
	a.fw_status = get_le32(buf + 20);
	a.vmm_error = get_le32(buf + 24);
	a.certs_len = get_le32(buf + 28);
	flags = get_le32(buf + 32);
	a.asid = get_le32(buf + 36);
	a.state = get_le32(buf + 40);
	a.ctx_paddr = get_le64(buf + 48);
	if (a.error > 0 || a.vmm_error > HV_VMM_ERR_BUSY || (flags & ~(HV_VMM_F_PAGE | HV_VMM_F_TABLE)))
		return bad(why, "error, vmm_error or flags: a value no answer has");
	if (get_le32(buf + 44) != 0)
		return bad(why, "reserved: bytes 44..47 must be zero");
	if (text_field(buf + 56, 200, a.reason) < 0 || text_field(buf + 256, 128, a.emu_socket) < 0)
		return bad(why, "reason or emu_socket: not a NUL-terminated, zero-padded string");
	if (flags & HV_VMM_F_PAGE)
		want += HV_VMM_PAGE;
	if (flags & HV_VMM_F_TABLE) {
		if (a.certs_len == 0 || a.certs_len > HV_VMM_TABLE_MAX)
			return bad(why, "certs_len: a table of 1..16384 bytes");
		want += a.certs_len;
	}
	if (len != want)
		return bad(why, "length: not the header plus the page and table the flags announce");
	if (flags & HV_VMM_F_PAGE)
		a.page = buf + HV_VMM_ANS_HDR;
	if (flags & HV_VMM_F_TABLE)
		a.table = buf + HV_VMM_ANS_HDR + ((flags & HV_VMM_F_PAGE) ? HV_VMM_PAGE : 0);
	*ret = a;
	return 0;
}

int hv_vmm_read_frame(int fd, bool answer, uint8_t *buf, size_t cap, const char **why)
{
	ssize_t k;
	int n;

	if (cap < 12)
		return -ENOBUFS;
	k = loop_read(fd, buf, 12);
	if (k < 0)
		return (int)k;
	if (k == 0)
		return 0;
	if (k < 12)
		return bad(why, "the stream ended inside a frame's header");
	n = answer ? hv_vmm_ans_length(buf, 12, why) : hv_vmm_req_length(buf, 12, why);
	if (n < 0)
		return n;
	if ((size_t)n > cap)
		return -ENOBUFS;
	k = loop_read(fd, buf + 12, (size_t)n - 12);
	if (k < 0)
		return (int)k;
	if ((size_t)k != (size_t)n - 12)
		return bad(why, "the stream ended inside a frame");
	return n;
}
