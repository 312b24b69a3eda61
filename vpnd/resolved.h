/* SPDX-License-Identifier: MIT */
/*
 * DNS through systemd-resolved, over D-Bus (sd-bus): the tunnel link gets
 * the profile's resolvers, the routing domain "~." and DefaultRoute, so
 * that every query goes to them and to no other link's; RevertLink undoes
 * it.  A record under the runtime directory lets the next start revert
 * what a killed daemon left on a link that outlived it.
 */
#ifndef VPND_RESOLVED_H
#define VPND_RESOLVED_H

#include <stdbool.h>

#include "conf.h"
#include "resolved_sdbus.h"

enum {
	RESOLVED_CALL_TIMEOUT_MS = 2000,
	/* resolved learns a new link from rtnetlink: a call may come first. */
	RESOLVED_LINK_WAIT_MS = 1000,
};

struct resolved_state {
	char record[256];	/* $VPND_RUNDIR/IFNAME.resolved */
	char ifname[16];
	int ifindex;		/* the link we configured; 0: none */
	char err[160];		/* what the last failure was */
	struct resolved_sdbus sd;	/* sd-bus, opened at the first call */
	bool sd_open;
};

void resolved_init(struct resolved_state *r, const char *rundir,
		   const char *ifname);
/* Whether systemd-resolved owns its name on the system bus now (false
 * too when libsystemd cannot be loaded: r->err says so). */
bool resolved_running(struct resolved_state *r);
/* The tunnel's resolvers, "~." and DefaultRoute on @ifindex: 0 or -errno
 * (r->err says what), having reverted whatever part was done. */
int resolved_apply(struct resolved_state *r, int ifindex,
		   const struct conf_prefix *servers, unsigned int n);
/* RevertLink on the link configured; 0 or -errno. */
int resolved_revert(struct resolved_state *r);
/* After a crash: reverts the recorded link if it is still ours. */
int resolved_recover(struct resolved_state *r);

#endif /* VPND_RESOLVED_H */
