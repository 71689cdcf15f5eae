/* `sevadm verify report --ref` on a report the emulator signed (shared by test-emu-snp-report):
 * a reference built from the report's own fields holds; each field changed alone fails that
 * check only. */
#pragma once

#include <stdbool.h>

#include "attest/snp-report.h"

/* dir holds report.bin, good/{vcek.der,cert_chain} and ark.der (the emulator's root). */
void emu_appraise(const char *dir, const struct snp_report *r);
