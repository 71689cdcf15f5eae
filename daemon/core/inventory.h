/* The host's inventory for schedulers: free ASIDs per type and what the platform
 * can run. GET /v1/inventory (api.c) answers it as JSON; `inventory_file` (--inventory-file)
 * keeps it as a node-feature-discovery local feature file, which nfd-worker turns into node
 * labels (NFD docs, usage/customization-guide.md "Local feature source": `<ns>/<name>=<value>`
 * lines, '#' comments, files starting with '.' ignored, at most 64 kB, to be replaced by a
 * rename).
 *
 * The file is the core's: a thread of its own calls sevd_inventory_file_update() every 250 ms,
 * which rewrites the file only when the ASID counts changed (a launch takes an ASID, a
 * decommission leaves it pending a flush, a flush frees it), the PSP's health or the platform
 * did, so the file follows every change within a second; and every 5 minutes, to renew its
 * expiry time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "daemon/core/asid.h"
#include "daemon/core/core.h"
#include "psp/sev-abi.h"

struct sevd_inventory_caps {
	bool sev;    /* plain-SEV ASIDs exist (CPUID 8000_001F EDX..ECX not empty) */
	bool sev_es; /* SEV-ES ASIDs exist and firmware was initialized with SEV-ES (INIT flags) */
	bool snp;    /* false until sevd drives SNP firmware (SNP_INIT, SNP_PLATFORM_STATUS) */
};

/* Shared by the JSON answer and the file, so that both say the same. */
static inline void sevd_inventory_caps(const struct sevd_asid_stats *s,
				       const struct sevd_platform_info *p,
				       struct sevd_inventory_caps *ret)
{
	ret->sev = s->sev.total > 0;
	ret->sev_es = s->es.total > 0 && (p->status.flags & SEV_PLATFORM_FLAG_CONFIG_ES);
	ret->snp = false;
}

/* The feature file's text for these counts, this platform (p NULL: not known, the
 * capabilities from the ASID ranges alone) and the PSP's health (amd.com/sev.psp_healthy),
 * valid until `expires` (NFD's `# +expiry-time=`; 0: no expiry). Returns the length, or
 * -ENOBUFS. */
int sevd_inventory_render(const struct sevd_asid_stats *s, const struct sevd_platform_info *p,
			  bool psp_healthy, time_t expires, char *buf, size_t size);

struct sevd_inventory_file;

/* path: the feature file; its directory must exist. Nothing is written yet. */
int sevd_inventory_file_new(struct sevd_core *core, const char *path,
			    struct sevd_inventory_file **ret);
/* Rewrite the file when something changed (or a write failed before); 1 when written, 0 when
 * nothing changed, negative errno when the write failed (logged once per failure run). */
int sevd_inventory_file_update(struct sevd_inventory_file *f);
/* Remove the file (sevd stops: the labels must not outlive the daemon that keeps them true),
 * then free. */
void sevd_inventory_file_free(struct sevd_inventory_file *f);
