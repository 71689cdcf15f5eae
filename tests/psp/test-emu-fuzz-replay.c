/* Runs the emu-cmd fuzz target (tests/fuzz/fuzz-emu-cmd.c) without libFuzzer: every seed of
 * tests/fuzz/corpus/emu-cmd, then a fixed number of deterministic mutations of them (byte
 * flips, truncations, random tails), so that the emulator's command input is exercised in
 * every build, including ASan/UBSan. A crash or sanitizer report fails the test. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "common/util.h"
#include "tests/testutil.h"

#define MUTATIONS 3000 /* FUZZ_REPLAY_MUTATIONS overrides (a slower target replays fewer) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seed {
	uint8_t *p;
	size_t len;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static size_t load_seeds(const char *dir, struct seed *seeds, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	TU_CHECK(d, "cannot open corpus %s", dir);
	while ((e = readdir(d)) && n < max) {
		char *p;

		if (e->d_name[0] == '.')
			continue;
		p = path_join(dir, e->d_name);
		seeds[n].p = tu_read_file(p, &seeds[n].len);
		free(p);
		n++;
	}
	closedir(d);
	return n;
}

static void mutate_and_run(const struct seed *s)
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
	struct seed seeds[256];
	int mutations = MUTATIONS;
	size_t n;

	TU_CHECK(root, "SEVD_SOURCE_ROOT is not set");
	/* FUZZ_REPLAY_CORPUS: another target's seeds (emu-snp), the same replay */
	dir = path_join(root, getenv("FUZZ_REPLAY_CORPUS") ? getenv("FUZZ_REPLAY_CORPUS") :
							     "tests/fuzz/corpus/emu-cmd");
	n = load_seeds(dir, seeds, ELEMENTSOF(seeds));
	TU_CHECK(n >= 10, "only %zu seeds in %s", n, dir);
	for (size_t i = 0; i < n; i++)
		LLVMFuzzerTestOneInput(seeds[i].p, seeds[i].len);
	if (getenv("FUZZ_REPLAY_MUTATIONS"))
		mutations = atoi(getenv("FUZZ_REPLAY_MUTATIONS"));
	for (int i = 0; i < mutations; i++)
		mutate_and_run(&seeds[next_rand() % n]);
	TU_CHECK(true, "%d inputs ran", mutations);
	printf("replayed %zu seeds and %d mutations\n", n, mutations);
	for (size_t i = 0; i < n; i++)
		free(seeds[i].p);
	free(dir);
	tu_done("emu-fuzz-replay");
}
