/* ASID binding: the grant table's rules, the TLB_CONTROL decision KVM's pre_sev_run makes
 * (same VMCB on the same CPU: nothing; another VMCB, another CPU, or a re-granted ASID: flush
 * this ASID), and the grant stream: frames built, parsed, rejected when malformed, read from
 * a real socket in pieces, and applied. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "hv-glue/binding.h"
#include "hv-glue/gate.h"
#include "hv-glue/vmcb.h"
#include "tests/testutil.h"

static struct vmcb vmcb_a, vmcb_b;

static int pre_run(struct hv_bindings *b, uint32_t handle, unsigned cpu, int *last, struct vmcb *v)
{
	v->control.tlb_control = 0xee; /* so that "0" is really written, not left over */
	v->control.vmcb_clean = ~0u;
	return hv_bindings_pre_run(b, handle, cpu, last, v);
}

static void check_grant_rules(void)
{
	struct hv_bindings *b;

	TU_CHECK_EQ(hv_bindings_new(0, 1, &b), -EINVAL);
	TU_CHECK_EQ(hv_bindings_new(15, 2, &b), 0);
	TU_CHECK_EQ(hv_bindings_grant(b, 1, 0, false, 1), -EINVAL);  /* ASID 0 is the host's */
	TU_CHECK_EQ(hv_bindings_grant(b, 1, 16, false, 1), -EINVAL); /* above CPUID ECX */
	TU_CHECK_EQ(hv_bindings_grant(b, 1, 3, false, 0), -EINVAL);  /* generation 0 */
	TU_CHECK_EQ(hv_bindings_grant(b, 1, 3, false, 5), 0);
	TU_CHECK_EQ(hv_bindings_grant(b, 2, 3, false, 6), -EBUSY); /* live: revoke first */
	TU_CHECK_EQ(hv_bindings_grant(b, 1, 4, false, 6), -EBUSY); /* one ASID per handle */
	TU_CHECK(hv_bindings_find_handle(b, 1)->asid == 3, "handle 1 holds ASID 3");
	TU_CHECK_EQ(hv_bindings_revoke(b, 2, 3, 5), -ENOENT); /* not handle 2's */
	TU_CHECK_EQ(hv_bindings_revoke(b, 1, 3, 4), -ESTALE); /* other generation */
	TU_CHECK_EQ(hv_bindings_revoke(b, 1, 3, 5), 0);
	TU_CHECK_EQ(hv_bindings_revoke(b, 1, 3, 5), -ENOENT); /* already revoked */
	TU_CHECK(hv_bindings_find_handle(b, 1) == NULL, "no live grant after revoke");
	TU_CHECK(hv_bindings_lookup(b, 3) && !hv_bindings_lookup(b, 3)->live, "revocation kept");
	TU_CHECK_EQ(hv_bindings_grant(b, 2, 3, false, 5), -ESTALE); /* a replayed old grant */
	TU_CHECK_EQ(hv_bindings_grant(b, 2, 3, false, 6), 0);	    /* the reuse, newer */
	TU_CHECK(hv_bindings_lookup(b, 9) == NULL, "never granted");
	hv_bindings_free(b);
	hv_bindings_free(NULL);
}

