/* The public transport functions: spec parsing, the one lock, command-buffer size checks
 * against the command table, and the two error channels (return value = -errno, firmware
 * status in *psp_ret, which starts at NO_FW_CALL), as Linux's __sev_do_cmd_locked() does.
 * Implementations (psp-dev.c, psp-emu.c) sit behind the ops table of psp-internal.h and are
 * always called with t->lock held, so they never see two requests at once.
 * Trusts: the implementation's ops; not the caller's spec string or buffer pointers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macros.h"
#include "psp/psp-internal.h"
#include "psp/sev-abi.h"
#include "psp/transport.h"

#define PSP_DEFAULT_DEVICE "/dev/sev"

typedef int (*psp_ctor)(const char *arg, struct psp_transport *t);


/* Split "kind[:arg]" into a constructor and its argument. */
static int parse_spec(const char *spec, psp_ctor *ret_ctor, const char **ret_arg)
{
	static const struct {
		const char *prefix;
		psp_ctor ctor;
		const char *bare_default; /* argument when the spec is the bare kind */
	} kinds[] = {
		{ "emu", psp_emu_open, NULL },
		{ "dev", psp_dev_open, PSP_DEFAULT_DEVICE },
	};

	if (!spec)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
		size_t n = strlen(kinds[i].prefix);

		if (strncmp(spec, kinds[i].prefix, n) != 0)
			continue;
		if (spec[n] == '\0' && kinds[i].bare_default) {
			*ret_ctor = kinds[i].ctor;
			*ret_arg = kinds[i].bare_default;
			return 0;
		}
		if (spec[n] != ':' || spec[n + 1] == '\0')
			return -EINVAL; /* "emu", "emu:", "dev:", "devX" */
		*ret_ctor = kinds[i].ctor;
		*ret_arg = spec + n + 1;
		return 0;
	}
	return -EINVAL;
}

int psp_open(const char *spec, struct psp_transport **ret)
{
	psp_ctor ctor;
	const char *arg;
	int r;

	if (!ret)
		return -EINVAL;
	r = parse_spec(spec, &ctor, &arg);
	if (r < 0)
		return r;

	_cleanup_free_ struct psp_transport *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	r = pthread_mutex_init(&t->lock, NULL);
	if (r != 0)
		return -r;
	r = ctor(arg, t);
	if (r < 0 || !t->ops) {
		pthread_mutex_destroy(&t->lock);
		return r < 0 ? r : -EPROTO;
	}
	*ret = TAKE_PTR(t);
	return 0;
}

