/* Recent firmware failures (the status page): a small ring of the last
 * SEVD_FW_ERRORS_MAX firmware commands that did not answer SUCCESS, fed by the core where it
 * records every command's outcome (core.c fw_done) and read by SEVD_OP_FW_ERRORS. Privileged
 * side of the seam; holds no secrets (command id, status, time). One ring per process: sevd
 * runs one core. */
#pragma once

#include <stdint.h>

#include "daemon/core/core.h"

/* A firmware command finished: r == 0 is ignored; -EIO with the firmware's status, anything
 * else is a transport failure (status SEV_STATUS_NO_FW_CALL). Thread-safe, never blocks on
 * I/O. */
void sevd_fwerrors_note(uint32_t cmd, int r, int psp_ret);
/* SEVD_OP_FW_ERRORS: newest first into rep->u.fw_errors (no firmware). */
void sevd_fwerrors_op(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep);
