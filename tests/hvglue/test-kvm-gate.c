/* The runner never enters a guest the gate refuses: no KVM_RUN is issued, the guest executes
 * nothing (its serial port stays silent and its memory unchanged), and the VMCB model holds
 * VMEXIT_INVALID. Grants arrive over a real socket in the grant-stream format; a revoke sent
 * while the guest is between exits stops it before its next instruction; a new grant of the
 * same ASID lets it go on with a TLB flush. Skips (77) without an accessible /dev/kvm.
 * `--model` runs every case on the runner's model vCPU instead (hv-glue/model-cpu.h: it
 * interprets this guest's instructions), so that a host without KVM still checks every refusal
 * of the gate and the grant stream through the runner's own loop (meson: hvglue-model-gate). */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "hv-glue/binding.h"
#include "hv-glue/gate.h"
#include "hv-glue/kvm-runner.h"
#include "hv-glue/vmcb.h"
#include "tests/testutil.h"

#define MEM_SIZE 0x10000
#define ENTRY 0x1000
#define MARKER 0x500
#define HANDLE 11
#define ASID 130

/* Real mode: OUT 'A' to 0x3F8; mov byte [0x500], 0x42; OUT 'B'; HLT. */
static const uint8_t code[] = {0xba, 0xf8, 0x03, 0xb0, 'A', 0xee, 0xc6, 0x06,
			       0x00, 0x05, 0x42, 0xb0, 'B', 0xee, 0xf4};

static unsigned vm_timeout_ms = 5000;
static bool model_cpu; /* --model */

struct vm {
	int mem_fd, serial_fd, sv[2];
	uint8_t *mem;
	struct hv_platform plat;
	struct hv_bindings *b;
	struct hv_runner *r;
};

static void vm_start(struct vm *vm, bool stream, unsigned max_exits)
{
	int k;

	memset(vm, 0, sizeof(*vm));
	vm->sv[0] = vm->sv[1] = -1;
	vm->mem_fd = memfd_create("ram", MFD_CLOEXEC);
	vm->serial_fd = memfd_create("serial", MFD_CLOEXEC);
	TU_CHECK(vm->mem_fd >= 0 && vm->serial_fd >= 0, "memfd");
	TU_CHECK_EQ(ftruncate(vm->mem_fd, MEM_SIZE), 0);
	vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, vm->mem_fd, 0);
	TU_CHECK(vm->mem != MAP_FAILED, "mmap");
	memcpy(vm->mem + ENTRY, code, sizeof(code));
	if (stream)
		TU_CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, vm->sv), 0);
	hv_platform_init(&vm->plat, 509, 100);
	TU_CHECK_EQ(hv_bindings_new(509, 2, &vm->b), 0);
	k = hv_runner_new(&(struct hv_runner_config){.mem_fd = vm->mem_fd,
						     .mem_size = MEM_SIZE,
						     .mode = HV_MODE_REAL,
						     .entry = ENTRY,
						     .stack = 0x8000,
						     .handle = HANDLE,
						     .bindings = vm->b,
						     .platform = &vm->plat,
						     .grant_fd = vm->sv[1],
						     .serial_fd = vm->serial_fd,
						     .max_exits = max_exits,
						     .timeout_ms = vm_timeout_ms,
						     .cpu = 1,
						     .model_cpu = model_cpu},
			  &vm->r);
	TU_CHECK(k == 0, "hv_runner_new: %s", strerror(-k));
}

static void vm_stop(struct vm *vm)
{
	hv_runner_free(vm->r);
	hv_bindings_free(vm->b);
	munmap(vm->mem, MEM_SIZE);
	close(vm->mem_fd);
	close(vm->serial_fd);
	if (vm->sv[0] >= 0)
		close(vm->sv[0]), close(vm->sv[1]);
}

static void send_frame(struct vm *vm, enum hv_grant_type t, uint32_t asid, uint64_t gen)
{
	uint8_t f[HV_GRANT_MSG_SIZE];
	hv_grant_msg_build(&(struct hv_grant_msg){t, HANDLE, asid, false, gen}, f);
	TU_CHECK_EQ(write(vm->sv[0], f, sizeof(f)), (ssize_t)sizeof(f));
}

static off_t serial_len(struct vm *vm)
{
	return lseek(vm->serial_fd, 0, SEEK_END);
}

/* Run once and expect the gate to refuse before any KVM_RUN. */
static void expect_refused(struct vm *vm, enum hv_gate_reason want, off_t serial_before,
			   uint8_t marker)
{
	struct hv_run_result res;

	TU_CHECK_EQ(hv_runner_run(vm->r, &res), 0);
	TU_CHECK(res.stop == HV_STOP_GATE, "stop %s, expected the gate",
		 hv_run_stop_name(res.stop));
	TU_CHECK(res.gate == want, "gate said %s, expected %s", hv_gate_reason_name(res.gate),
		 hv_gate_reason_name(want));
	TU_CHECK_EQ(res.kvm_runs, 0);
	TU_CHECK_EQ(res.exits, 0);
	TU_CHECK(hv_runner_vmcb(vm->r)->control.exitcode == SVM_EXIT_INVALID, "VMEXIT_INVALID");
	TU_CHECK_EQ(serial_len(vm), serial_before);
	TU_CHECK_EQ(vm->mem[MARKER], marker);
}

