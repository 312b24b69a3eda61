/* SPDX-License-Identifier: MIT */
/*
 * The client role: `vpnd -c client.conf`.  The daemon owns the whole
 * connection (the tunnel's addresses, routes and rules, DNS, the single
 * server peer) and answers vpnctl on a control socket whose protocol is
 * docs/control.md.
 */
#ifndef VPND_CONTROL_H
#define VPND_CONTROL_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "ctlproto.h"	/* CONTROL_GROUP */
#include "dns.h"
#include "killswitch.h"
#include "ksfile.h"
#include "netchange.h"
#include "netlink.h"
#include "resolved.h"
#include "servers.h"
#include "splitnet.h"
#include "splitapp.h"

struct device;
struct control_conn;

enum client_state {
	CLIENT_DISCONNECTED,
	CLIENT_CONNECTING,
	CLIENT_CONNECTED,
	CLIENT_ERROR,
};

enum client_values {
	/* The mark on our UDP socket, and the number of our routing table. */
	CLIENT_FWMARK = 0x5670,
	CLIENT_TABLE = 0x5670,
	/* The tunnel's defaults alone, for split tunneling's tunnel group
	 * (netlink_tunnel.app_table). */
	CLIENT_APP_TABLE = 0x5672,
	CLIENT_DEFAULT_MTU = 1420,
	CLIENT_UP_TIMEOUT_MS = 10000,
	CLIENT_MAX_CONNS = 16,
	/* A connection that moves no byte either way for this long, while
	 * no up or probe of its own is under way, is closed: vpnctl sends
	 * its request at once and reads the reply at once, and a client
	 * that does neither must not keep a slot from root's vpnctl. */
	CLIENT_CONN_IDLE_MS = 10000,
	CLIENT_FAILOVER_TICK_MS = 500,
};

/* A new initiation to a server we are still trying goes out only this
 * long after the last one: five times the protocol's flood interval
 * (1/50 s), so that the two never reach the server within it. */
#define CLIENT_REINITIATE_GAP_NS (100ULL * 1000 * 1000)

struct client {
	struct device *dev;
	char profile_path[256];
	char rundir[128];
	struct conf_client *conf;
	struct conf_servers *servers;
	const struct conf_server_entry *server;	/* while up */
	enum client_state state;
	char error[160];

	struct netlink *nl;
	struct netlink_tunnel tunnel;
	/* What tunnel.inside points at: filled with it in bring_up. */
	struct netlink_prefix inside[NETLINK_INSIDE_MAX];
	bool routing_up;
	unsigned int addresses_added;
	/* Split tunneling by network: the set in force (the profile's until
	 * vpnctl split changes it), and the one whose routes are in the
	 * tunnel's table (none while routing is down). */
	struct splitnet_set split;
	struct splitnet_set split_routed;
	struct dns_state dns;
	/* How DNS is set while up: chosen at each up, by whether
	 * systemd-resolved runs then (resolved.c), else resolv.conf. */
	enum client_dns { CLIENT_DNS_NONE, CLIENT_DNS_RESOLV_CONF,
			  CLIENT_DNS_RESOLVED } dns_method;
	struct resolved_state resolved;
	struct netchange nc;		/* following the network (netchange.c) */

	struct firewall *fw;
	int lock_fd;			/* ksfile_lock() */
	bool first_run;			/* ksfile_lock() made the lock file */
	struct killswitch ks;
	bool ks_ready;
	/* The kill switch as it stands, and as the state file keeps it:
	 * the profile's kill_switch and allow_lan until vpnctl changes
	 * them (ksfile.h). */
	struct ksfile ksf;
	struct killswitch_arp arp;	/* arp_ignore while up */

	uint64_t up_started;		/* ns, device_now() */
	uint64_t up_timeout;		/* ns */
	ev_timer poll_w;		/* watches for the first handshake */
	bool exit_after_reply;
	bool notify_pending;		/* READY=1 waits for the first handshake */

	/* Server choice (servers.c): how the server in use was chosen, and
	 * the round trip it had then (-1: not measured). */
	enum conf_select select;
	char *select_value;
	int64_t server_rtt_ns;
	/* A probe in flight (probing; probe is NULL when only the server in
	 * use matched), its selection, and what the firewall lets through
	 * for it. */
	bool probing;
	enum conf_select probe_selection;
	char *probe_value;
	uint64_t probe_sent_at;
	struct servers_probe *probe;
	struct killswitch_endpoint *probe_ep;
	unsigned int n_probe_ep;
	ev_io probe_io[2];
	ev_timer probe_timer;
	bool probe_for_up;		/* an up waits for it to choose */
	bool probe_for_failover;	/* the failover waits for it */
	/* The server an up chose, waiting for the probe's handshake with it
	 * to be far enough in the past (CLIENT_REINITIATE_GAP_NS). */
	const struct conf_server_entry *chosen;
	int64_t chosen_rtt_ns;
	bool chosen_by_failover;
	ev_timer chosen_timer;
	/* Failover (servers.h): checked every CLIENT_FAILOVER_TICK_MS. */
	struct servers_failover failover;
	ev_timer failover_w;
	char failover_reason[160];	/* the last one's */
	int64_t failover_time;		/* Unix seconds; 0: none yet */

	/* Split tunneling by application (splitapp.h): active from the
	 * first exec or pid add, or from a start that found the cgroups of
	 * a daemon that died, until down. */
	struct splitapp sa;

	int ctl_fd;
	char ctl_path[160];
	ev_io ctl_w;
	struct control_conn *conns;
	unsigned int nconns;
};

/*
 * Loads and checks the profile and its server list, before anything on the
 * system changes; 0 or -errno, with the message on stderr.
 */
int client_load(struct client *c, const char *profile);
/* Opens the control socket on the device the profile will drive. */
int client_start(struct client *c, struct device *dev);
/*
 * vpnd --up: connects to the profile's server at start, as `vpnctl up`
 * would; READY=1 (notify.h) follows the first handshake or the bounded
 * wait for it.  0 once trying, or -errno with the message on stderr.
 */
int client_connect(struct client *c);
/* Undoes whatever up did and closes the socket; the connections stay
 * open, their watchers stopped, until client_free(). */
void client_stop(struct client *c);
/* Closes the connections (their clients' end-of-file: the daemon is gone)
 * and frees c; after the device is destroyed. */
void client_free(struct client *c);

/*
 * For the boot unit: blocks, from the state file alone, when a daemon
 * starting now would (lockdown, a hold, a missing or corrupt file), unless
 * a kill switch table is already there.  0 or -errno, with a message.
 */
int client_killswitch_boot(void);

#endif /* VPND_CONTROL_H */
