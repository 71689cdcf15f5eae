/* Private to psp/: the operations table behind struct psp_transport, and the two constructors.
 * transport.c holds the public functions (locking, buffer-size checks against
 * sev_cmd_buffer_size(), *psp_ret bookkeeping) and dispatches to these ops. */
#pragma once

#include <pthread.h>

#include "psp/transport.h"

struct psp_transport_ops {
	const char *kind; /* "emu" / "dev" */
	/* Send one command; buf/len already checked against the command table. Return 0 and set
	 * *status to the firmware status, or a negative errno when firmware was not reached. */
	int (*issue)(struct psp_transport *t, uint32_t cmd, void *buf, size_t len, int *status);
	/* Several commands in one exchange (NULL: the transport has none; psp_issue_batch()
	 * answers -EOPNOTSUPP). Runs them in order, stopping after the first that does not answer
	 * SUCCESS; *ret_done: how many ran, each one's status in its entry. */
	int (*issue_batch)(struct psp_transport *t, struct psp_batch_cmd *cmds, const size_t *lens,
			   unsigned n, unsigned *ret_done);
	int (*dma_alloc)(struct psp_transport *t, size_t size, struct psp_buf *ret);
	void (*dma_free)(struct psp_transport *t, struct psp_buf *b);
	int (*map_memfd)(struct psp_transport *t, int memfd, uint64_t size, uint64_t *ret_base);
	int (*unmap_memfd)(struct psp_transport *t, uint64_t base);
	int (*get_cpuid)(struct psp_transport *t, struct psp_cpuid *ret);
	void (*close)(struct psp_transport *t);
};

struct psp_transport {
	const struct psp_transport_ops *ops;
	pthread_mutex_t lock; /* one command at a time, as Linux's sev_cmd_mutex */
	void *priv;	      /* the implementation's state */
};

/* Constructors: fill *ret (allocated by the caller with ops/lock set by transport.c). */
int psp_emu_open(const char *socket_path, struct psp_transport *t);
int psp_dev_open(const char *device_path, struct psp_transport *t);