static void check_tlb_decisions(void)
{
	struct hv_bindings *b;
	int last_a = -1, last_b = -1;

	TU_CHECK_EQ(hv_bindings_new(15, 4, &b), 0);
	TU_CHECK_EQ(pre_run(b, 1, 0, &last_a, &vmcb_a), -ENOENT); /* no grant: no ASID given */
	TU_CHECK_EQ(vmcb_a.control.asid, 0);
	TU_CHECK_EQ(hv_bindings_grant(b, 1, 7, false, 1), 0);

	TU_CHECK_EQ(pre_run(b, 1, 0, &last_a, &vmcb_a), 1); /* first run on CPU 0: flush */
	TU_CHECK_EQ(vmcb_a.control.asid, 7);
	TU_CHECK_EQ(vmcb_a.control.tlb_control, VMCB_TLB_FLUSH_ASID);
	TU_CHECK_EQ(vmcb_a.control.vmcb_clean & VMCB_CLEAN_ASID, 0);

	TU_CHECK_EQ(pre_run(b, 1, 0, &last_a, &vmcb_a), 0); /* same VMCB, same CPU: none */
	TU_CHECK_EQ(vmcb_a.control.tlb_control, VMCB_TLB_NOTHING);
	TU_CHECK_EQ(vmcb_a.control.vmcb_clean, ~0u);

	TU_CHECK_EQ(pre_run(b, 1, 0, &last_b, &vmcb_b), 1); /* other VMCB, same ASID: flush */
	TU_CHECK_EQ(vmcb_b.control.tlb_control, VMCB_TLB_FLUSH_ASID);
	TU_CHECK_EQ(pre_run(b, 1, 0, &last_a, &vmcb_a), 1); /* and back: flush again */

	TU_CHECK_EQ(pre_run(b, 1, 2, &last_a, &vmcb_a), 1); /* moved to CPU 2: flush */
	TU_CHECK_EQ(last_a, 2);
	TU_CHECK_EQ(pre_run(b, 1, 2, &last_a, &vmcb_a), 0);
	TU_CHECK_EQ(pre_run(b, 1, 0, &last_a, &vmcb_a), 1); /* moved back: CPU 0 saw A last, but
							       the vCPU moved, so flush (KVM) */

	/* Revoked: no ASID is handed out any more, the VMCB keeps its stale ASID, and the gate
	 * refuses that stale ASID. */
	TU_CHECK_EQ(hv_bindings_revoke(b, 1, 7, 1), 0);
	TU_CHECK_EQ(pre_run(b, 1, 0, &last_a, &vmcb_a), -ENOENT);
	{
		struct hv_platform p;
		hv_platform_init(&p, 15, 1);
		vmcb_a.control.nested_ctl = VMCB_NP_ENABLE | VMCB_SEV_ENABLE;
		vmcb_a.control.intercepts[VMCB_INTERCEPT_MISC2] = VMCB_MISC2_VMRUN;
		vmcb_a.save.efer = X86_EFER_SVME;
		TU_CHECK_EQ(hv_gate_check(&vmcb_a, &p, b, 1), HV_GATE_GRANT_REVOKED);
	}

	/* The same ASID granted again (new generation) to a guest whose VMCB happens to sit at
	 * the same address on the same CPU: still a flush, the old guest's TLB entries must go. */
	TU_CHECK_EQ(hv_bindings_grant(b, 1, 7, false, 2), 0);
	TU_CHECK_EQ(pre_run(b, 1, 0, &last_a, &vmcb_a), 1);
	TU_CHECK_EQ(vmcb_a.control.tlb_control, VMCB_TLB_FLUSH_ASID);
	TU_CHECK_EQ(pre_run(b, 1, 0, &last_a, &vmcb_a), 0);

	/* A refused entry does not count as having run: A ran on CPU 0; B is bound there but
	 * VMRUN is refused; when B really enters later, A's entries must still be flushed. */
	TU_CHECK_EQ(pre_run(b, 1, 0, &last_b, &vmcb_b), 1);
	hv_bindings_entry_refused(&last_b);
	TU_CHECK_EQ(last_b, -1);
	TU_CHECK_EQ(pre_run(b, 1, 0, &last_b, &vmcb_b), 1);
	TU_CHECK_EQ(pre_run(b, 1, 0, &last_b, &vmcb_b), 0);

	TU_CHECK_EQ(pre_run(b, 1, 4, &last_a, &vmcb_a), -EINVAL); /* CPU beyond the table */
	hv_bindings_free(b);
}

static void msg(uint8_t out[HV_GRANT_MSG_SIZE], enum hv_grant_type t, uint32_t h, uint32_t a,
		bool es, uint64_t gen)
{
	hv_grant_msg_build(&(struct hv_grant_msg){t, h, a, es, gen, {0}}, out);
}

