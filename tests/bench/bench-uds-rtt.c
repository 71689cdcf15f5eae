/* bench-uds-rtt: the bare round trip of the privsep hop — a small message ping-ponged between
 * two processes over a SOCK_STREAM socketpair (as the worker↔core seam in daemon/ipc/), with
 * nothing else done per message. The command-overhead section divides sevd's added latency
 * per firmware command by this figure (cmd_overhead_us.per_rtt).
 * Usage: bench-uds-rtt [-n ROUND_TRIPS] [-w WARMUP] [-s BYTES]
 * Prints one JSON object: round_trips, bytes, p50_us, p99_us, mean_us. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG_MAX 4096
#define N_MAX 10000000L

static int xfer(int fd, char *buf, size_t n, int out)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = out ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long n = 20000, warm = 2000, size = 64;
	char buf[MSG_MAX];
	double *t, sum = 0;
	int sv[2], c, status = 0;
	pid_t pid;

	while ((c = getopt(argc, argv, "n:w:s:")) != -1) {
		switch (c) {
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'w': warm = strtol(optarg, NULL, 10); break;
		case 's': size = strtol(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "Usage: bench-uds-rtt [-n ROUND_TRIPS] [-w WARMUP] [-s BYTES]\n");
			return 2;
		}
	}
	if (n < 1 || n > N_MAX || warm < 0 || warm > N_MAX || size < 1 || size > MSG_MAX) {
		fprintf(stderr, "bench-uds-rtt: -n 1..%ld, -w 0..%ld, -s 1..%d\n", N_MAX, N_MAX,
			MSG_MAX);
		return 2;
	}
	t = calloc((size_t)n, sizeof(*t));
	if (!t || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "bench-uds-rtt: setup failed: %s\n", strerror(errno));
		return 1;
	}
	memset(buf, 0x5a, sizeof(buf));
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "bench-uds-rtt: fork failed: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) { /* the echo side: read a message, send it back, until EOF */
		close(sv[0]);
		while (xfer(sv[1], buf, (size_t)size, 0) == 0)
			if (xfer(sv[1], buf, (size_t)size, 1) < 0)
				_exit(1);
		_exit(0);
	}
	close(sv[1]);
	for (long i = 0; i < warm + n; i++) {
		double t0 = now_us();
		if (xfer(sv[0], buf, (size_t)size, 1) < 0 || xfer(sv[0], buf, (size_t)size, 0) < 0) {
			fprintf(stderr, "bench-uds-rtt: the echo process stopped answering\n");
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			free(t);
			return 1;
		}
		if (i >= warm)
			t[i - warm] = now_us() - t0;
	}
	close(sv[0]);
	waitpid(pid, &status, 0);
	for (long i = 0; i < n; i++)
		sum += t[i];
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("{\"round_trips\":%ld,\"bytes\":%ld,\"p50_us\":%.2f,\"p99_us\":%.2f,"
	       "\"mean_us\":%.2f}\n",
	       n, size, t[n / 2], t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], sum / n);
	free(t);
	return 0;
}
