/* SPDX-License-Identifier: MIT */
/*
 * The server role: `vpnd -c server.conf`.  One interface terminating many
 * peers, forwarding their traffic and masquerading it through the egress
 * interface the config names.  Nothing about users is written anywhere:
 * peers live in memory only, an idle peer's endpoint and handshake time are
 * forgotten (forget.c), and log lines name peers by their config name.
 */
#ifndef VPND_SERVER_H
#define VPND_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "conf.h"
#include "netlink.h"

struct device;
struct fleet;
struct firewall;

enum server_limits {
	SERVER_SYSCTLS = 4,
};

/* A sysctl we changed, with what it held before. */
struct server_sysctl {
	char path[128];
	char old[16];
	bool changed;
};

struct server {
	struct device *dev;
	/* Once a second: forget idle peers, log new sessions (forget.c). */
	ev_timer forget_w;
	bool forget_armed;
	uint64_t lifetime;		/* ns a session lasts, for the rule */
	uint64_t last_scan;		/* monotonic ns of the previous scan */
	struct conf_server *conf;
	struct netlink *nl;
	struct firewall *fw;
	struct fleet *fleet;		/* [fleet]: users from etcd */
	bool nat_up;
	bool nat_failed;
	unsigned int addresses_added;
	struct server_sysctl sysctl[SERVER_SYSCTLS];
};

/* Loads and checks the config before anything changes; 0 or -errno. */
int server_load(struct server *s, const char *path);
/* Configures the device and the system; undoes itself on failure. */
int server_start(struct server *s, struct device *dev);
void server_stop(struct server *s);

#endif /* VPND_SERVER_H */