static void expect_bad(const uint8_t *buf, size_t len, const char *what)
{
	struct hv_grant_msg m;
	const char *why = NULL;
	TU_CHECK(hv_grant_msg_parse(buf, len, &m, &why) == -EBADMSG, "%s accepted", what);
	TU_CHECK(why != NULL, "%s: no reason given", what);
}

static void check_parser(void)
{
	uint8_t good[HV_GRANT_MSG_SIZE], bad[HV_GRANT_MSG_SIZE + 1];
	struct hv_grant_msg m;
	const char *why = "x";

	msg(good, HV_GRANT, 0x11223344, 42, true, 0x0102030405060708ull);
	TU_CHECK_EQ(get_le32(good), 0x53475648);
	TU_CHECK(memcmp(good, "HVGS", 4) == 0, "magic reads HVGS");
	TU_CHECK_EQ(hv_grant_msg_parse(good, sizeof(good), &m, &why), 0);
	TU_CHECK(why == NULL, "no reason on success");
	TU_CHECK(m.type == HV_GRANT && m.handle == 0x11223344 && m.asid == 42 && m.es &&
		     m.generation == 0x0102030405060708ull,
		 "fields round-trip");

	expect_bad(good, 31, "short frame");
	memcpy(bad, good, 32), bad[32] = 0;
	expect_bad(bad, 33, "long frame");
	expect_bad(good, 0, "empty frame");
	static const struct {
		size_t off;
		uint8_t val;
		const char *what;
	} flips[] = {
	    {0, 'X', "magic"},	   {4, 2, "version"},	      {6, 3, "type 3"},
	    {6, 0, "type 0"},	   {8, 33, "length field"},   {16, 0, "ASID 0 (low byte)"},
	    {20, 2, "flag bit 1"}, {23, 0x80, "flag bit 31"}, {9, 1, "length field high byte"},
	};
	for (size_t i = 0; i < ELEMENTSOF(flips); i++) {
		memcpy(bad, good, sizeof(good));
		bad[flips[i].off] = flips[i].val;
		expect_bad(bad, sizeof(good), flips[i].what);
	}
	msg(bad, HV_REVOKE, 1, 1, false, 0);
	expect_bad(bad, HV_GRANT_MSG_SIZE, "generation 0");
}

/* No bit of a frame is ignored: whatever the parser accepts, building it again gives back
 * exactly the same 32 bytes. Random 1-3 byte corruptions of a valid frame, fixed seed. */
static void check_parser_exact(void)
{
	uint8_t good[HV_GRANT_MSG_SIZE], f[HV_GRANT_MSG_SIZE], again[HV_GRANT_MSG_SIZE];
	struct hv_grant_msg m;
	unsigned seed = 12345, accepted = 0, rejected = 0;

	msg(good, HV_REVOKE, 77, 300, false, 9);
	for (int i = 0; i < 200000; i++) {
		memcpy(f, good, sizeof(f));
		for (int n = 0; n < 1 + i % 3; n++)
			f[rand_r(&seed) % sizeof(f)] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
		if (hv_grant_msg_parse(f, sizeof(f), &m, NULL) < 0) {
			rejected++;
			continue;
		}
		accepted++;
		hv_grant_msg_build(&m, again);
		if (memcmp(f, again, sizeof(f)) != 0)
			TU_CHECK(false, "accepted frame %d does not round-trip", i);
	}
	TU_CHECK(accepted > 1000 && rejected > 1000, "mix: %u accepted, %u rejected", accepted,
		 rejected);
}

/* Frames through a real socket: split writes, several frames, a contradiction, a truncation,
 * EOF. */
