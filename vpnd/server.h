/* SPDX-License-Identifier: MIT */
/*
 * The server role: `vpnd -c server.conf`.  One interface terminating many
 * peers, forwarding their traffic and masquerading it through the egress
 * interface the config names.  Nothing about users is written anywhere:
 * peers live in memory only, and their names are never logged.
 */
#ifndef VPND_SERVER_H
#define VPND_SERVER_H

#include <stdbool.h>

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
