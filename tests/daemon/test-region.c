/* The reply cache's shared region (daemon/ipc/cache-region.h), as the worker gets it:
 *   1. the memfd cannot be made writable by its receiver: mmap(PROT_WRITE, MAP_SHARED) fails,
 *      a read-only mapping cannot be mprotect'ed to write, write()/pwrite(), ftruncate (shrink
 *      or grow), a punched hole and new seals are refused, also through a fresh open of
 *      /proc/self/fd/N; the core's own mapping still writes;
 *   2. the worker's open checks size, seals, magic and version;
 *   3. the worker's answer follows the core's rule exactly: valid, taken in the current queue
 *      generation, younger than the age bound, PSP healthy, the slot holding that handle;
 *      the reply is filled as the core fills it; hits are counted;
 *   4. a reader racing the writer sees whole entries only (the seqlock), never a mix. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ipc/cache-region.h"
#include "tests/testutil.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void check_not_writable(int fd, const char *how)
{
	size_t len = (size_t)lseek(fd, 0, SEEK_END);
	void *p;

	TU_CHECK(len > 0, "%s: size %zu", how, len);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TU_CHECK(p == MAP_FAILED && errno == EPERM, "%s: mmap(PROT_WRITE, MAP_SHARED): %s", how,
		 p == MAP_FAILED ? strerror(errno) : "mapped writable");
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	TU_CHECK(p != MAP_FAILED, "%s: a read-only mapping: %s", how, strerror(errno));
	if (p != MAP_FAILED) {
		TU_CHECK(mprotect(p, len, PROT_READ | PROT_WRITE) < 0 && errno == EACCES,
			 "%s: mprotect(PROT_WRITE) of the read-only mapping: %s", how,
			 strerror(errno));
		munmap(p, len);
	}
	TU_CHECK(pwrite(fd, "x", 1, 0) < 0 && errno == EPERM, "%s: pwrite", how);
	TU_CHECK(ftruncate(fd, 0) < 0 && errno == EPERM, "%s: shrink", how);
	TU_CHECK(ftruncate(fd, (off_t)len * 2) < 0 && errno == EPERM, "%s: grow", how);
	TU_CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) < 0,
		 "%s: punch a hole", how);
	TU_CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) < 0 && errno == EPERM, "%s: reseal", how);
}

static void test_seals(void)
{
	struct sevd_region *r = NULL;
	char path[64];
	int fd, fd2;

	TU_CHECK_EQ(sevd_region_new(&r), 0);
	fd = sevd_region_fd(r);
	TU_CHECK(fd >= 0, "region fd");
	check_not_writable(fd, "the region fd");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	TU_CHECK(fd2 >= 0, "reopen %s: %s", path, strerror(errno));
	if (fd2 >= 0) {
		check_not_writable(fd2, "a reopened region");
		close(fd2);
	}
	/* The core's mapping (made before the seals) still writes. */
	sevd_region_set_unhealthy(r, true);
	atomic_fetch_add(sevd_region_started(r), 1);
	TU_CHECK_EQ(atomic_load(sevd_region_started(r)), 1);
	sevd_region_free(r);
}

