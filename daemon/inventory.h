/* The host's inventory for schedulers (issue 26): free ASIDs per type and what the platform
 * can run, as GET /v1/inventory (api.c) answers it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "daemon/asid.h"
#include "daemon/core.h"
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
