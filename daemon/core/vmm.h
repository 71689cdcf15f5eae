/* The VMM socket (STATE_DIR/vmm.sock, beside the grant stream's control.sock, mode 0600):
 * SEV-SNP guest requests VMMs forward for their guests (frames: hv-glue/vmm-msg.h), as KVM's
 * SNP_GUEST_REQUEST exit and KVM_EXIT_SNP_REQ_CERTS do. Each request is checked (root peer,
 * a known SNP guest, RUNNING, a certificate buffer large enough) and the message goes to
 * firmware as SNP_GUEST_REQUEST on the firmware thread; sevd never sees a VMPCK or a
 * plaintext message, only the guest's encrypted pages. Privileged side; trusts nothing the
 * VMM sends until hv_vmm_req_parse() accepted it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct sevd_core;
struct sevd_guests;
struct sevd_vmm;

/* Listen on path (0600) and serve connections on threads of their own. */
int sevd_vmm_start(struct sevd_core *core, struct sevd_guests *gs, const char *path,
		   struct sevd_vmm **ret);
/* Stop accepting, end every connection and wait for their threads (before the queue goes). */
void sevd_vmm_stop(struct sevd_vmm *v);
void sevd_vmm_free(struct sevd_vmm *v);
/* sevd_vmm_requests_total (Prometheus text) into buf: the length, or -ENOBUFS. */
int sevd_vmm_render_metrics(struct sevd_vmm *v, char *buf, size_t size);