static int memfd_of(size_t size, unsigned seals)
{
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	TU_CHECK(fd >= 0 && ftruncate(fd, (off_t)size) == 0, "memfd");
	if (seals)
		TU_CHECK_EQ(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

static void test_open_checks(void)
{
	unsigned all = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
	struct sevd_region *core = NULL, *w = NULL;
	size_t size;
	uint8_t *copy;
	int fd;

	TU_CHECK_EQ(sevd_region_new(&core), 0);
	size = (size_t)lseek(sevd_region_fd(core), 0, SEEK_END);
	TU_CHECK_EQ(sevd_region_open(sevd_region_fd(core), &w), 0);
	sevd_region_free(w);
	/* Wrong size, unsealed, a pipe. */
	fd = memfd_of(size + 8, all);
	TU_CHECK_EQ(sevd_region_open(fd, &w), -EBADMSG);
	close(fd);
	fd = memfd_of(size, F_SEAL_SHRINK | F_SEAL_GROW);
	TU_CHECK_EQ(sevd_region_open(fd, &w), -EBADMSG);
	close(fd);
	{
		int p[2];

		TU_CHECK_EQ(pipe(p), 0);
		TU_CHECK_EQ(sevd_region_open(p[0], &w), -EBADMSG);
		close(p[0]);
		close(p[1]);
	}
	/* The right size and seals, but not a region: zeros, then the header with one byte
	 * changed (magic, version, size, slots). */
	copy = malloc(size);
	TU_CHECK(copy && pread(sevd_region_fd(core), copy, size, 0) == (ssize_t)size, "read");
	for (int k = -1; k < 16; k += 4) {
		uint8_t *buf = calloc(1, size);

		if (k >= 0) {
			memcpy(buf, copy, size);
			buf[k] ^= 0x5a;
		}
		fd = memfd_of(size, 0);
		TU_CHECK(pwrite(fd, buf, size, 0) == (ssize_t)size, "fill");
		TU_CHECK_EQ(fcntl(fd, F_ADD_SEALS, all), 0);
		TU_CHECK_EQ(sevd_region_open(fd, &w), -EBADMSG);
		close(fd);
		free(buf);
	}
	free(copy);
	sevd_region_free(core);
}

static struct sevd_platform_info platform(uint8_t k)
{
	struct sevd_platform_info p;

	memset(&p, k, sizeof(p));
	return p;
}

static struct sevd_guest_info guest(uint32_t handle, uint8_t k)
{
	struct sevd_guest_info g;

	memset(&g, k, sizeof(g));
	g.handle = handle;
	return g;
}

static bool ask(struct sevd_region *w, uint32_t op, uint32_t handle, struct sevd_reply *rep)
{
	struct sevd_request req = {.op = op};

	req.u.guest.handle = handle;
	memset(rep, 0x77, sizeof(*rep));
	return sevd_region_answer(w, &req, rep);
}

static void test_rule(void)
{
	struct sevd_region *core = NULL, *w = NULL;
	struct sevd_reply *rep = malloc(sizeof(*rep));
	_Atomic uint64_t *started;
	struct sevd_platform_info p = platform(3);
	struct sevd_guest_info g = guest(70, 4);
	uint64_t hp, hg, gen;

	TU_CHECK(rep && sevd_region_new(&core) == 0 &&
		     sevd_region_open(sevd_region_fd(core), &w) == 0,
		 "regions");
	started = sevd_region_started(core);
	atomic_store(started, 41);
	gen = 41;
	TU_CHECK(!ask(w, SEVD_OP_PLATFORM_STATUS, 0, rep), "nothing published: a miss");
	sevd_region_put_platform(core, true, gen, now_ms(), &p);
	TU_CHECK(ask(w, SEVD_OP_PLATFORM_STATUS, 0, rep), "fresh entry: a hit");
	TU_CHECK(rep->r == 0 && rep->fw_status == SEV_STATUS_NO_FW_CALL && !rep->message[0] &&
		     !rep->rule[0] && !memcmp(&rep->u.platform, &p, sizeof(p)),
		 "the reply is the core's");
	TU_CHECK(!ask(w, SEVD_OP_GET_ID, 0, rep) && !ask(w, SEVD_OP_ASIDS, 0, rep) &&
		     !ask(w, SEVD_OP_INIT, 0, rep),
		 "other ops go to the core");
	atomic_fetch_add(started, 1); /* a job started */
	TU_CHECK(!ask(w, SEVD_OP_PLATFORM_STATUS, 0, rep), "a job started since: a miss");
	sevd_region_put_platform(core, true, gen + 1, now_ms(), &p); /* renewed (core.c) */
	TU_CHECK(ask(w, SEVD_OP_PLATFORM_STATUS, 0, rep), "renewed: a hit");
	sevd_region_put_platform(core, false, gen + 1, now_ms(), &p);
	TU_CHECK(!ask(w, SEVD_OP_PLATFORM_STATUS, 0, rep), "dropped: a miss");
	sevd_region_put_platform(core, true, gen + 1, now_ms() - SEVD_CACHE_MAX_MS, &p);
	TU_CHECK(!ask(w, SEVD_OP_PLATFORM_STATUS, 0, rep), "at the age bound: a miss");
	sevd_region_put_platform(core, true, gen + 1, now_ms() + 5000, &p);
	TU_CHECK(!ask(w, SEVD_OP_PLATFORM_STATUS, 0, rep), "from the future: a miss");
	sevd_region_put_platform(core, true, gen + 1, now_ms(), &p);
	sevd_region_set_unhealthy(core, true);
	TU_CHECK(!ask(w, SEVD_OP_PLATFORM_STATUS, 0, rep), "PSP unhealthy: to the core");
	sevd_region_set_unhealthy(core, false);
	TU_CHECK(ask(w, SEVD_OP_PLATFORM_STATUS, 0, rep), "healthy again: a hit");

	/* Guests: slot 70 % 64 = 6. */
	sevd_region_put_guest(core, 70 % SEVD_GUEST_CACHE_SLOTS, true, gen + 1, now_ms(), &g);
	TU_CHECK(ask(w, SEVD_OP_GUEST_INFO, 70, rep), "guest 70: a hit");
	TU_CHECK(rep->r == 0 && rep->u.guest.command == 0 &&
		     !memcmp(&rep->u.guest.info, &g, sizeof(g)) && rep->u.guest.uploaded == 0,
		 "the guest reply is the core's");
	TU_CHECK(!ask(w, SEVD_OP_GUEST_INFO, 6, rep), "guest 6 (same slot, other handle): a miss");
	TU_CHECK(!ask(w, SEVD_OP_GUEST_INFO, 71, rep), "guest 71 (empty slot): a miss");
	sevd_region_put_guest(core, SEVD_GUEST_CACHE_SLOTS, true, gen + 1, now_ms(), &g);
	sevd_region_put_guest(core, 6, true, gen + 1, now_ms(), &g); /* handle 70 in slot 6 */
	TU_CHECK(ask(w, SEVD_OP_GUEST_INFO, 70, rep), "still a hit");
	{
		struct sevd_guest_info wrong = guest(71, 4); /* a handle that is not the slot's */

		sevd_region_put_guest(core, 6, true, gen + 1, now_ms(), &wrong);
		TU_CHECK(!ask(w, SEVD_OP_GUEST_INFO, 6, rep) && !ask(w, SEVD_OP_GUEST_INFO, 70, rep),
			 "an entry whose handle does not match is never served");
		TU_CHECK(!ask(w, SEVD_OP_GUEST_INFO, 71, rep), "nor under its own handle (slot 7)");
	}
	sevd_region_hits(w, &hp, &hg);
	TU_CHECK(hp == 3 && hg == 2, "hits counted: platform %llu, guest %llu",
		 (unsigned long long)hp, (unsigned long long)hg);
	sevd_region_free(w);
	sevd_region_free(core);
	free(rep);
}

/* 4: the writer alternates two guest entries (the larger kind) whose every byte but the
 * handle is k; a reader must never see a reply mixing them. */
static atomic_bool stop;

static void *writer(void *arg)
{
	struct sevd_region *core = arg;
	uint64_t gen = atomic_load(sevd_region_started(core));

	struct sevd_guest_info g[2] = {guest(5, 1), guest(5, 2)};

	for (unsigned i = 0; !atomic_load(&stop); i++)
		sevd_region_put_guest(core, 5, true, gen, now_ms(), &g[i % 2]);
	return NULL;
}

static void test_seqlock(void)
{
	struct sevd_region *core = NULL, *w = NULL;
	struct sevd_reply *rep = malloc(sizeof(*rep));
	unsigned hits = 0, mixed = 0;
	pthread_t t;

	TU_CHECK(rep && sevd_region_new(&core) == 0 &&
		     sevd_region_open(sevd_region_fd(core), &w) == 0,
		 "regions");
	TU_CHECK_EQ(pthread_create(&t, NULL, writer, core), 0);
	for (unsigned i = 0; i < 200000; i++) {
		const uint8_t *b = (const uint8_t *)&rep->u.guest.info;

		if (!ask(w, SEVD_OP_GUEST_INFO, 5, rep))
			continue;
		hits++;
		for (size_t k = sizeof(uint32_t) + 1; k < sizeof(rep->u.guest.info); k++)
			mixed += b[k] != b[sizeof(uint32_t)];
	}
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	TU_CHECK_EQ(mixed, 0);
	printf("seqlock: %u of 200000 reads answered while the writer ran, none mixed\n", hits);
	sevd_region_free(w);
	sevd_region_free(core);
	free(rep);
}

int main(void)
{
	test_seals();
	test_open_checks();
	test_rule();
	test_seqlock();
	tu_done("daemon-region");
}
