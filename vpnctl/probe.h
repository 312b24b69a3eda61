/* SPDX-License-Identifier: MIT */
/*
 * vpnctl's own probe of the servers, for when vpnd is not running
 * (probe.c), and the reply form both it and the daemon give the results.
 */
#ifndef VPNCTL_PROBE_H
#define VPNCTL_PROBE_H

#include "../vpnd/servers.h"
#include "ctl.h"

/* "ADDR:PORT" or "[ADDR]:PORT", as the daemon writes endpoints. */
void probe_endpoint_text(const union conf_endpoint *e, char *buf,
			 size_t len);

/* Ranked results as probe=1's reply groups: server, country, city,
 * endpoint, rtt_us (absent: no answer).  0 or -errno. */
int probe_results_to_reply(const struct servers_result *r, size_t n,
			   struct ctl_reply *out);

/*
 * Probes the servers of @profile's list in the selection; @timeout_ms 0
 * takes the profile's probe_timeout_ms.  An exit code, its message printed.
 */
int probe_locally(const char *profile, enum conf_select kind,
		  const char *value, unsigned int timeout_ms,
		  struct ctl_reply *out);

#endif /* VPNCTL_PROBE_H */