static void check_never_granted(void)
{
	struct vm vm;

	vm_start(&vm, false, 0);
	expect_refused(&vm, HV_GATE_ASID_ZERO, 0, 0); /* nothing put an ASID into the VMCB */
	vm_stop(&vm);
}

static void check_revoke_and_reuse(void)
{
	struct hv_run_result res;
	struct vm vm;
	char out[8] = {0};

	vm_start(&vm, true, 1);
	send_frame(&vm, HV_GRANT, ASID, 1);
	TU_CHECK_EQ(hv_runner_run(vm.r, &res), 0); /* one exit: OUT 'A' */
	TU_CHECK_EQ(res.stop, HV_STOP_EXIT_LIMIT);
	TU_CHECK_EQ(res.exits, 1);
	TU_CHECK(res.kvm_runs >= 1, "entered"); /* more if a timer tick interrupted KVM_RUN */
	TU_CHECK_EQ(res.tlb_flushes, 1);
	TU_CHECK_EQ(hv_runner_vmcb(vm.r)->control.exitinfo1,
		    (0x3f8ull << 16) | VMCB_IOIO_SZ8 | VMCB_IOIO_A16);
	TU_CHECK_EQ(hv_runner_vmcb(vm.r)->control.exitinfo2, 6); /* next RIP (CS base 0x1000) */
	TU_CHECK_EQ(serial_len(&vm), 1);

	send_frame(&vm, HV_REVOKE, ASID, 1); /* DEACTIVATE while the guest sits between exits */
	expect_refused(&vm, HV_GATE_GRANT_REVOKED, 1, 0);
	expect_refused(&vm, HV_GATE_GRANT_REVOKED, 1, 0); /* and it stays refused */

	send_frame(&vm, HV_GRANT, ASID, 2); /* the ASID handed out again (after DF_FLUSH) */
	TU_CHECK_EQ(hv_runner_run(vm.r, &res), 0);
	TU_CHECK_EQ(res.stop, HV_STOP_EXIT_LIMIT);
	TU_CHECK_EQ(res.tlb_flushes, 1); /* same VMCB, same CPU, but a new grant: flush */
	TU_CHECK_EQ(vm.mem[MARKER], 0x42);
	TU_CHECK_EQ(hv_runner_run(vm.r, &res), 0);
	TU_CHECK_EQ(res.stop, HV_STOP_HALT);
	TU_CHECK_EQ(res.tlb_flushes, 0);
	TU_CHECK_EQ(pread(vm.serial_fd, out, sizeof(out) - 1, 0), 2);
	TU_CHECK(strcmp(out, "AB") == 0, "serial %s", out);
	vm_stop(&vm);
}

static void check_broken_vmcb(void)
{
	struct hv_run_result res;
	struct vmcb *v;
	struct vm vm;

	vm_start(&vm, false, 0);
	TU_CHECK_EQ(hv_bindings_grant(vm.b, HANDLE, ASID, false, 1), 0);
	v = hv_runner_vmcb_mut(vm.r);
	v->control.intercepts[VMCB_INTERCEPT_MISC2] &= ~VMCB_MISC2_VMRUN;
	expect_refused(&vm, HV_GATE_VMRUN_NOT_INTERCEPTED, 0, 0);
	v->control.intercepts[VMCB_INTERCEPT_MISC2] |= VMCB_MISC2_VMRUN;
	v->control.nested_ctl &= ~VMCB_NP_ENABLE;
	expect_refused(&vm, HV_GATE_SEV_NEEDS_NP, 0, 0);
	v->control.nested_ctl |= VMCB_NP_ENABLE;
	v->control.eventinj = VMCB_EVENT_VALID | (3u << 8) | 2;
	expect_refused(&vm, HV_GATE_EVENTINJ_BAD_VECTOR, 0, 0);
	v->control.eventinj = 0;
	vm.plat.mem_encrypt = false;
	expect_refused(&vm, HV_GATE_MEM_ENCRYPT_OFF, 0, 0);
	vm.plat.mem_encrypt = true;
	vm.plat.smm_lock = false;
	expect_refused(&vm, HV_GATE_SMM_UNLOCKED, 0, 0);
	vm.plat.smm_lock = true;
	TU_CHECK_EQ(hv_runner_run(vm.r, &res), 0); /* repaired: it runs */
	TU_CHECK_EQ(res.stop, HV_STOP_HALT);
	/* the refused attempts never ran, so the first real entry still flushes the ASID */
	TU_CHECK_EQ(res.tlb_flushes, 1);
	TU_CHECK_EQ(res.exits, 3); /* OUT 'A', OUT 'B', HLT */
	TU_CHECK_EQ(vm.mem[MARKER], 0x42);
	vm_stop(&vm);
}

