/* libFuzzer target: sevd.conf text (daemon/sevd-config.c). The file is root-owned on a real
 * host, but a bad line must never crash the daemon: every value is checked and named. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon/sevd-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sevd_config c;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	log_set_max_level(-1); /* quiet: the fuzzer makes millions of bad lines */
	sevd_config_init(&c);
	(void)sevd_config_parse(&c, text, "fuzz");
	sevd_config_done(&c);
	free(text);
	return 0;
}
