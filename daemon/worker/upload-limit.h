/* How many image uploads run at once (sixteen slow uploads held all 16 core
 * channels and froze the API). An upload is admitted before its first core request
 * (api-guest.c) while fewer than `upload_limit` run in all and fewer than
 * `upload_limit_per_principal` for its caller (the credential: a token, a certificate's
 * subject, a Unix uid); otherwise it waits up to `channel_wait` for one to end and is then
 * refused with 429 `upload_limit`, naming the limit and the key in sevd.conf. Worker side;
 * trusts its caller's evidence as the listener read it. Unlimited until configured (tests
 * and fuzzers that run the API in one process). */
#pragma once

struct sevd_caller;
struct sevd_api_response;

/* total 0: no limit. per_principal <= total; wait_ms: how long an upload waits for a slot. */
void sevd_upload_limit_set(unsigned total, unsigned per_principal, unsigned wait_ms);
/* 0 and *ret_ticket (-1 when unlimited), or -EUSERS with the 429 answer in resp. */
int sevd_upload_admit(const struct sevd_caller *caller, struct sevd_api_response *resp,
		      int *ret_ticket);
/* The upload of that ticket ended (-1: nothing). */
void sevd_upload_release(int ticket);