static void check_wrong_range(void)
{
	struct vm vm;

	vm_start(&vm, false, 0);
	TU_CHECK_EQ(hv_bindings_grant(vm.b, HANDLE, 5, false, 1), 0); /* < EDX, not an ES guest */
	expect_refused(&vm, HV_GATE_SEV_ASID_IN_ES_RANGE, 0, 0);
	vm_stop(&vm);
}

static void check_bad_stream(void)
{
	struct hv_run_result res;
	uint8_t junk[HV_GRANT_MSG_SIZE] = "not a grant frame at all.......";
	struct vm vm;

	vm_start(&vm, true, 0);
	TU_CHECK_EQ(write(vm.sv[0], junk, sizeof(junk)), (ssize_t)sizeof(junk));
	TU_CHECK_EQ(hv_runner_run(vm.r, &res), 0);
	TU_CHECK_EQ(res.stop, HV_STOP_GRANT_STREAM);
	TU_CHECK_EQ(res.error, -EBADMSG);
	TU_CHECK(res.why && strstr(res.why, "magic"), "why: %s", res.why ? res.why : "-");
	TU_CHECK_EQ(res.kvm_runs, 0);
	vm_stop(&vm);

	vm_start(&vm, true, 0); /* the daemon went away: no revocation could reach us */
	send_frame(&vm, HV_GRANT, ASID, 1);
	close(vm.sv[0]);
	vm.sv[0] = dup(vm.sv[1]); /* keep vm_stop's close pair valid */
	TU_CHECK_EQ(hv_runner_run(vm.r, &res), 0);
	TU_CHECK_EQ(res.stop, HV_STOP_GRANT_STREAM);
	TU_CHECK_EQ(res.error, -EPIPE);
	TU_CHECK_EQ(res.kvm_runs, 0);
	TU_CHECK_EQ(vm.mem[MARKER], 0);
	vm_stop(&vm);

	vm_start(&vm, true, 0); /* a second grant over a live ASID: the stream lost a revoke */
	send_frame(&vm, HV_GRANT, ASID, 1);
	send_frame(&vm, HV_GRANT, ASID, 2);
	TU_CHECK_EQ(hv_runner_run(vm.r, &res), 0);
	TU_CHECK_EQ(res.stop, HV_STOP_GRANT_STREAM);
	TU_CHECK_EQ(res.error, -EBUSY);
	TU_CHECK_EQ(res.kvm_runs, 0);
	vm_stop(&vm);
}

/* A guest that spins without exiting is still bounded: the deadline interrupts KVM_RUN. */
static void check_timeout(void)
{
	struct hv_run_result res;
	struct vm vm;

	vm_timeout_ms = 300;
	vm_start(&vm, false, 0);
	vm.mem[ENTRY] = 0xeb, vm.mem[ENTRY + 1] = 0xfe; /* jmp $ */
	TU_CHECK_EQ(hv_bindings_grant(vm.b, HANDLE, ASID, false, 1), 0);
	TU_CHECK_EQ(hv_runner_run(vm.r, &res), 0);
	TU_CHECK(res.stop == HV_STOP_TIMEOUT, "stop: %s", hv_run_stop_name(res.stop));
	TU_CHECK_EQ(res.exits, 0);
	TU_CHECK(res.kvm_runs >= 1, "entered at least once");
	vm_stop(&vm);
	vm_timeout_ms = 5000;
}

/* The model vCPU refuses what it does not interpret, by name, instead of going on. */
static void check_model_unknown(void)
{
	struct hv_run_result res;
	struct vm vm;

	vm_start(&vm, false, 0);
	vm.mem[ENTRY] = 0x0f, vm.mem[ENTRY + 1] = 0xa2; /* CPUID: not modelled */
	TU_CHECK_EQ(hv_bindings_grant(vm.b, HANDLE, ASID, false, 1), 0);
	TU_CHECK_EQ(hv_runner_run(vm.r, &res), 0);
	TU_CHECK(res.stop == HV_STOP_ERROR, "stop: %s", hv_run_stop_name(res.stop));
	TU_CHECK(res.why && strstr(res.why, "does not interpret"), "why: %s",
		 res.why ? res.why : "-");
	TU_CHECK_EQ(serial_len(&vm), 0);
	vm_stop(&vm);
}

int main(int argc, char *argv[])
{
	bool require_kvm = argc > 1 && strcmp(argv[1], "--require-kvm") == 0;
	int k;

	model_cpu = argc > 1 && strcmp(argv[1], "--model") == 0;
	k = model_cpu ? 0 : hv_kvm_available();
	if (k < 0) {
		char why[256];
		snprintf(why, sizeof(why),
			 "/dev/kvm cannot be opened read-write (%s): the KVM "
			 "runner tests need a host with KVM",
			 strerror(-k));
		if (require_kvm) {
			fprintf(stderr, "%s (and -Dkvm_tests=enabled requires them)\n", why);
			return 1;
		}
		tu_skip(why);
	}
	check_never_granted();
	check_revoke_and_reuse();
	check_broken_vmcb();
	check_wrong_range();
	check_bad_stream();
	check_timeout();
	if (model_cpu)
		check_model_unknown();
	tu_done(model_cpu ? "hvglue-model-gate" : "hvglue-kvm-gate");
}
