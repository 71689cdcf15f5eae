/* The status page's files (the .html, .css and .js of daemon/worker/ui/), embedded into sevd at
 * build time by daemon/worker/ui/embed.py (a meson custom_target writes ui-assets.c): sevd serves
 * them from memory and needs no files or network at run time. */
#pragma once

#include <stddef.h>

struct sevd_ui_asset {
	const char *name;	  /* file name in daemon/worker/ui/ */
	const char *content_type; /* from the extension */
	const unsigned char *data;
	size_t len;
};

extern const struct sevd_ui_asset sevd_ui_assets[];
extern const size_t sevd_ui_n_assets;
