/* SPDX-License-Identifier: MIT */
/*
 * Counting and telling what the bounds refuse (bounds.h).  Refusals come
 * in floods, so the log line is rate-limited per kind; the counters are
 * exact.
 */
#include <stdio.h>

#include "bounds.h"
#include "device.h"
#include "uapi.h"

static const struct {
	const char *stat;	/* after "bound_" in stats=1 */
	const char *what;	/* for the log line */
	const char *action;
} bound_info[BOUND_KINDS] = {
	[BOUND_PEER_STAGED] = { "peer_staged",
		"packets staged for one peer", "dropping the oldest" },
	[BOUND_STAGED] = { "staged",
		"packets staged for all peers",
		"dropping the peer's oldest, or the new one if it has none" },
	[BOUND_RATELIMITER] = { "ratelimiter",
		"handshake sources tracked under load",
		"refusing new sources" },
	[BOUND_UAPI_CONNS] = { "uapi_conns",
		"UAPI connections", "closing new ones" },
	[BOUND_UAPI_IDLE] = { "uapi_idle",
		"seconds without a byte on a UAPI connection",
		"closing it" },
	[BOUND_CONTROL_CONNS] = { "control_conns",
		"control connections", "closing new ones" },
	[BOUND_CONTROL_IDLE] = { "control_idle",
		"seconds without a byte on a control connection",
		"closing it" },
	[BOUND_FLEET_MESSAGE] = { "fleet_message",
		"bytes in one etcd watch message", "dropping the watch" },
};

void bound_hits(struct device *dev, enum bound_kind k, unsigned long limit,
		uint64_t n, uint64_t now)
{
	struct bounds *b = &dev->bounds;
	const uint64_t interval = (uint64_t)BOUNDS_LOG_INTERVAL_S * 1000000000;

	if (!n)
		return;
	b->hits[k] += n;
	if (b->logged_at[k] && now - b->logged_at[k] < interval)
		return;
	if (!b->logged_at[k])
		log_msg(dev, LOG_LEVEL_ERROR, "limit reached: %lu %s; %s",
			limit, bound_info[k].what, bound_info[k].action);
	else
		log_msg(dev, LOG_LEVEL_ERROR,
			"limit reached: %lu %s; %s (%llu times in the last %u s)",
			limit, bound_info[k].what, bound_info[k].action,
			(unsigned long long)(b->hits[k] - b->hits_logged[k]),
			(unsigned int)((now - b->logged_at[k]) / 1000000000));
	b->logged_at[k] = now ? now : 1;
	b->hits_logged[k] = b->hits[k];
}

int bounds_stats_write(const struct bounds *b, struct uapi_writer *w)
{
	char name[48];
	int ret = 0;

	for (int k = 0; k < BOUND_KINDS && !ret; k++) {
		snprintf(name, sizeof(name), "bound_%s", bound_info[k].stat);
		ret = uapi_write_stat(w, name, b->hits[k]);
	}
	return ret;
}
