/* Runs one of the daemon's fuzz targets (tests/fuzz/fuzz-daemon-*.c) without libFuzzer: every
 * seed of tests/fuzz/corpus/NAME, then deterministic mutations of them (byte flips, truncations,
 * random tails, spliced seeds), so that the journal replay and the guest routes' JSON parsing
 * run in every build, including ASan/UBSan. A crash, an abort (a broken invariant of the
 * target) or a sanitizer report fails the test. Usage: test-daemon-fuzz-* NAME MUTATIONS. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "common/util.h"
#include "tests/testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Inputs the target got past its parsing (each target says what that is: journal records
 * applied, guest requests answered below 400, IPC requests decoded). */
uint64_t fuzz_replay_accepted(void);

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t next_rand(void)
{
	return tu_xorshift(&rng);
}

static void mutate_and_run(const struct tu_seed *s, const struct tu_seed *other)
{
	size_t cap = s->len + other->len + 128, len = s->len;
	uint8_t *buf = malloc(cap);

	TU_CHECK(buf != NULL, "malloc");
	memcpy(buf, s->p, len);
	switch (next_rand() % 5) {
	case 0:
	case 1:
		for (int i = 0, k = 1 + (int)(next_rand() % 4); i < k && len; i++)
			buf[next_rand() % len] ^= (uint8_t)(1 + next_rand() % 255);
		break;
	case 2:
		len = len ? next_rand() % len : 0;
		break;
	case 3:
		for (int i = 0, k = (int)(next_rand() % 64); i < k; i++)
			buf[len++] = (uint8_t)next_rand();
		break;
	case 4: /* splice: a prefix of this seed and a suffix of another */
		len = len ? next_rand() % len : 0;
		if (other->len) {
			size_t from = next_rand() % other->len;

			memcpy(buf + len, other->p + from, other->len - from);
			len += other->len - from;
		}
		break;
	}
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
}

int main(int argc, char *argv[])
{
	const char *root = getenv("SEVD_SOURCE_ROOT");
	struct tu_seed seeds[128];
	size_t n;
	uint64_t seeds_ok;
	int mutations;
	char *dir, *sub;

	TU_CHECK(argc == 3, "usage: %s CORPUS MUTATIONS", argv[0]);
	TU_CHECK(root, "SEVD_SOURCE_ROOT is not set");
	mutations = atoi(argv[2]);
	sub = path_join("tests/fuzz/corpus", argv[1]);
	dir = path_join(root, sub);
	n = tu_load_seeds(dir, seeds, ELEMENTSOF(seeds));
	TU_CHECK(n >= 5, "only %zu seeds in %s", n, dir);
	for (size_t i = 0; i < n; i++)
		LLVMFuzzerTestOneInput(seeds[i].p, seeds[i].len);
	seeds_ok = fuzz_replay_accepted();
	/* the seeds reach past the target's parsing: a corpus the parser refuses whole tests
	 * only its first check */
	TU_CHECK(seeds_ok > 0, "%s: none of the %zu seeds got past the parsing", argv[1], n);
	for (int i = 0; i < mutations; i++)
		mutate_and_run(&seeds[next_rand() % n], &seeds[next_rand() % n]);
	TU_CHECK(fuzz_replay_accepted() > seeds_ok,
		 "%s: none of the %d mutations got past the parsing", argv[1], mutations);
	printf("%s: replayed %zu seeds (%llu accepted) and %d mutations (%llu accepted)\n",
	       argv[1], n, (unsigned long long)seeds_ok, mutations,
	       (unsigned long long)(fuzz_replay_accepted() - seeds_ok));
	for (size_t i = 0; i < n; i++)
		free(seeds[i].p);
	free(dir);
	free(sub);
	tu_done("daemon-fuzz-replay");
}
