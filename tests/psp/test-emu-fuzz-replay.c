/* Runs the emu-cmd fuzz target (tests/fuzz/fuzz-emu-cmd.c) without libFuzzer: every seed of
 * tests/fuzz/corpus/emu-cmd, then a fixed number of deterministic mutations of them (byte
 * flips, truncations, random tails), so that the emulator's command input is exercised in
 * every build, including ASan/UBSan. A crash or sanitizer report fails the test. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/sev-abi.h"
#include "tests/testutil.h"

#define MUTATIONS 3000 /* FUZZ_REPLAY_MUTATIONS overrides (a slower target replays fewer) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
uint64_t fuzz_emu_cmd_served(void);
/* emu-cmd's target counts the commands firmware served; another target's replay (emu-snp)
 * links this stand-in. */
__attribute__((weak)) uint64_t fuzz_emu_cmd_served(void)
{
	return 0;
}

/* Does this input reach the firmware core as a command (fuzz-emu-cmd.c's layout: command mode,
 * a whole buffer, at least the command's buffer size)? Wire inputs may too; not counted. */
static bool reaches_firmware(const uint8_t *d, size_t n)
{
	uint32_t cmd;
	int size;

	if (n < 6 || (d[0] & 0x80) || n < 6u + d[5])
		return false;
	memcpy(&cmd, d + 1, 4);
	size = sev_cmd_buffer_size(cmd);
	return size < 0 || d[5] >= size;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next_rand(void)
{
	return tu_xorshift(&rng);
}

static void mutate_and_run(const struct tu_seed *s)
{
	uint8_t buf[8192];
	size_t len = MIN(s->len, sizeof(buf) - 64);

	memcpy(buf, s->p, len);
	switch (next_rand() % 4) {
	case 0: /* flip a few bytes */
	case 1:
		for (int i = 0, k = 1 + next_rand() % 4; i < k && len; i++)
			buf[next_rand() % len] ^= (uint8_t)(1 + next_rand() % 255);
		break;
	case 2: /* truncate */
		len = len ? next_rand() % len : 0;
		break;
	case 3: /* random tail */
		for (int i = 0, k = next_rand() % 64; i < k; i++)
			buf[len++] = (uint8_t)next_rand();
		break;
	}
	LLVMFuzzerTestOneInput(buf, len);
}

int main(void)
{
	const char *root = getenv("SEVD_SOURCE_ROOT");
	char *dir;
	struct tu_seed seeds[256];
	int mutations = MUTATIONS;
	uint64_t served0, served1;
	size_t n, expected = 0;
	bool other = getenv("FUZZ_REPLAY_CORPUS") != NULL; /* another target's seeds (emu-snp) */

	TU_CHECK(root, "SEVD_SOURCE_ROOT is not set");
	/* FUZZ_REPLAY_CORPUS: another target's seeds (emu-snp), the same replay */
	dir = path_join(root, getenv("FUZZ_REPLAY_CORPUS") ? getenv("FUZZ_REPLAY_CORPUS") :
							     "tests/fuzz/corpus/emu-cmd");
	n = tu_load_seeds(dir, seeds, ELEMENTSOF(seeds));
	TU_CHECK(n >= 10, "only %zu seeds in %s", n, dir);
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0); /* set up the firmware core */
	served0 = fuzz_emu_cmd_served();
	for (size_t i = 0; i < n; i++) {
		expected += !other && reaches_firmware(seeds[i].p, seeds[i].len);
		LLVMFuzzerTestOneInput(seeds[i].p, seeds[i].len);
	}
	if (getenv("FUZZ_REPLAY_MUTATIONS"))
		mutations = atoi(getenv("FUZZ_REPLAY_MUTATIONS"));
	served1 = fuzz_emu_cmd_served();
	/* every command seed reached firmware (wire seeds may add more); emu-cmd's own format */
	if (!other)
		TU_CHECK(expected >= n / 2 && served1 - served0 >= expected,
			 "%zu of %zu seeds are commands, firmware served %llu of them", expected, n,
			 (unsigned long long)(served1 - served0));
	for (int i = 0; i < mutations; i++)
		mutate_and_run(&seeds[next_rand() % n]);
	/* most mutations keep a seed's command whole: they reach firmware too */
	if (!other)
		TU_CHECK(fuzz_emu_cmd_served() - served1 >= (uint64_t)mutations / 4,
			 "only %llu of %d mutations reached firmware",
			 (unsigned long long)(fuzz_emu_cmd_served() - served1), mutations);
	else
		TU_CHECK(true, "%d inputs ran", mutations);
	printf("replayed %zu seeds (%llu commands served) and %d mutations (%llu)\n", n,
	       (unsigned long long)(served1 - served0), mutations,
	       (unsigned long long)(fuzz_emu_cmd_served() - served1));
	for (size_t i = 0; i < n; i++)
		free(seeds[i].p);
	free(dir);
	tu_done("emu-fuzz-replay");
}