static void check_stream(void)
{
	uint8_t f[3][HV_GRANT_MSG_SIZE];
	struct hv_bindings *b;
	struct hv_grant_msg m;
	const char *why = NULL;
	int sv[2];

	TU_CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	TU_CHECK_EQ(hv_bindings_new(15, 1, &b), 0);
	msg(f[0], HV_GRANT, 5, 9, false, 1);
	msg(f[1], HV_REVOKE, 5, 9, false, 1);
	msg(f[2], HV_GRANT, 6, 9, false, 2);
	TU_CHECK_EQ(write(sv[0], f[0], 10), 10); /* split frame */
	TU_CHECK_EQ(write(sv[0], f[0] + 10, 22), 22);
	TU_CHECK_EQ(write(sv[0], f[1], 32), 32);
	TU_CHECK_EQ(write(sv[0], f[2], 32), 32);
	for (int i = 0; i < 3; i++) {
		TU_CHECK_EQ(hv_grant_stream_read(sv[1], &m, &why), 1);
		TU_CHECK_EQ(hv_bindings_apply(b, &m), 0);
	}
	TU_CHECK(hv_bindings_find_handle(b, 6) && hv_bindings_find_handle(b, 6)->asid == 9,
		 "reuse");
	TU_CHECK(hv_bindings_find_handle(b, 5) == NULL, "handle 5 revoked");

	TU_CHECK_EQ(write(sv[0], f[0], 32), 32); /* grant over a live ASID: contradiction */
	TU_CHECK_EQ(hv_grant_stream_read(sv[1], &m, &why), 1);
	TU_CHECK_EQ(hv_bindings_apply(b, &m), -EBUSY);

	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	TU_CHECK_EQ(hv_grant_stream_read(sv[1], &m, &why), -EAGAIN); /* nothing pending */
	TU_CHECK_EQ(write(sv[0], f[1], 7), 7);
	close(sv[0]); /* EOF inside a frame */
	TU_CHECK_EQ(hv_grant_stream_read(sv[1], &m, &why), -EBADMSG);
	TU_CHECK(why && strstr(why, "inside a frame"), "truncation named: %s", why ? why : "-");
	TU_CHECK_EQ(hv_grant_stream_read(sv[1], &m, &why), 0); /* then a clean EOF */
	close(sv[1]);
	hv_bindings_free(b);
}

/* Version 2 frames (what sevd sends): the 32-byte header with version 2 and length 48, then
 * the guest's stable id, which must be non-zero and start with the handle (big-endian). */
static void msg_v2(uint8_t out[HV_GRANT_MSG_V2_SIZE], enum hv_grant_type t, uint32_t h,
		   uint32_t a, uint64_t gen, uint8_t tag)
{
	struct hv_grant_msg m = {t, h, a, false, gen, {0}};

	m.id[0] = (uint8_t)(h >> 24), m.id[1] = (uint8_t)(h >> 16);
	m.id[2] = (uint8_t)(h >> 8), m.id[3] = (uint8_t)h;
	memset(m.id + 4, tag, sizeof(m.id) - 4);
	hv_grant_msg_build_v2(&m, out);
}

static void check_parser_v2(void)
{
	uint8_t good[HV_GRANT_MSG_V2_SIZE], bad[HV_GRANT_MSG_V2_SIZE], again[HV_GRANT_MSG_V2_SIZE];
	struct hv_grant_msg m;
	const char *why = "x";

	msg_v2(good, HV_GRANT, 0x11223344, 42, 7, 0xab);
	TU_CHECK_EQ(get_le16(good + 4), 2);
	TU_CHECK_EQ(get_le32(good + 8), 48);
	TU_CHECK_EQ(hv_grant_msg_parse(good, sizeof(good), &m, &why), 0);
	TU_CHECK(why == NULL && m.handle == 0x11223344 && m.asid == 42 && m.generation == 7 &&
		     m.id[0] == 0x11 && m.id[3] == 0x44 && m.id[4] == 0xab && m.id[15] == 0xab,
		 "a version 2 frame's fields and id round-trip");
	hv_grant_msg_build_v2(&m, again);
	TU_CHECK(!memcmp(good, again, sizeof(good)), "version 2 builds back byte for byte");
	expect_bad(good, HV_GRANT_MSG_SIZE, "a version 2 frame cut to 32 bytes");
	memcpy(bad, good, sizeof(bad));
	put_le32(bad + 8, 32);
	expect_bad(bad, sizeof(bad), "version 2 with length 32");
	expect_bad(bad, HV_GRANT_MSG_SIZE, "version 2 with length 32, 32 bytes");
	memcpy(bad, good, sizeof(bad));
	memset(bad + 32, 0, 16);
	expect_bad(bad, sizeof(bad), "guest id 0");
	memcpy(bad, good, sizeof(bad));
	bad[35] ^= 1;
	expect_bad(bad, sizeof(bad), "an id that does not start with the handle");
	memcpy(bad, good, sizeof(bad));
	put_le16(bad + 4, 1);
	expect_bad(bad, sizeof(bad), "version 1 with 48 bytes");
	/* A version 1 frame still parses, with no id. */
	msg(bad, HV_GRANT, 9, 3, false, 1);
	TU_CHECK_EQ(hv_grant_msg_parse(bad, HV_GRANT_MSG_SIZE, &m, &why), 0);
	TU_CHECK(m.id[0] == 0 && m.id[15] == 0, "version 1: no id");
}