void psp_close(struct psp_transport *t)
{
	if (!t)
		return;
	if (t->ops && t->ops->close)
		t->ops->close(t);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

const char *psp_transport_kind(const struct psp_transport *t)
{
	return t && t->ops ? t->ops->kind : NULL;
}

/* The buffer a command needs, from the one command table (sev_cmd_buffer_size()). */
static int check_buffer(uint32_t cmd, const void *buf, size_t *ret_len)
{
	int size = sev_cmd_buffer_size(cmd);

	if (size < 0)
		/* A named id without a buffer size (none today) is not sendable. */
		return sev_cmd_name(cmd) ? -EOPNOTSUPP : -EINVAL;
	if ((size == 0) != (buf == NULL))
		return -EINVAL;
	*ret_len = (size_t)size;
	return 0;
}

int psp_issue(struct psp_transport *t, uint32_t cmd, void *buf, int *psp_ret)
{
	int status = SEV_STATUS_NO_FW_CALL;
	size_t len = 0;
	int r;

	if (psp_ret)
		*psp_ret = SEV_STATUS_NO_FW_CALL;
	if (!t || !t->ops)
		return -EINVAL;
	r = check_buffer(cmd, buf, &len);
	if (r < 0)
		return r;

	pthread_mutex_lock(&t->lock);
	r = t->ops->issue(t, cmd, buf, len, &status);
	pthread_mutex_unlock(&t->lock);

	if (r < 0) {
		/* Did not reach firmware: whatever the op left in status is not an answer. */
		log_debug("psp: %s via %s: %s", sev_cmd_name(cmd), t->ops->kind, strerror(-r));
		return r;
	}
	if (psp_ret)
		*psp_ret = status;
	if (status != SEV_STATUS_SUCCESS) {
		log_debug("psp: %s via %s: firmware answered %s", sev_cmd_name(cmd), t->ops->kind,
			  sev_status_name(status));
		return -EIO;
	}
	return 0;
}

int psp_issue_batch(struct psp_transport *t, struct psp_batch_cmd *cmds, unsigned n,
		    unsigned *ret_done)
{
	size_t lens[PSP_BATCH_MAX];
	int r;

	*ret_done = 0;
	if (!t || !t->ops || !cmds || n == 0 || n > PSP_BATCH_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		cmds[i].psp_ret = SEV_STATUS_NO_FW_CALL;
		r = check_buffer(cmds[i].cmd, cmds[i].buf, &lens[i]);
		if (r < 0)
			return r;
	}
	if (!t->ops->issue_batch)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&t->lock);
	r = t->ops->issue_batch(t, cmds, lens, n, ret_done);
	pthread_mutex_unlock(&t->lock);
	if (r < 0) {
		log_debug("psp: a batch of %u via %s: %s", n, t->ops->kind, strerror(-r));
		*ret_done = 0;
		return r;
	}
	if (*ret_done < n || cmds[n - 1].psp_ret != SEV_STATUS_SUCCESS) {
		const struct psp_batch_cmd *f = &cmds[*ret_done ? *ret_done - 1 : 0];

		log_debug("psp: %s via %s (command %u of a batch of %u): firmware answered %s",
			  sev_cmd_name(f->cmd), t->ops->kind, *ret_done, n,
			  sev_status_name(f->psp_ret));
		return -EIO;
	}
	return 0;
}

/* Memory and CPUID requests share the transport's channel (the emulator's socket), so they
 * take the same lock as commands. */
int psp_dma_alloc(struct psp_transport *t, size_t size, struct psp_buf *ret)
{
	int r;

	if (!t || !t->ops || !ret || size == 0)
		return -EINVAL;
	*ret = (struct psp_buf){ 0 };
	pthread_mutex_lock(&t->lock);
	r = t->ops->dma_alloc(t, size, ret);
	pthread_mutex_unlock(&t->lock);
	if (r < 0)
		return r;
	memset(ret->ptr, 0, size);
	return 0;
}

void psp_dma_free(struct psp_transport *t, struct psp_buf *b)
{
	if (!t || !t->ops || !b || !b->ptr)
		return;
	pthread_mutex_lock(&t->lock);
	t->ops->dma_free(t, b);
	pthread_mutex_unlock(&t->lock);
	*b = (struct psp_buf){ 0 };
}

int psp_map_memfd(struct psp_transport *t, int memfd, uint64_t size, uint64_t *ret_base)
{
	int r;

	if (!t || !t->ops || memfd < 0 || size == 0 || !ret_base)
		return -EINVAL;
	if (!t->ops->map_memfd)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&t->lock);
	r = t->ops->map_memfd(t, memfd, size, ret_base);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int psp_unmap_memfd(struct psp_transport *t, uint64_t base)
{
	int r;

	if (!t || !t->ops)
		return -EINVAL;
	if (!t->ops->unmap_memfd)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&t->lock);
	r = t->ops->unmap_memfd(t, base);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int psp_get_cpuid(struct psp_transport *t, struct psp_cpuid *ret)
{
	int r;

	if (!t || !t->ops || !ret)
		return -EINVAL;
	*ret = (struct psp_cpuid){ 0 };
	pthread_mutex_lock(&t->lock);
	r = t->ops->get_cpuid(t, ret);
	pthread_mutex_unlock(&t->lock);
	return r;
}
