/* libFuzzer target: sev-psp-emu's fault plan parser (psp/emu/fault.c), which reads rules
 * from the command line and from any client of the emulator's socket (CTL `fault RULE`).
 * Input: text, one rule per line. Every line goes through emu_faults_add(); every rule that
 * parses must print (emu_fault_format) to text that parses back to the same rule; then each
 * command id is run through the hit test a few times and the list is printed into a small and
 * a large buffer. Nothing here acts on a rule (no stall, no exit): that is the socket side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "psp/emu/fault.h"
#include "psp/sev-abi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_rule(const struct emu_fault_rule *a, const struct emu_fault_rule *b)
{
	return a->cmd == b->cmd && a->kind == b->kind && a->status == b->status &&
	       a->seconds == b->seconds && a->nth == b->nth && a->count == b->count &&
	       a->before == b->before;
}

/* A rule that parsed prints to canonical text that parses back to the same rule. */
static void check_round_trip(const char *line)
{
	struct emu_fault_rule r, back;
	char text[EMU_FAULT_MAX_TEXT + 64], err[512];
	int n;

	if (emu_fault_parse(line, &r, err, sizeof(err)) < 0) {
		if (!memchr(err, 0, sizeof(err)) || !err[0])
			abort(); /* a refusal always says why */
		return;
	}
	n = emu_fault_format(&r, text, sizeof(text));
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    emu_fault_parse(text, &back, err, sizeof(err)) < 0 || !same_rule(&r, &back))
		abort();
}

static void exercise(struct emu_faults *f)
{
	char small[48], big[4096];
	size_t n;

	for (int round = 0; round < 3; round++)
		for (uint32_t cmd = 0; cmd <= SEV_CMD_DBG_ENCRYPT; cmd++) {
			const struct emu_fault_rule *hit = emu_faults_hit(f, cmd);
			struct emu_fault_action a = emu_faults_take_action(f);

			/* an action exactly when a rule other than fail struck; taken once */
			if ((hit && hit->cmd != cmd) ||
			    (a.kind != EMU_FAULT_NONE) != (hit && hit->kind != EMU_FAULT_FAIL) ||
			    emu_faults_take_action(f).kind != EMU_FAULT_NONE)
				abort();
		}
	n = emu_faults_list(f, small, sizeof(small));
	if (n >= sizeof(small) || strlen(small) != n)
		abort();
	n = emu_faults_list(f, big, sizeof(big));
	if (n >= sizeof(big) || strlen(big) != n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct emu_faults *f = NULL;
	char *text, *line, *save = NULL, msg[512];

	if (!quiet) {
		log_set_max_level(LOG_ERR); /* every strike logs at info */
		quiet = true;
	}
	if (size > 16384 || emu_faults_new(&f) < 0)
		return 0;
	text = strndup((const char *)data, size);
	if (!text) {
		emu_faults_free(f);
		return 0;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		check_round_trip(line);
		emu_faults_add(f, line, msg, sizeof(msg));
	}
	exercise(f);
	emu_faults_clear(f);
	exercise(f);
	emu_faults_free(f);
	free(text);
	return 0;
}