/* A stream of version 1 and 2 frames mixed, read frame by frame; the table keeps each grant's
 * id, and a REVOKE carrying another guest's id for that handle is refused. */
static void check_stream_v2(void)
{
	uint8_t a[HV_GRANT_MSG_V2_SIZE], r_other[HV_GRANT_MSG_V2_SIZE], r_ok[HV_GRANT_MSG_V2_SIZE],
	    v1[HV_GRANT_MSG_SIZE];
	struct hv_bindings *b;
	struct hv_grant_msg m;
	const char *why = NULL;
	int sv[2];

	TU_CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	TU_CHECK_EQ(hv_bindings_new(15, 1, &b), 0);
	msg_v2(a, HV_GRANT, 5, 9, 1, 0x11);
	msg_v2(r_other, HV_REVOKE, 5, 9, 1, 0x22); /* the same handle, another guest's id */
	msg_v2(r_ok, HV_REVOKE, 5, 9, 1, 0x11);
	msg(v1, HV_GRANT, 6, 10, false, 2);
	TU_CHECK_EQ(write(sv[0], a, 20), 20); /* split inside the header */
	TU_CHECK_EQ(write(sv[0], a + 20, 28), 28);
	TU_CHECK_EQ(write(sv[0], v1, sizeof(v1)), (ssize_t)sizeof(v1));
	TU_CHECK_EQ(write(sv[0], r_other, sizeof(r_other)), (ssize_t)sizeof(r_other));
	TU_CHECK_EQ(write(sv[0], r_ok, sizeof(r_ok)), (ssize_t)sizeof(r_ok));
	TU_CHECK_EQ(hv_grant_stream_read(sv[1], &m, &why), 1);
	TU_CHECK_EQ(hv_bindings_apply(b, &m), 0);
	TU_CHECK(hv_bindings_find_handle(b, 5) && hv_bindings_find_handle(b, 5)->id[4] == 0x11,
		 "the grant keeps its guest's id");
	TU_CHECK_EQ(hv_grant_stream_read(sv[1], &m, &why), 1);
	TU_CHECK(m.handle == 6 && m.asid == 10 && m.id[0] == 0, "a version 1 frame after it");
	TU_CHECK_EQ(hv_bindings_apply(b, &m), 0);
	TU_CHECK_EQ(hv_grant_stream_read(sv[1], &m, &why), 1);
	TU_CHECK_EQ(hv_bindings_apply(b, &m), -ENOENT);
	TU_CHECK(hv_bindings_find_handle(b, 5), "a revoke with another id left the grant live");
	TU_CHECK_EQ(hv_grant_stream_read(sv[1], &m, &why), 1);
	TU_CHECK_EQ(hv_bindings_apply(b, &m), 0);
	TU_CHECK(!hv_bindings_find_handle(b, 5), "revoked by its own id");
	close(sv[0]);
	TU_CHECK_EQ(hv_grant_stream_read(sv[1], &m, &why), 0);
	close(sv[1]);
	hv_bindings_free(b);
}

int main(void)
{
	check_grant_rules();
	check_tlb_decisions();
	check_parser();
	check_parser_exact();
	check_stream();
	check_parser_v2();
	check_stream_v2();
	tu_done("hvglue-binding");
}
