/* Runs the emu-fault-plan fuzz target (tests/fuzz/fuzz-emu-fault-plan.c) without libFuzzer:
 * every seed of tests/fuzz/corpus/emu-fault-plan, then deterministic mutations that splice
 * the rule language's own tokens (':', '=', names, numbers) into them, so that the fault plan
 * parser is exercised in every build, ASan/UBSan included. The target aborts when a parsed
 * rule does not print back to itself or a refusal gives no reason; a crash fails the test. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/emu/fault.h"
#include "tests/testutil.h"

#define MUTATIONS 20000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What an input holds, judged by the parser itself: lines that are rules, lines refused. */
static unsigned long n_rules, n_refused;

static void count_lines(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size), *line, *save = NULL, err[512];
	struct emu_fault_rule r;

	TU_CHECK(text, "strndup");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (emu_fault_parse(line, &r, err, sizeof(err)) == 0)
			n_rules++;
		else
			n_refused++;
	}
	free(text);
}

static void run_input(const uint8_t *data, size_t size)
{
	count_lines(data, size);
	LLVMFuzzerTestOneInput(data, size);
}

/* clang-format off */
static const char *const tokens[] = {
	":", "=", "\n", "fail=", "hang=", "garbage-len", "die", "drop-socket", "nth=", "count=",
	"count=all", "before", "0x", "0", "1", "18446744073709551615", "86400", "PLATFORM_STATUS",
	"INIT", "SNP_INIT", "HWERROR_PLATFORM", "SUCCESS", "UNKNOWN_STATUS_0x1e", "-", " ", "\x01",
};
/* clang-format on */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t next_rand(void)
{
	return tu_xorshift(&rng);
}

/* Cut the seed somewhere, put a token (or a flipped byte) there, keep the rest. */
static void mutate_and_run(const struct tu_seed *s)
{
	uint8_t buf[8192];
	size_t len = MIN(s->len, sizeof(buf) - 64), at = len ? next_rand() % (len + 1) : 0;
	const char *tok = tokens[next_rand() % ELEMENTSOF(tokens)];
	size_t tl = strlen(tok), drop = next_rand() % 4;

	memcpy(buf, s->p, len);
	if (next_rand() % 5 == 0 && len) {
		buf[next_rand() % len] ^= (uint8_t)(1 + next_rand() % 255);
	} else {
		drop = MIN(drop, len - at);
		memmove(buf + at + tl, buf + at + drop, len - at - drop);
		memcpy(buf + at, tok, tl);
		len = len - drop + tl;
	}
	run_input(buf, len);
}

int main(void)
{
	const char *root = getenv("SEVD_SOURCE_ROOT");
	struct tu_seed seeds[256];
	char *dir;
	size_t n;

	TU_CHECK(root, "SEVD_SOURCE_ROOT is not set");
	dir = path_join(root, "tests/fuzz/corpus/emu-fault-plan");
	n = tu_load_seeds(dir, seeds, ELEMENTSOF(seeds));
	TU_CHECK(n >= 10, "only %zu seeds in %s", n, dir);
	for (size_t i = 0; i < n; i++)
		run_input(seeds[i].p, seeds[i].len);
	/* the seeds hold both kinds: rules the target round-trips, lines it must refuse */
	TU_CHECK(n_rules >= 5 && n_refused >= 5, "the seeds hold %lu rules and %lu refused lines",
		 n_rules, n_refused);
	printf("seeds: %zu files, %lu rules, %lu refused lines\n", n, n_rules, n_refused);
	n_rules = n_refused = 0;
	for (int i = 0; i < MUTATIONS; i++)
		mutate_and_run(&seeds[next_rand() % n]);
	TU_CHECK(n_rules >= MUTATIONS / 20 && n_refused >= MUTATIONS / 20,
		 "the mutations gave %lu rules and %lu refused lines", n_rules, n_refused);
	printf("mutations: %d, %lu rules, %lu refused lines\n", MUTATIONS, n_rules, n_refused);
	for (size_t i = 0; i < n; i++)
		free(seeds[i].p);
	free(dir);
	tu_done("emu-fault-replay");
}
