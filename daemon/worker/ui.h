/* The status page: GET /ui and its two static assets carry no data and are public;
 * GET /ui/state is the page's data, for readers and above (the page sends the bearer token
 * it was given in the URL fragment, or the browser's TLS client certificate does). Handlers
 * of the route table (api.c); unprivileged side of the seam (core.h). */
#pragma once

#include "daemon/worker/api.h"

void sevd_ui_page(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_ui_css(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_ui_js(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_ui_state(const struct sevd_api_request *req, struct sevd_api_response *resp);
