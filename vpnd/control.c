/* SPDX-License-Identifier: MIT */
/*
 * The client role's state machine and its control socket.
 *
 * up:   server peer with 0.0.0.0/0 and ::/0, our key and fwmark, addresses
 *       and MTU, link up, policy routing (netlink.c), DNS (dns.c), then an
 *       initiation; the reply waits for the first handshake or a timeout.
 * down: the same steps undone in reverse order, then the daemon exits and
 *       its interface goes with it.
 *
 * Every step that changes the system is recorded as it succeeds, so that a
 * failure half-way undoes exactly what was done and nothing else.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "ctlproto.h"
#include "device.h"
#include "env.h"
#include "fdio.h"
#include "firewall.h"
#include "notify.h"
#include "peer.h"
#include "rundir.h"
#include "send.h"
#include "splitroute.h"

enum {
	CONTROL_LINE_MAX = 4096,
	CONTROL_IN_MAX = 16384,
	/* A reply buffer grown past this is freed once it is sent, so that
	 * an idle connection does not keep a server list's worth. */
	CONTROL_OUT_KEEP = 65536,
	CONTROL_POLL_MS = 50,
};

/* Who is at the other end of a connection, by SO_PEERCRED. */
enum control_peer {
	CONTROL_PEER_OTHER,	/* neither: refused at accept */
	CONTROL_PEER_GROUP,	/* a member of the group vpnd */
	CONTROL_PEER_ROOT,
};

struct control_conn {
	ev_io w;
	ev_timer idle_w;	/* CLIENT_CONN_IDLE_MS without a byte moved */
	int fd;
	struct client *c;
	enum control_peer peer;
	uid_t uid;
	char in[CONTROL_IN_MAX];
	size_t in_len;
	char *out;
	size_t out_len, out_cap;
	bool waiting_up;	/* an up=1 whose reply waits for a handshake */
	bool waiting_probe;	/* a probe=1 whose reply waits for answers */
	bool closing;
	int out_err;		/* a line of this reply was left out: why */
	size_t reply_start;	/* where in out the reply being made begins */
	struct ucred cred;	/* the peer, as it connected (SO_PEERCRED) */
	struct control_conn *next;
};

static const char *state_name(enum client_state s)
{
	switch (s) {
	case CLIENT_CONNECTING:
		return "connecting";
	case CLIENT_CONNECTED:
		return "connected";
	case CLIENT_ERROR:
		return "error";
	default:
		return "disconnected";
	}
}

/* Replies. */

/*
 * Appends to the reply.  Past CONTROL_REPLY_MAX, or without memory, the
 * reply's lines so far are dropped, and so are the ones after, so that
 * out_end() ends it with only why and errno, never as a reply that lacks
 * lines; the closing lines themselves may go past the bound.
 */
static void out_append(struct control_conn *cn, const char *line, size_t n,
		       bool closing)
{
	if (!closing && cn->out_err)
		return;
	if (!closing && cn->out_len + n > CONTROL_REPLY_MAX) {
		/* None of its lines, then: only why, and errno. */
		cn->out_err = -EMSGSIZE;
		cn->out_len = cn->reply_start;
		return;
	}
	if (cn->out_len + n > cn->out_cap) {
		size_t cap = cn->out_cap ? cn->out_cap * 2 : 1024;
		char *o;

		while (cap < cn->out_len + (size_t)n)
			cap *= 2;
		o = realloc(cn->out, cap);
		if (!o) {
			cn->out_err = -ENOMEM;
			cn->out_len = cn->reply_start;
			return;
		}
		cn->out = o;
		cn->out_cap = cap;
	}
	memcpy(cn->out + cn->out_len, line, n);
	cn->out_len += n;
}

static void out_vformat(struct control_conn *cn, bool closing,
			const char *fmt, va_list ap)
{
	char line[CONTROL_LINE_MAX];
	int n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	out_append(cn, line, (size_t)n, closing);
}

static void out_add(struct control_conn *cn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_add(struct control_conn *cn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	out_vformat(cn, false, fmt, ap);
	va_end(ap);
}

static void out_close(struct control_conn *cn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_close(struct control_conn *cn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	out_vformat(cn, true, fmt, ap);
	va_end(ap);
}

/*
 * Ends the reply: its message and errno.  A reply that outgrew
 * CONTROL_REPLY_MAX ends as an error, whatever it was to say, so that no
 * client takes the lines it holds for all of them.
 */
static void out_end(struct control_conn *cn, int err, const char *message)
{
	if (cn->out_err == -EMSGSIZE)
		out_close(cn, "message=the reply would be longer than %d bytes\n",
			  CONTROL_REPLY_MAX);
	else if (cn->out_err)
		out_close(cn, "message=out of memory for the reply\n");
	if (cn->out_err) {
		err = cn->out_err;
		cn->out_err = 0;
	} else if (message && *message) {
		out_close(cn, "message=%s\n", message);
	}
	out_close(cn, "errno=%d\n\n", err);
	cn->reply_start = cn->out_len;
}

static void format_endpoint(char *buf, size_t len, const union conf_endpoint *e)
{
	char a[INET6_ADDRSTRLEN];

	if (e->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &e->in6.sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(e->in6.sin6_port));
	} else {
		inet_ntop(AF_INET, &e->in4.sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(e->in4.sin_port));
	}
}

static void format_prefix(char *buf, size_t len, const struct conf_prefix *p,
			  bool with_len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family, &p->addr, a, sizeof(a));
	if (with_len)
		snprintf(buf, len, "%s/%u", a, p->cidr);
	else
		snprintf(buf, len, "%s", a);
}

static struct peer *server_peer(const struct client *c)
{
	return c->dev->peers.head;
}

static const char *dns_method_name(enum client_dns m)
{
	switch (m) {
	case CLIENT_DNS_RESOLVED:
		return "systemd-resolved";
	case CLIENT_DNS_RESOLV_CONF:
		return "resolv.conf";
	default:
		return "none";
	}
}

static void add_connection_lines(struct client *c, struct control_conn *cn)
{
	char buf[128];

	out_add(cn, "state=%s\n", state_name(c->state));
	out_add(cn, "interface=%s\n", c->dev->ifname);
	if (c->server) {
		out_add(cn, "server=%s\n", c->server->id);
		format_endpoint(buf, sizeof(buf), &c->server->endpoint);
		out_add(cn, "endpoint=%s\n", buf);
		out_add(cn, "selection=%s\n",
			servers_selection_text(c->select, c->select_value, buf,
					       sizeof(buf)));
		out_add(cn, "failovers=%u\n", c->failover.count);
		if (c->failover_time) {
			out_add(cn, "last_failover_reason=%s\n",
				c->failover_reason);
			out_add(cn, "last_failover_time=%lld\n",
				(long long)c->failover_time);
		}
	}
	if (c->state != CLIENT_DISCONNECTED)
		out_add(cn, "dns_method=%s\n", dns_method_name(c->dns_method));
	if (c->nc.watching)
		out_add(cn, "network=%s\n",
			netchange_offline(c) ? "waiting" : "up");
	if (c->state != CLIENT_DISCONNECTED)
		for (unsigned int i = 0; i < c->conf->n_address; i++) {
			format_prefix(buf, sizeof(buf), &c->conf->address[i],
				      true);
			out_add(cn, "address=%s\n", buf);
		}
}

/* Bringing the tunnel up and down. */

static void set_error(struct client *c, const char *what, int err)
{
	snprintf(c->error, sizeof(c->error), "%s: %s", what,
		 c->nl && *netlink_strerror(c->nl) ? netlink_strerror(c->nl) :
						     strerror(-err));
}

static void arp_set(struct client *c, bool want);

/* DNS for the tunnel: systemd-resolved when it runs now, else resolv.conf. */
static int dns_do(struct client *c)
{
	int ret;

	if (!c->conf->n_dns)
		return 0;
	if (resolved_running(&c->resolved)) {
		ret = resolved_apply(&c->resolved, c->dev->ifindex,
				     c->conf->dns, c->conf->n_dns);
		if (ret) {
			snprintf(c->error, sizeof(c->error), "setting DNS: %.140s",
				 c->resolved.err);
			return ret;
		}
		c->dns_method = CLIENT_DNS_RESOLVED;
		return 0;
	}
	ret = dns_apply(&c->dns, c->conf->dns, c->conf->n_dns);
	if (ret) {
		set_error(c, "setting DNS", ret);
		return ret;
	}
	c->dns_method = CLIENT_DNS_RESOLV_CONF;
	return 0;
}

static void dns_undo(struct client *c)
{
	struct device *dev = c->dev;
	int ret;

	if (c->dns_method == CLIENT_DNS_RESOLVED) {
		ret = resolved_revert(&c->resolved);
		if (ret)
			log_msg(dev, LOG_LEVEL_ERROR, "%s", c->resolved.err);
	} else {
		ret = dns_restore(&c->dns);
		if (ret)
			log_msg(dev, LOG_LEVEL_ERROR, "cannot restore %s: %s",
				c->dns.path, strerror(-ret));
	}
	c->dns_method = CLIENT_DNS_NONE;
}

static void teardown(struct client *c)
{
	struct device *dev = c->dev;
	int ifindex = dev->ifindex;

	ev_timer_stop(dev->loop, &c->poll_w);
	netchange_stop(c);
	dns_undo(c);
	/* Before the tunnel's rule goes: an include mode's throws must not
	 * outlive the routes into the tunnel that they surround. */
	if (splitroute_flush(c->nl, CLIENT_TABLE))
		log_msg(dev, LOG_LEVEL_ERROR, "split routes: %s",
			netlink_strerror(c->nl));
	memset(&c->split_routed, 0, sizeof(c->split_routed));
	if (c->routing_up && !netlink_tunnel_routing_down(c->nl, &c->tunnel))
		c->routing_up = false;
	while (c->addresses_added) {
		const struct conf_prefix *a =
			&c->conf->address[--c->addresses_added];
		struct netlink_prefix p;

		netlink_prefix_set(&p, a->family, &a->addr, a->cidr);
		netlink_addr_del(c->nl, ifindex, &p);
	}
	netlink_link_set_up(c->nl, ifindex, false);
	device_remove_all_peers(dev);
	arp_set(c, false);
	c->server = NULL;
	c->state = CLIENT_DISCONNECTED;
}

_Static_assert(KILLSWITCH_ADDR_MAX + KILLSWITCH_DNS_MAX <= NETLINK_INSIDE_MAX,
	       "every address and resolver must fit in the inside prefixes");

/* The kill switch's view of the client in a given phase. */
static void ks_fill(const struct client *c, enum killswitch_phase phase,
		    const struct conf_server_entry *server,
		    struct killswitch_state *st)
{
	unsigned int i;

	memset(st, 0, sizeof(*st));
	st->mode = c->ksf.mode;
	st->phase = phase;
	st->tunnel_ifname = c->dev->ifname;
	st->fwmark = CLIENT_FWMARK;
	st->allow_lan = c->ksf.allow_lan;
	if (server)
		killswitch_endpoint_from_sockaddr(
			&st->server, &server->endpoint.sa,
			server->endpoint.sa.sa_family == AF_INET6 ?
				sizeof(struct sockaddr_in6) :
				sizeof(struct sockaddr_in));
	for (i = 0; i < c->conf->n_address && i < KILLSWITCH_ADDR_MAX; i++) {
		const struct conf_prefix *a = &c->conf->address[i];

		netlink_prefix_set(&st->tunnel_addr[st->n_tunnel_addr++],
				   a->family, &a->addr, a->cidr);
	}
	for (i = 0; i < c->conf->n_dns && i < KILLSWITCH_DNS_MAX; i++) {
		const struct conf_prefix *a = &c->conf->dns[i];

		netlink_prefix_set(&st->resolver[st->n_resolver++], a->family,
				   &a->addr, a->family == AF_INET ? 32 : 128);
	}
	st->probe = c->probe_ep;
	st->n_probe = c->n_probe_ep;
	st->split = c->split.mode == CONF_SPLIT_EXCLUDE ?
			    KILLSWITCH_SPLIT_EXCLUDE :
		    c->split.mode == CONF_SPLIT_INCLUDE ?
			    KILLSWITCH_SPLIT_INCLUDE :
			    KILLSWITCH_SPLIT_NONE;
	for (i = 0; i < c->split.n && i < KILLSWITCH_SPLIT_MAX; i++) {
		const struct conf_prefix *a = &c->split.net[i];

		netlink_prefix_set(&st->split_net[st->n_split++], a->family,
				   &a->addr, a->cidr);
	}
	/* Bypassing applications pass in every mode (splitapp.h). */
	if (splitapp_active(&c->sa))
		st->bypass_mark = SPLITAPP_BYPASS_MARK;
}

_Static_assert((int)KILLSWITCH_SPLIT_MAX == (int)SPLITNET_MAX,
	       "the kill switch must hold every split network");

/* What the split routes depend on, from the tunnel as routed. */
static void split_tunnel(const struct client *c, struct splitroute_tunnel *t)
{
	*t = (struct splitroute_tunnel){
		.ifindex = c->tunnel.ifindex,
		.table = CLIENT_TABLE,
		.has_ipv4 = c->tunnel.has_ipv4,
		.has_ipv6 = c->tunnel.has_ipv6,
		.inside = c->tunnel.inside,
		.n_inside = c->tunnel.n_inside,
	};
}

/* One atomic ruleset for the phase; 0 or -errno with c->error set. */
static int ks_apply(struct client *c, enum killswitch_phase phase,
		    const struct conf_server_entry *server)
{
	struct killswitch_state st;
	int ret;

	if (!c->ks_ready)
		return 0;
	ks_fill(c, phase, server, &st);
	ret = killswitch_apply(&c->ks, &st);
	if (ret)
		snprintf(c->error, sizeof(c->error), "kill switch: %s",
			 killswitch_strerror(&c->ks));
	return ret;
}

static enum killswitch_phase ks_phase(const struct client *c)
{
	switch (c->state) {
	case CLIENT_CONNECTING:
		return KILLSWITCH_CONNECTING;
	case CLIENT_CONNECTED:
		return KILLSWITCH_CONNECTED;
	case CLIENT_ERROR:
		return KILLSWITCH_ERROR;
	default:
		return KILLSWITCH_DISCONNECTED;
	}
}

/* The rules the client's present state gets. */
static enum killswitch_rules ks_rules(const struct client *c)
{
	struct killswitch_state st;

	ks_fill(c, ks_phase(c), c->server, &st);
	return killswitch_rules_for(&st, c->ks.held);
}

/* Writes c->ksf to the state file; 0 or -errno with c->error set. */
static int ks_save(struct client *c)
{
	int ret = ksfile_save(ksfile_dir(), &c->ksf);

	if (ret)
		snprintf(c->error, sizeof(c->error),
			 "cannot write the kill switch state file %s/%s: %s",
			 ksfile_dir(), KSFILE_NAME, strerror(-ret));
	return ret;
}

/*
 * Changes the kill switch: mode and allow_lan, for the phase given, as the
 * user's word (a hold from an earlier run ends).  The state file is
 * written first, then the rules; if either fails, both are as they were.
 * 0 or -errno with c->error set.
 */
static int ks_set(struct client *c, enum killswitch_mode mode,
		  bool allow_lan, enum killswitch_phase phase,
		  const struct conf_server_entry *server)
{
	struct ksfile old = c->ksf;
	bool was_held = c->ks.held;
	int ret;

	c->ksf.mode = mode;
	c->ksf.allow_lan = allow_lan;
	c->ksf.hold = phase != KILLSWITCH_DISCONNECTED &&
		      mode != KILLSWITCH_OFF;
	ret = ks_save(c);
	if (ret)
		goto undo;
	if (c->ks_ready)
		killswitch_release(&c->ks);
	ret = ks_apply(c, phase, server);
	if (!ret)
		return 0;
	/* The kernel kept what it had: so does the file. */
	if (was_held)
		killswitch_hold(&c->ks);
	c->ksf = old;
	if (ksfile_save(ksfile_dir(), &c->ksf))
		log_msg(c->dev, LOG_LEVEL_ERROR,
			"cannot put the kill switch state file back");
	return ret;
undo:
	c->ksf = old;
	return ret;
}

/*
 * arp_ignore is raised while the tunnel has IPv4 addresses and the kill
 * switch is on, so that the physical link cannot learn that we hold the
 * tunnel's address; the value found is kept in the state file, so that a
 * daemon that died can still put it back.  Only "all" reaches interfaces
 * that appear later.
 */
static bool has_ipv4_address(const struct client *c)
{
	for (unsigned int i = 0; i < c->conf->n_address; i++)
		if (c->conf->address[i].family == AF_INET)
			return true;
	return false;
}

static void arp_set(struct client *c, bool want)
{
	bool guarded = c->arp.name[0] != '\0';
	int ret;

	want = want && c->ksf.mode != KILLSWITCH_OFF && has_ipv4_address(c);
	if (want == guarded)
		return;
	if (want) {
		int cur;

		/* The value found goes to the file before we change it, so
		 * that a crash in between still leaves it for the next start.
		 * Unrecorded, it is raised all the same: protection first. */
		ret = killswitch_arp_value("all", &cur);
		if (!ret && cur < KILLSWITCH_ARP_IGNORE) {
			c->ksf.arp_ignore = cur;
			if (ks_save(c))
				log_msg(c->dev, LOG_LEVEL_ERROR, "%s",
					c->error);
		}
		if (!ret)
			ret = killswitch_arp_guard(&c->arp, "all");
	} else {
		ret = killswitch_arp_restore(&c->arp);
		memset(&c->arp, 0, sizeof(c->arp));
		c->ksf.arp_ignore = -1;
		if (ks_save(c))
			log_msg(c->dev, LOG_LEVEL_ERROR, "%s", c->error);
	}
	if (ret)
		log_msg(c->dev, LOG_LEVEL_ERROR, "arp_ignore: %s",
			strerror(-ret));
}

static int add_server_peer(struct client *c,
			   const struct conf_server_entry *s)
{
	static const uint8_t any[16];
	struct device *dev = c->dev;
	struct peer *p;
	int ret;

	device_remove_all_peers(dev);
	ret = peer_create(dev, s->public_key, &p);
	if (ret)
		return ret;
	/* The client's one peer talks from the start; the rest of this file
	 * relies on its state. */
	ret = peer_activate(p);
	if (ret) {
		peer_remove(p);
		return ret;
	}
	noise_remote_set_psk(&p->remote, s->preshared_key);
	memset(&p->st->endpoint, 0, sizeof(p->st->endpoint));
	memcpy(&p->st->endpoint, &s->endpoint,
	       s->endpoint.sa.sa_family == AF_INET6 ?
		       sizeof(struct sockaddr_in6) :
		       sizeof(struct sockaddr_in));
	p->st->endpoint_pinned = true;
	ret = allowedips_insert(dev->aips, AF_INET, any, 0, p);
	if (!ret)
		ret = allowedips_insert(dev->aips, AF_INET6, any, 0, p);
	return ret;
}

/* The split set's routes, after a flush of whatever a daemon that died
 * left in the table. */
static int split_route(struct client *c)
{
	static const struct splitnet_set none;
	struct splitroute_tunnel t;
	int ret;

	split_tunnel(c, &t);
	ret = splitroute_flush(c->nl, CLIENT_TABLE);
	if (!ret)
		ret = splitroute_change(c->nl, &t, &none, &c->split);
	if (!ret)
		c->split_routed = c->split;
	return ret;
}

static int bring_up(struct client *c, const struct conf_server_entry *s)
{
	struct device *dev = c->dev;
	unsigned int mtu = c->conf->mtu ? c->conf->mtu : CLIENT_DEFAULT_MTU;
	struct killswitch_state st;
	bool v4 = false, v6 = false;
	int ret;

	c->error[0] = '\0';
	ret = device_set_private_key(dev, c->conf->private_key);
	if (!ret)
		ret = device_set_fwmark(dev, CLIENT_FWMARK);
	if (!ret)
		ret = add_server_peer(c, s);
	if (ret) {
		set_error(c, "configuring the tunnel", ret);
		goto fail;
	}
	c->server = s;
	/* Before the addresses: from their first moment, ARP for them is
	 * answered on the tunnel only. */
	arp_set(c, true);
	ret = netlink_link_set_mtu(c->nl, dev->ifindex, mtu);
	if (ret) {
		set_error(c, "setting the MTU", ret);
		goto fail;
	}
	for (unsigned int i = 0; i < c->conf->n_address; i++) {
		const struct conf_prefix *a = &c->conf->address[i];
		struct netlink_prefix p;

		netlink_prefix_set(&p, a->family, &a->addr, a->cidr);
		ret = netlink_addr_add(c->nl, dev->ifindex, &p);
		if (ret) {
			set_error(c, "adding an address", ret);
			goto fail;
		}
		c->addresses_added++;
		v4 |= a->family == AF_INET;
		v6 |= a->family == AF_INET6;
	}
	ret = netlink_link_set_up(c->nl, dev->ifindex, true);
	if (ret) {
		set_error(c, "bringing the interface up", ret);
		goto fail;
	}
	device_set_up(dev, true);
	ks_fill(c, KILLSWITCH_CONNECTING, s, &st);
	c->tunnel = (struct netlink_tunnel){
		.ifindex = dev->ifindex,
		.fwmark = CLIENT_FWMARK,
		.table = CLIENT_TABLE,
		.priority = NETLINK_TUNNEL_PRIORITY,
		.has_ipv4 = v4,
		.has_ipv6 = v6,
		.nofamily = NETLINK_NOFAMILY_UNREACHABLE,
		.fail_closed = c->ksf.mode != KILLSWITCH_OFF,
		.allow_lan = c->ksf.allow_lan,
		/* The kill switch's view of the addresses and resolvers, so
		 * that routing and firewall keep the same prefixes inside. */
		.inside = c->inside,
		.n_inside = netlink_tunnel_inside(st.tunnel_addr,
						  st.n_tunnel_addr,
						  st.resolver, st.n_resolver,
						  c->inside),
		.app_table = CLIENT_APP_TABLE,
	};
	ret = netlink_tunnel_routing_up(c->nl, &c->tunnel);
	if (ret) {
		set_error(c, "setting up routing", ret);
		goto fail;
	}
	c->routing_up = true;
	ret = split_route(c);
	if (ret) {
		set_error(c, "routing the split networks", ret);
		goto fail;
	}
	ret = dns_do(c);
	if (ret)
		goto fail;
	return 0;
fail:
	teardown(c);
	c->state = CLIENT_ERROR;
	return ret;
}

static bool handshake_done(const struct client *c)
{
	struct peer *p = server_peer(c);

	return p && p->st && (p->st->last_handshake.tv_sec ||
			      p->st->last_handshake.tv_nsec);
}

static void answer_waiting(struct client *c, int err, const char *message);

/*
 * systemd hears of the first handshake, or of the end of the bounded wait
 * for it, as READY=1 when vpnd --up started the connection (the unit is
 * active from then on), and of later changes as a new STATUS= line.
 */
static void client_notify(struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void client_notify(struct client *c, const char *fmt, ...)
{
	char status[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	if (c->notify_pending)
		notify_ready("%s", status);
	else
		notify_status("%s", status);
	c->notify_pending = false;
}

static void poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = (struct client *)((char *)w -
					     offsetof(struct client, poll_w));
	uint64_t elapsed = device_now() - c->up_started;

	(void)loop;
	(void)revents;
	if (c->state == CLIENT_CONNECTING && handshake_done(c)) {
		c->state = CLIENT_CONNECTED;
		ks_apply(c, KILLSWITCH_CONNECTED, c->server);
		log_msg(c->dev, LOG_LEVEL_VERBOSE, "connected");
		answer_waiting(c, 0, NULL);
		client_notify(c, "connected to %s", c->server->id);
	} else if (elapsed >= c->up_timeout) {
		/* Keep trying: the reply only stops waiting. */
		answer_waiting(c, -ETIMEDOUT,
			       "no handshake with the server yet; still trying");
		if (c->notify_pending)
			client_notify(c, "connecting to %s: no handshake yet, "
					 "still trying", c->server->id);
	}
	if (c->state == CLIENT_CONNECTING)
		return;
	ev_timer_stop(c->dev->loop, &c->poll_w);
}

/*
 * Connects to @s, or switches to it.  Returns 1 when the reply waits for
 * the handshake, 0 when already connected to it, or -errno with @msg.
 */
static int connect_server(struct client *c, const struct conf_server_entry *s,
			  char *msg, size_t len)
{
	bool retry = false;
	struct peer *p;
	uint64_t now;
	int ret;

	if (c->server == s && c->state == CLIENT_CONNECTED)
		return 0;
	/*
	 * The state file first: should we die from here on, whoever starts
	 * next (a daemon, the boot unit) blocks.  Then the firewall: it lets
	 * the new server's endpoint through before any packet goes to it,
	 * and blocks everything else before routing changes.  If either
	 * cannot, no connection is made and nothing has changed.
	 */
	ret = ks_set(c, c->ksf.mode, c->ksf.allow_lan, KILLSWITCH_CONNECTING,
		     s);
	if (ret) {
		snprintf(msg, len, "%s", c->error);
		return ret;
	}
	if (c->state == CLIENT_CONNECTING && c->server == s) {
		/* Still trying the same server: the peer and the handshake in
		 * flight stay (see below). */
		retry = true;
	} else if (c->state == CLIENT_CONNECTING ||
		   c->state == CLIENT_CONNECTED) {
		/* Switching servers: only the peer changes. */
		ret = add_server_peer(c, s);
		if (ret) {
			snprintf(msg, len, "cannot switch servers: %s",
				 strerror(-ret));
			/* The old peer is gone: no half switch, the error
			 * state, blocking as the mode says. */
			teardown(c);
			c->state = CLIENT_ERROR;
			snprintf(c->error, sizeof(c->error), "%.*s",
				 (int)sizeof(c->error) - 1, msg);
			ks_apply(c, KILLSWITCH_ERROR, NULL);
			return ret;
		}
		c->server = s;
	} else {
		ret = bring_up(c, s);
		if (ret) {
			snprintf(msg, len, "%s", c->error);
			/* Still blocking, as the profile says, with no server. */
			ks_apply(c, KILLSWITCH_ERROR, NULL);
			return ret;
		}
	}
	c->state = CLIENT_CONNECTING;
	now = device_now();
	c->up_started = now;
	p = server_peer(c);
	netchange_start(c);
	/*
	 * A server keeps one initiation per peer in each 1/50 s and answers
	 * only that one.  Two close together, the retransmission in flight
	 * and a new one, and it may answer the one the handshake state has
	 * already forgotten: five seconds lost.  So a retry sends now only
	 * when the last initiation is well apart.
	 */
	if (!retry || now - p->st->timers.last_handshake_sent >=
			      CLIENT_REINITIATE_GAP_NS)
		send_handshake_initiation(p, now);
	ev_timer_set(&c->poll_w, CONTROL_POLL_MS / 1000.0,
		     CONTROL_POLL_MS / 1000.0);
	ev_timer_start(c->dev->loop, &c->poll_w);
	return 1;	/* the reply waits */
}

static void select_set(struct client *c, enum conf_select kind,
		       const char *value)
{
	free(c->select_value);
	c->select = kind;
	c->select_value = value ? strdup(value) : NULL;
}

/* up=1 with a server named (or the profile's server = ID). */
static int client_up(struct client *c, const char *id, char *msg, size_t len)
{
	const struct conf_server_entry *s;
	int ret;

	if (c->probing) {
		snprintf(msg, len, "servers are being probed; try again in a moment");
		return -EBUSY;
	}
	ret = conf_servers_resolve(c->servers, c->conf, id, &s, msg, len);
	if (ret)
		return ret;
	/* The user's word wins over a failover's choice still waiting. */
	c->chosen = NULL;
	ev_timer_stop(c->dev->loop, &c->chosen_timer);
	ret = connect_server(c, s, msg, len);
	if (ret >= 0) {
		/* Named: never replaced by failover. */
		servers_failover_init(&c->failover, 0);
		c->failover_time = 0;
		select_set(c, CONF_SELECT_ID, s->id);
		if (c->server != s || c->select != CONF_SELECT_ID)
			c->server_rtt_ns = -1;
	}
	return ret;
}

/* Probing. */

static int conn_flush(struct control_conn *cn);
static void answer_waiting(struct client *c, int err, const char *message);

static void probe_stop(struct client *c)
{
	for (int i = 0; i < 2; i++)
		ev_io_stop(c->dev->loop, &c->probe_io[i]);
	ev_timer_stop(c->dev->loop, &c->probe_timer);
	servers_probe_free(c->probe);
	c->probe = NULL;
	c->probing = false;
	free(c->probe_ep);
	c->probe_ep = NULL;
	c->n_probe_ep = 0;
}

static void probe_finish(struct client *c);

static void probe_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = w->data;

	(void)loop;
	(void)revents;
	servers_probe_input(c->probe, w->fd, device_now());
	if (servers_probe_complete(c->probe))
		probe_finish(c);
}

static void probe_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	probe_finish(w->data);
}

/*
 * Starts a probe of the servers in the selection.  The server of a session
 * in use is left out: an initiation from the probe's port would make it
 * send the session's packets there.  The firewall lets the probes through
 * to exactly the servers probed, for the daemon's mark, from before the
 * first is sent until the probe ends.  0 or -errno with @msg.
 */
static int probe_start(struct client *c, enum conf_select kind,
		       const char *value, unsigned int timeout_ms, char *msg,
		       size_t len)
{
	const struct conf_server_entry *skip =
		c->state == CLIENT_CONNECTED || c->state == CLIENT_CONNECTING ?
			c->server : NULL;
	char sel[CONF_NAME_MAX + 16];
	int fd[2], ret;
	size_t n;

	if (c->probing) {
		snprintf(msg, len, "servers are being probed; try again in a moment");
		return -EBUSY;
	}
	ret = servers_probe_new(&c->probe, c->servers, kind, value, skip,
				c->conf->private_key, CLIENT_FWMARK);
	if (ret == -ENOENT && skip && servers_entry_matches(skip, kind, value))
		ret = 0;	/* only the server in use: nothing to send */
	if (ret == -ENOENT) {
		snprintf(msg, len, "%s has no server for %s", c->servers->path,
			 servers_selection_text(kind, value, sel, sizeof(sel)));
		return ret;
	}
	if (ret) {
		snprintf(msg, len, "cannot probe: %s", strerror(-ret));
		return ret;
	}
	n = c->probe ? servers_probe_count(c->probe) : 0;
	c->probe_ep = calloc(n ? n : 1, sizeof(*c->probe_ep));
	if (!c->probe_ep) {
		probe_stop(c);
		snprintf(msg, len, "cannot probe: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct conf_server_entry *e =
			servers_probe_entry(c->probe, i);

		killswitch_endpoint_from_sockaddr(
			&c->probe_ep[i], &e->endpoint.sa,
			e->endpoint.sa.sa_family == AF_INET6 ?
				sizeof(struct sockaddr_in6) :
				sizeof(struct sockaddr_in));
	}
	c->n_probe_ep = (unsigned int)n;
	c->probe_selection = kind;
	free(c->probe_value);
	c->probe_value = value ? strdup(value) : NULL;
	if (n && (ret = ks_apply(c, ks_phase(c), c->server))) {
		snprintf(msg, len, "%s", c->error);
		probe_stop(c);
		return ret;
	}
	c->probe_sent_at = device_now();
	if (n && (ret = servers_probe_send(c->probe, c->probe_sent_at))) {
		probe_stop(c);
		ks_apply(c, ks_phase(c), c->server);
		snprintf(msg, len, "cannot probe: %s", strerror(-ret));
		return ret;
	}
	c->probing = true;
	if (!n) {
		/* Nothing to wait for: finish from the loop, as any other. */
		ev_timer_set(&c->probe_timer, 0.0, 0.0);
		ev_timer_start(c->dev->loop, &c->probe_timer);
		return 0;
	}
	servers_probe_fds(c->probe, fd);
	for (int i = 0; i < 2; i++) {
		if (fd[i] < 0)
			continue;
		ev_io_set(&c->probe_io[i], fd[i], EV_READ);
		ev_io_start(c->dev->loop, &c->probe_io[i]);
	}
	ev_timer_set(&c->probe_timer, timeout_ms / 1000.0, 0.0);
	ev_timer_start(c->dev->loop, &c->probe_timer);
	return 0;
}

static void add_result_lines(struct client *c, struct control_conn *cn,
			     const struct servers_result *r, size_t n)
{
	char buf[128];

	for (size_t i = 0; i < n; i++) {
		const struct conf_server_entry *e = r[i].entry;

		out_add(cn, "server=%s\n", e->id);
		out_add(cn, "country=%s\n", e->country);
		if (e->city && *e->city)
			out_add(cn, "city=%s\n", e->city);
		format_endpoint(buf, sizeof(buf), &e->endpoint);
		out_add(cn, "endpoint=%s\n", buf);
		if (r[i].rtt_ns >= 0)
			out_add(cn, "rtt_us=%lld\n",
				(long long)(r[i].rtt_ns / 1000));
		if (e == c->server && c->state != CLIENT_DISCONNECTED)
			out_add(cn, "connected=yes\n");
	}
}

static void up_failed(struct client *c, int err, const char *msg)
{
	/* As a refused up=1: nothing left to guard, nothing left running. */
	if ((c->state == CLIENT_DISCONNECTED || c->state == CLIENT_ERROR) &&
	    ks_rules(c) == KILLSWITCH_RULES_NONE)
		c->exit_after_reply = true;
	answer_waiting(c, err, msg);
}

/* The server an up chose by probing, once the probe is far enough back. */
static void chosen_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = w->data;
	const struct conf_server_entry *s = c->chosen;
	char msg[CONF_ERR_LEN] = "";
	int ret;

	(void)loop;
	(void)revents;
	c->chosen = NULL;
	if (!s)
		return;
	ret = connect_server(c, s, msg, sizeof(msg));
	if (ret >= 0) {
		select_set(c, c->probe_selection, c->probe_value);
		c->server_rtt_ns = c->chosen_rtt_ns;
		if (c->chosen_by_failover)
			servers_failover_switched(&c->failover, device_now());
		else
			servers_failover_init(&c->failover,
					      c->conf->failover_after);
		if (!c->chosen_by_failover)
			c->failover_time = 0;
	}
	if (c->chosen_by_failover) {
		if (ret < 0)
			log_msg(c->dev, LOG_LEVEL_ERROR, "failover: %s", msg);
		else
			log_msg(c->dev, LOG_LEVEL_VERBOSE,
				"failover to another server");
	} else if (ret == 0) {
		answer_waiting(c, 0, NULL);
	} else if (ret < 0) {
		up_failed(c, ret, msg);
	}
	c->chosen_by_failover = false;
}

/*
 * A server keeps one initiation per peer in each 1/50 s, and refuses a
 * timestamp no later than the last (ours are rounded to 2^24 ns): the
 * connection's first initiation waits until the probe's is well back.
 */
static void choose(struct client *c, const struct servers_result *r, size_t n,
		   bool failover)
{
	uint64_t now = device_now();
	uint64_t ready = c->probe_sent_at + CLIENT_REINITIATE_GAP_NS;
	const struct conf_server_entry *cur = c->server;
	size_t i = 0;

	/* A failover takes the best that answered other than the server that
	 * went silent, else the next one in turn. */
	while (failover && i < n && (r[i].entry == cur || r[i].rtt_ns < 0))
		i++;
	if (failover && i == n) {
		c->chosen = servers_next_in_turn(c->servers, c->select,
						 c->select_value, cur);
		c->chosen_rtt_ns = -1;
	} else if (i < n) {
		c->chosen = r[i].entry;
		c->chosen_rtt_ns = r[i].rtt_ns;
	} else {
		up_failed(c, -ENOENT, "no server to choose from");
		return;
	}
	c->chosen_by_failover = failover;
	ev_timer_set(&c->chosen_timer,
		     ready > now ? (double)(ready - now) / 1e9 : 0.0, 0.0);
	ev_timer_start(c->dev->loop, &c->chosen_timer);
}

/*
 * The probe is over (all answered, or the time is up): the firewall closes
 * again, the requests waiting for it get the ranking, and an up that waits
 * for a choice gets one.  The server in use, not probed, counts with the
 * round trip it had when it was chosen.
 */
static void probe_finish(struct client *c)
{
	size_t n = c->probe ? servers_probe_count(c->probe) : 0, m = n;
	const struct conf_server_entry *cur =
		c->state == CLIENT_CONNECTED || c->state == CLIENT_CONNECTING ?
			c->server : NULL;
	struct servers_result *r = calloc(n + 1, sizeof(*r));
	struct control_conn *cn, *next;
	bool for_up = c->probe_for_up;
	bool for_failover = c->probe_for_failover;

	if (r && c->probe)
		servers_probe_results(c->probe, r);
	if (r && cur && !for_failover &&
	    servers_entry_matches(cur, c->probe_selection, c->probe_value)) {
		r[m].entry = cur;
		r[m++].rtt_ns = c->server_rtt_ns;
		servers_rank(r, m);
	}
	probe_stop(c);
	c->probe_for_up = false;
	c->probe_for_failover = false;
	if (ks_apply(c, ks_phase(c), c->server))
		log_msg(c->dev, LOG_LEVEL_ERROR, "%s", c->error);
	for (cn = c->conns; cn; cn = next) {
		next = cn->next;
		if (!cn->waiting_probe)
			continue;
		cn->waiting_probe = false;
		if (r)
			add_result_lines(c, cn, r, m);
		out_end(cn, r ? 0 : -ENOMEM, r ? NULL : "out of memory");
		conn_flush(cn);
	}
	if ((for_up || for_failover) && r)
		choose(c, r, m, for_failover);
	else if (for_up)
		up_failed(c, -ENOMEM, "out of memory");
	free(r);
}

/*
 * Every tick while a server chosen by probing is in use: when what we sent
 * it has gone unanswered for failover_after, probe the selection again
 * (the silent server left out) and move to the best that answers, or to
 * the next in turn.  The firewall lets the new endpoint through in the
 * same transaction that stops letting the old one through, before the peer
 * changes (connect_server()), so nothing leaves outside the tunnel.
 */
static void failover_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = w->data;
	const struct timers_state *t;
	char msg[CONF_ERR_LEN];
	uint64_t now = device_now(), heard, spoke;
	struct peer *p = server_peer(c);

	(void)loop;
	(void)revents;
	if ((c->state != CLIENT_CONNECTED && c->state != CLIENT_CONNECTING) ||
	    c->select <= CONF_SELECT_ID || !p || c->probing || c->chosen)
		return;
	/* No route to any server: its silence says nothing about it, and
	 * the wait starts again once the network is back. */
	if (netchange_offline(c)) {
		c->failover.waiting_since = 0;
		return;
	}
	t = &p->st->timers;
	heard = t->last_authenticated_received > t->last_handshake_complete ?
			t->last_authenticated_received :
			t->last_handshake_complete;
	spoke = t->last_authenticated_sent > t->last_handshake_sent ?
			t->last_authenticated_sent :
			t->last_handshake_sent;
	if (!servers_failover_due(&c->failover, heard, spoke, now))
		return;
	snprintf(c->failover_reason, sizeof(c->failover_reason),
		 "no answer from %s for %llu s", c->server->id,
		 (unsigned long long)(servers_failover_waited(&c->failover,
							       now) /
				      1000000000ULL));
	c->failover_time = (int64_t)time(NULL);
	if (probe_start(c, c->select, c->select_value,
			c->conf->probe_timeout_ms, msg, sizeof(msg)) &&
	    !c->probing) {
		/* Nothing to probe but the silent server itself (-ENOENT is
		 * then not returned) or no probe possible: try it again. */
		log_msg(c->dev, LOG_LEVEL_ERROR, "failover: %s", msg);
		servers_failover_switched(&c->failover, now);
		return;
	}
	c->probe_for_failover = true;
}

/* up=1 with a selection: probe, then connect to the best. */
static int client_up_select(struct client *c, enum conf_select kind,
			    const char *value, char *msg, size_t len)
{
	int ret;

	if (c->probing) {
		snprintf(msg, len, "servers are being probed; try again in a moment");
		return -EBUSY;
	}
	c->chosen = NULL;
	ev_timer_stop(c->dev->loop, &c->chosen_timer);
	c->up_started = device_now();
	ret = probe_start(c, kind, value, c->conf->probe_timeout_ms, msg, len);
	if (ret)
		return ret;
	c->probe_for_up = true;
	return 1;	/* the reply waits */
}

/* Requests. */

/*
 * Split tunneling by application (splitapp.h): exec=1, split_pid=1 and
 * split_apps=1.  The caller is who connected (SO_PEERCRED): exec moves
 * that very process, and nobody but root moves a process not their own.
 */
static void split_net_fill(const struct client *c, struct splitapp_net *n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	memset(n, 0, sizeof(*n));
	n->ifname = c->dev->ifname;
	n->rundir = c->rundir;
	n->tunnel_table = CLIENT_APP_TABLE;
	for (unsigned int i = 0; i < c->conf->n_address &&
				 n->n_tunnel_addr < SPLITAPP_ADDR_MAX; i++) {
		const struct conf_prefix *a = &c->conf->address[i];

		netlink_prefix_set(&n->tunnel_addr[n->n_tunnel_addr++],
				   a->family, &a->addr, a->cidr);
	}
	for (unsigned int i = 0; i < c->conf->n_dns &&
				 n->n_tunnel_dns < SPLITAPP_ADDR_MAX; i++) {
		const struct conf_prefix *a = &c->conf->dns[i];

		netlink_prefix_set(&n->tunnel_dns[n->n_tunnel_dns++],
				   a->family, &a->addr,
				   a->family == AF_INET ? 32 : 128);
	}
	/* The host's resolvers: resolv.conf as it was before up. */
	if (c->dns.active && c->dns.original) {
		n->n_host_dns = splitapp_resolvers_parse(
			c->dns.original, c->dns.original_len, n->host_dns,
			SPLITAPP_ADDR_MAX);
		return;
	}
	f = fopen(c->dns.path, "re");
	if (f) {
		text = calloc(1, DNS_FILE_MAX);
		if (text)
			len = fread(text, 1, DNS_FILE_MAX, f);
		fclose(f);
	}
	if (text)
		n->n_host_dns = splitapp_resolvers_parse(text, len, n->host_dns,
							 SPLITAPP_ADDR_MAX);
	free(text);
}

/* Takes over the cgroups of a daemon that died (create false), or starts
 * afresh for a first exec or pid add; 0 or -errno with c->error set. */
static int split_start(struct client *c, bool create)
{
	struct splitapp_net net;
	bool found = false;
	int ret;

	split_net_fill(c, &net);
	ret = splitapp_start(&c->sa, c->fw, c->nl, &net, create, &found);
	if (ret) {
		snprintf(c->error, sizeof(c->error), "%s",
			 splitapp_strerror(&c->sa));
		return ret;
	}
	if (found)
		log_msg(c->dev, LOG_LEVEL_ERROR, "split tunneling cgroups "
			"from an earlier run taken over");
	if (splitapp_active(&c->sa) && !c->sa.bpf)
		log_msg(c->dev, LOG_LEVEL_ERROR, "split tunneling: no socket "
			"marks (BPF refused); bypassing needs the tunnel up");
	return 0;
}

/* Down or stop: the processes go back, the rules go. */
static void split_stop(struct client *c)
{
	struct splitapp_net net;

	if (!splitapp_active(&c->sa))
		return;
	split_net_fill(c, &net);
	if (splitapp_stop(&c->sa, c->fw, c->nl, &net))
		log_msg(c->dev, LOG_LEVEL_ERROR, "%s",
			splitapp_strerror(&c->sa));
}

/* The kill switch learns of the bypass mark, or forgets it. */
static void split_ks_update(struct client *c)
{
	if (ks_apply(c, ks_phase(c), c->server))
		log_msg(c->dev, LOG_LEVEL_ERROR, "%s", c->error);
}

static void split_reply_apps(struct client *c, struct control_conn *cn)
{
	pid_t *pids = calloc(CGROUP_MEMBERS_MAX, sizeof(*pids));
	size_t n;

	out_add(cn, "split_apps=%s\n",
		splitapp_active(&c->sa) ? "active" : "inactive");
	if (splitapp_active(&c->sa))
		out_add(cn, "socket_marks=%s\n", c->sa.bpf ? "yes" : "no");
	for (unsigned int g = 0; pids && splitapp_active(&c->sa) &&
				 g < CGROUP_N; g++) {
		if (cgroup_members(&c->sa.cg, (enum cgroup_group)g, pids,
				   CGROUP_MEMBERS_MAX, &n))
			continue;
		for (size_t i = 0; i < n; i++)
			out_add(cn, "%s_pid=%d\n",
				cgroup_group_name((enum cgroup_group)g),
				(int)pids[i]);
	}
	free(pids);
	out_end(cn, 0, NULL);
}

static void handle_splitapp(struct client *c, struct control_conn *cn,
			    const char *op, const struct splitapp_request *s)
{
	char msg[CONF_ERR_LEN];
	bool was_active = splitapp_active(&c->sa);
	bool add = !strcmp(op, "exec") || s->add;
	pid_t pid = !strcmp(op, "exec") ? cn->cred.pid : s->pid;
	int ret;

	if (!strcmp(op, "split_apps")) {
		split_reply_apps(c, cn);
		return;
	}
	if (!s->has_group || (!strcmp(op, "split_pid") &&
			      (!s->pid || !s->has_action))) {
		out_end(cn, -EINVAL, !strcmp(op, "exec") ?
			"exec needs group=" :
			"split_pid needs pid=, group= and action=");
		return;
	}
	if (pid <= 0) {
		out_end(cn, -EINVAL, "the caller's process is not visible "
			"to vpnd (another pid namespace)");
		return;
	}
	/* Refused before anything starts: nothing to undo. */
	ret = splitapp_may_move(pid, cn->cred.uid, msg, sizeof(msg));
	if (ret) {
		out_end(cn, ret, msg);
		return;
	}
	if (add && !was_active) {
		ret = split_start(c, true);
		if (ret) {
			out_end(cn, ret, c->error);
			return;
		}
		split_ks_update(c);
	}
	ret = splitapp_move(&c->sa, s->group, pid, add, cn->cred.uid, msg,
			    sizeof(msg));
	if (ret) {
		/* Nothing changed: what this request started goes again. */
		if (!was_active) {
			split_stop(c);
			split_ks_update(c);
		}
		out_end(cn, ret, msg);
		return;
	}
	log_msg(c->dev, LOG_LEVEL_VERBOSE, "process %d %s the %s group",
		(int)pid, add ? "moved into" : "moved out of",
		cgroup_group_name(s->group));
	out_add(cn, "group=%s\npid=%d\n", cgroup_group_name(s->group),
		(int)pid);
	out_end(cn, 0, NULL);
}

static int conn_flush(struct control_conn *cn);

/* What the kill switch protects, in words, for people (docs/control.md). */
static const char *split_scope(const struct client *c)
{
	if (c->ksf.mode == KILLSWITCH_OFF)
		return "nothing: the kill switch is off";
	switch (c->split.mode) {
	case CONF_SPLIT_EXCLUDE:
		return "all traffic except the excluded networks, which go outside the tunnel";
	case CONF_SPLIT_INCLUDE:
		return "only the included networks: everything else goes outside the tunnel, unprotected, by choice of include mode";
	default:
		return "all traffic";
	}
}

static void add_split_lines(const struct client *c, struct control_conn *cn)
{
	char buf[64];

	out_add(cn, "split_mode=%s\n", splitnet_mode_name(c->split.mode));
	for (unsigned int i = 0; i < c->split.n; i++)
		out_add(cn, "split_net=%s\n",
			splitnet_text(&c->split.net[i], buf, sizeof(buf)));
	out_add(cn, "split_routed=%s\n", c->split_routed.n ? "yes" : "no");
}

static void add_killswitch_lines(struct client *c, struct control_conn *cn)
{
	static const char *const rules_names[] = {
		[KILLSWITCH_RULES_NONE] = "none",
		[KILLSWITCH_RULES_BLOCK] = "block",
		[KILLSWITCH_RULES_TUNNEL] = "tunnel",
	};
	struct killswitch_state st;
	const char *kernel = "unknown";
	bool matches;

	ks_fill(c, ks_phase(c), c->server, &st);
	if (c->ks_ready && !killswitch_verify(&c->ks, &st, &matches))
		kernel = matches ? "matches" : "differs";
	out_add(cn, "kill_switch=%s\n", ksfile_mode_name(c->ksf.mode));
	out_add(cn, "allow_lan=%s\n", c->ksf.allow_lan ? "yes" : "no");
	out_add(cn, "kill_switch_rules=%s\n",
		rules_names[killswitch_rules_for(&st, c->ks.held)]);
	out_add(cn, "kill_switch_held=%s\n", c->ks.held ? "yes" : "no");
	out_add(cn, "kill_switch_kernel=%s\n", kernel);
	out_add(cn, "kill_switch_scope=%s\n", split_scope(c));
	add_split_lines(c, cn);
}

static void reply_status(struct client *c, struct control_conn *cn)
{
	struct peer *p = server_peer(c);
	const struct peer_state *st = p ? p->st : NULL;

	add_connection_lines(c, cn);
	out_add(cn, "latest_handshake=%lld\n",
		st ? (long long)st->last_handshake.tv_sec : 0LL);
	out_add(cn, "rx_bytes=%llu\n",
		st ? (unsigned long long)st->rx_bytes : 0ULL);
	out_add(cn, "tx_bytes=%llu\n",
		st ? (unsigned long long)st->tx_bytes : 0ULL);
	add_killswitch_lines(c, cn);
	if (c->state == CLIENT_ERROR)
		out_add(cn, "error=%s\n", c->error);
	out_end(cn, 0, NULL);
}

static void reply_servers(struct client *c, struct control_conn *cn)
{
	char buf[128];

	for (size_t i = 0; i < c->servers->n_entry; i++) {
		const struct conf_server_entry *s = &c->servers->entry[i];

		out_add(cn, "server=%s\n", s->id);
		if (s->country[0])
			out_add(cn, "country=%s\n", s->country);
		if (s->city && *s->city)
			out_add(cn, "city=%s\n", s->city);
		format_endpoint(buf, sizeof(buf), &s->endpoint);
		out_add(cn, "endpoint=%s\n", buf);
	}
	out_end(cn, 0, NULL);
}

static void reply_up(struct client *c, struct control_conn *cn, int err,
		     const char *message)
{
	char buf[128];

	add_connection_lines(c, cn);
	for (unsigned int i = 0; i < c->conf->n_dns; i++) {
		format_prefix(buf, sizeof(buf), &c->conf->dns[i], false);
		out_add(cn, "dns=%s\n", buf);
	}
	out_add(cn, "elapsed_ms=%llu\n",
		(unsigned long long)((device_now() - c->up_started) / 1000000));
	out_end(cn, err, message);
}

static void answer_waiting(struct client *c, int err, const char *message)
{
	struct control_conn *cn, *next;

	for (cn = c->conns; cn; cn = next) {
		next = cn->next;
		if (!cn->waiting_up)
			continue;
		cn->waiting_up = false;
		reply_up(c, cn, err, message);
		conn_flush(cn);
	}
}

/*
 * Disconnected: the daemon runs on only while it guards a table (lockdown,
 * or a hold), so that vpnctl can still ask whether the kernel holds it.
 * The connection that asked is closed after its reply either way: its
 * client waits for that end-of-file.
 */
static void after_disconnected(struct client *c, struct control_conn *cn)
{
	notify_status("disconnected");
	if (ks_rules(c) == KILLSWITCH_RULES_NONE)
		c->exit_after_reply = true;
	else
		cn->closing = true;
}

/*
 * killswitch=1 [mode=off|on|lockdown] [allow_lan=yes|no]: changes what is
 * given, for the present phase, and answers with the kill switch's lines.
 * Routing follows allow_lan and the unreachable backstop only where they
 * add protection or reach: what would take a route away while up waits for
 * the next up, and the firewall, which decides, changes at once.
 */
static void handle_killswitch(struct client *c, struct control_conn *cn,
			      const struct control_request *r)
{
	enum killswitch_mode mode = r->has_mode ? r->mode : c->ksf.mode;
	bool lan = r->has_allow_lan ? r->allow_lan : c->ksf.allow_lan;
	struct netlink_tunnel t = c->tunnel;
	int ret;

	if (r->has_mode || r->has_allow_lan) {
		ret = ks_set(c, mode, lan, ks_phase(c), c->server);
		if (ret) {
			out_end(cn, ret, c->error);
			if (c->state == CLIENT_DISCONNECTED)
				after_disconnected(c, cn);
			return;
		}
		log_msg(c->dev, LOG_LEVEL_VERBOSE,
			"kill switch %s, allow_lan %s", ksfile_mode_name(mode),
			lan ? "yes" : "no");
		if (c->routing_up) {
			t.allow_lan |= lan;
			t.fail_closed |= mode != KILLSWITCH_OFF;
			if (!netlink_tunnel_routing_up(c->nl, &t))
				c->tunnel = t;
			else
				log_msg(c->dev, LOG_LEVEL_ERROR,
					"routing for the kill switch change: %s",
					netlink_strerror(c->nl));
		}
		if (c->state != CLIENT_DISCONNECTED)
			arp_set(c, true);
	}
	out_add(cn, "state=%s\n", state_name(c->state));
	add_killswitch_lines(c, cn);
	out_end(cn, 0, NULL);
	if (c->state == CLIENT_DISCONNECTED)
		after_disconnected(c, cn);
}

/*
 * Whether a network of @s covers the endpoint of a server of the list
 * (the address stays out of the message, as endpoints stay out of logs).
 */
static bool split_endpoints_clash(const struct client *c,
				  const struct splitnet_set *s, char *msg,
				  size_t len)
{
	char a[64];

	for (size_t i = 0; c->servers && i < c->servers->n_entry; i++) {
		const union conf_endpoint *e = &c->servers->entry[i].endpoint;
		const void *addr = e->sa.sa_family == AF_INET6 ?
					   (const void *)&e->in6.sin6_addr :
					   (const void *)&e->in4.sin_addr;
		int k = splitnet_find_addr(s, e->sa.sa_family, addr);

		if (k < 0)
			continue;
		snprintf(msg, len, "%s covers the endpoint of server %s (the tunnel's own packets must stay where they are)",
			 splitnet_text(&s->net[k], a, sizeof(a)),
			 c->servers->entry[i].id);
		return true;
	}
	return false;
}

/* The routes of the split set in force, when routing is up. */
static int split_routes_sync(struct client *c)
{
	struct splitroute_tunnel t;
	int ret;

	if (!c->routing_up)
		return 0;
	split_tunnel(c, &t);
	ret = splitroute_change(c->nl, &t, &c->split_routed, &c->split);
	if (ret)
		snprintf(c->error, sizeof(c->error), "split routes: %s",
			 netlink_strerror(c->nl));
	else
		c->split_routed = c->split;
	return ret;
}

/*
 * Puts @to in force: the kill switch's table in one transaction, the
 * routes in the order splitroute.h gives.  What lets traffic out (an
 * exclude added, an include removed) opens the firewall first and routes
 * after; what pulls traffic in routes first and closes the firewall
 * after: a flow tunnelled before and after never finds itself outside in
 * between.  All or nothing; 0 or -errno with c->error set.
 */
static int split_set(struct client *c, const struct splitnet_set *to,
		     bool opens)
{
	struct splitnet_set from = c->split;
	int ret;

	c->split = *to;
	if (opens) {
		ret = ks_apply(c, ks_phase(c), c->server);
		if (!ret) {
			ret = split_routes_sync(c);
			if (ret) {
				c->split = from;
				ks_apply(c, ks_phase(c), c->server);
			}
		}
	} else {
		ret = split_routes_sync(c);
		if (!ret) {
			ret = ks_apply(c, ks_phase(c), c->server);
			if (ret) {
				char why[sizeof(c->error)];

				memcpy(why, c->error, sizeof(why));
				c->split = from;
				split_routes_sync(c);
				memcpy(c->error, why, sizeof(why));
			}
		}
	}
	if (ret)
		c->split = from;
	return ret;
}

/* --save: the profile's [split] rewritten (splitnet_profile_rewrite),
 * through a new file renamed over the old, with its mode kept. */
static int split_save(struct client *c, char *msg, size_t len)
{
	const char *path = c->conf->path;
	char tmp[PATH_MAX], *in = NULL, *out = NULL;
	size_t in_len = 0, out_len = 0;
	struct stat st;
	int fd = -1, ret;
	FILE *f;

	if (!strcmp(path, CONF_STDIN_PATH)) {
		snprintf(msg, len, "the profile was read from standard input: nothing to save to");
		return -EINVAL;
	}
	f = fopen(path, "re");
	if (!f || fstat(fileno(f), &st)) {
		ret = -errno;
		goto out;
	}
	in = malloc((size_t)st.st_size + 1);
	if (!in) {
		ret = -ENOMEM;
		goto out;
	}
	in_len = fread(in, 1, (size_t)st.st_size, f);
	ret = splitnet_profile_rewrite(in, in_len, &c->split, &out, &out_len);
	if (ret)
		goto out;
	snprintf(tmp, sizeof(tmp), "%s.vpnd-new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  st.st_mode & 07777);
	if (fd < 0 || fchmod(fd, st.st_mode & 07777) ||
	    fchown(fd, st.st_uid, st.st_gid))
		ret = -errno;
	else
		ret = fdio_write_all(fd, out, out_len);
	if (!ret && (fsync(fd) || rename(tmp, path)))
		ret = -errno;
	if (ret)
		unlink(tmp);
out:
	if (ret)
		snprintf(msg, len, "cannot save to %s: %s", path,
			 strerror(-ret));
	if (fd >= 0)
		close(fd);
	if (f)
		fclose(f);
	free(in);
	free(out);
	return ret;
}

/*
 * split=1 alone shows the set; with mode=, action= and net= lines it
 * changes it (docs/control.md), and with save=yes writes it to the
 * profile too.
 */
static void handle_split(struct client *c, struct control_conn *cn,
			 const struct control_request *r)
{
	char msg[SPLITNET_ERR_LEN + 64], why[SPLITNET_ERR_LEN];
	struct splitnet_set to;
	bool opens;
	int ret;

	if (!r->has_split_action && (r->n_split_net || r->split_save)) {
		out_end(cn, -EINVAL, "net= and save= need action=add or del");
		return;
	}
	if (r->has_split_action) {
		if (!r->split_mode || !r->n_split_net) {
			out_end(cn, -EINVAL, "action= needs mode= and at least one net=");
			return;
		}
		ret = splitnet_change(&c->split, r->split_mode, r->split_add,
				      r->split_net, r->n_split_net, c->conf,
				      &to, why, sizeof(why));
		if (!ret && r->split_add &&
		    split_endpoints_clash(c, &to, why, sizeof(why)))
			ret = -EINVAL;
		if (ret) {
			snprintf(msg, sizeof(msg), "split %s: %s",
				 splitnet_mode_name(r->split_mode), why);
			out_end(cn, ret, msg);
			return;
		}
		opens = r->split_add == (r->split_mode == CONF_SPLIT_EXCLUDE);
		ret = split_set(c, &to, opens);
		if (ret) {
			out_end(cn, ret, c->error);
			return;
		}
		log_msg(c->dev, LOG_LEVEL_VERBOSE, "split: %s %s, %u network(s)",
			splitnet_mode_name(r->split_mode),
			r->split_add ? "added" : "removed", c->split.n);
		if (r->split_save) {
			struct splitnet_set back = c->split;

			ret = split_save(c, msg, sizeof(msg));
			if (ret) {
				/* Nothing half-way: the run-time change goes
				 * too. */
				splitnet_change(&back, r->split_mode,
						!r->split_add, r->split_net,
						r->n_split_net, NULL, &to, why,
						sizeof(why));
				split_set(c, &to, !opens);
				out_end(cn, ret, msg);
				return;
			}
			out_add(cn, "saved=%s\n", c->conf->path);
		}
	}
	out_add(cn, "state=%s\n", state_name(c->state));
	out_add(cn, "kill_switch=%s\n", ksfile_mode_name(c->ksf.mode));
	out_add(cn, "kill_switch_scope=%s\n", split_scope(c));
	add_split_lines(c, cn);
	out_end(cn, 0, NULL);
	if (c->state == CLIENT_DISCONNECTED)
		after_disconnected(c, cn);
}

static void handle_request(struct client *c, struct control_conn *cn,
			   const struct control_request *r)
{
	char msg[CONF_ERR_LEN];
	int ret;

	msg[0] = '\0';
	if (!strcmp(r->op, "status")) {
		reply_status(c, cn);
	} else if (!strcmp(r->op, "servers")) {
		reply_servers(c, cn);
	} else if (!strcmp(r->op, "probe")) {
		ret = probe_start(c, r->select ? r->select :
					 CONF_SELECT_FASTEST,
				  r->select ? r->select_value : NULL,
				  r->timeout_ms ? r->timeout_ms :
						  c->conf->probe_timeout_ms,
				  msg, sizeof(msg));
		if (ret)
			out_end(cn, ret, msg);
		else
			cn->waiting_probe = true;
	} else if (!strcmp(r->op, "up")) {
		enum conf_select sel = r->select;
		const char *value = r->select_value;

		/* The profile's server = fastest|country:|city: when the
		 * request names nothing. */
		if (!r->has_server && !sel && c->conf->select > CONF_SELECT_ID) {
			sel = c->conf->select;
			value = c->conf->select_value;
		}
		if (sel > CONF_SELECT_ID)
			ret = client_up_select(c, sel, value, msg,
					       sizeof(msg));
		else
			ret = client_up(c, r->has_server ? r->server : NULL,
					msg, sizeof(msg));
		if (ret == 1) {
			cn->waiting_up = true;
		} else if (ret == 0) {
			reply_up(c, cn, 0, NULL);
		} else {
			out_end(cn, ret, msg);
			/* The daemon runs only while a connection is wanted,
			 * or a table guarded: a refused first up leaves
			 * nothing behind, unless the kill switch blocks (then
			 * "down" must still find someone to ask). */
			if ((c->state == CLIENT_DISCONNECTED ||
			     c->state == CLIENT_ERROR) &&
			    ks_rules(c) == KILLSWITCH_RULES_NONE)
				c->exit_after_reply = true;
		}
	} else if (!strcmp(r->op, "down")) {
		/* An up still choosing a server chooses none, and no
		 * failover goes on. */
		c->probe_for_up = false;
		c->probe_for_failover = false;
		c->chosen = NULL;
		ev_timer_stop(c->dev->loop, &c->chosen_timer);
		answer_waiting(c, -ECANCELED, "disconnected (vpnctl down)");
		teardown(c);
		split_stop(c);
		/* "on" stops blocking on down; "lockdown" goes on blocking.
		 * Down must succeed: a state file that cannot be written
		 * only costs the next start a hold. */
		if (ks_set(c, c->ksf.mode, c->ksf.allow_lan,
			   KILLSWITCH_DISCONNECTED, NULL)) {
			/* The file keeps hold=yes, which errs on the safe
			 * side; the kernel must still lose the tunnel's
			 * rules. */
			log_msg(c->dev, LOG_LEVEL_ERROR, "%s", c->error);
			killswitch_release(&c->ks);
			if (ks_apply(c, KILLSWITCH_DISCONNECTED, NULL))
				log_msg(c->dev, LOG_LEVEL_ERROR, "%s",
					c->error);
		}
		out_end(cn, 0, NULL);
		after_disconnected(c, cn);
	} else if (!strcmp(r->op, "killswitch")) {
		handle_killswitch(c, cn, r);
	} else if (!strcmp(r->op, "split")) {
		handle_split(c, cn, r);
	} else if (splitapp_request_op(r->op)) {
		handle_splitapp(c, cn, r->op, &r->split);
	} else {
		out_end(cn, -EINVAL, "unknown operation");
	}
}

/* Connections. */

static void conn_close(struct control_conn *cn)
{
	struct client *c = cn->c;
	struct control_conn **pp;

	for (pp = &c->conns; *pp; pp = &(*pp)->next)
		if (*pp == cn) {
			*pp = cn->next;
			break;
		}
	c->nconns--;
	ev_io_stop(c->dev->loop, &cn->w);
	ev_timer_stop(c->dev->loop, &cn->idle_w);
	close(cn->fd);
	free(cn->out);
	free(cn);
}

static void after_reply(struct client *c)
{
	if (c->exit_after_reply)
		ev_break(c->dev->loop, EVBREAK_ALL);
}

enum conn_flushed {
	CONN_CLOSED = -1,	/* and freed */
	CONN_PENDING = 0,	/* the rest goes when the socket takes it */
	CONN_SENT = 1,
};

/* Sends what it can: enum conn_flushed. */
static int conn_flush(struct control_conn *cn)
{
	struct client *c = cn->c;
	bool closing;
	ssize_t n;

	while (cn->out_len) {
		n = send(cn->fd, cn->out, cn->out_len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			ev_io_stop(c->dev->loop, &cn->w);
			ev_io_set(&cn->w, cn->fd, EV_WRITE);
			ev_io_start(c->dev->loop, &cn->w);
			return CONN_PENDING;
		}
		if (n <= 0) {
			conn_close(cn);
			after_reply(c);
			return CONN_CLOSED;
		}
		memmove(cn->out, cn->out + n, cn->out_len - (size_t)n);
		cn->out_len -= (size_t)n;
		cn->reply_start = cn->reply_start > (size_t)n ?
				  cn->reply_start - (size_t)n : 0;
		ev_timer_again(c->dev->loop, &cn->idle_w);
	}
	if (cn->out_cap > CONTROL_OUT_KEEP) {
		free(cn->out);
		cn->out = NULL;
		cn->out_cap = 0;
	}
	ev_io_stop(c->dev->loop, &cn->w);
	ev_io_set(&cn->w, cn->fd, EV_READ);
	ev_io_start(c->dev->loop, &cn->w);
	closing = cn->closing;
	if (closing)
		conn_close(cn);
	after_reply(c);
	return closing ? CONN_CLOSED : CONN_SENT;
}

static bool conn_waiting(const struct control_conn *cn)
{
	return cn->waiting_up || cn->waiting_probe;
}

/* Handles the first complete request in the input buffer, if there is
 * one and no reply is waiting to be sent; whether it did. */
static bool conn_process_one(struct control_conn *cn)
{
	struct control_request r;
	char msg[256];
	size_t used;
	int ret;

	if (conn_waiting(cn) || cn->out_len ||
	    !(used = control_request_end(cn->in, cn->in_len)))
		return false;
	cn->in[used - 2] = '\0';
	if (control_request_parse(cn->in, used - 2, &r, msg,
				  sizeof(msg))) {
		out_end(cn, -EINVAL, msg);
	} else if ((ret = control_request_access(&r,
			cn->peer == CONTROL_PEER_ROOT, msg,
			sizeof(msg)))) {
		log_msg(cn->c->dev, LOG_LEVEL_VERBOSE,
			"refused %s from uid %ld: needs root", r.op,
			(long)cn->uid);
		out_end(cn, ret, msg);
	} else {
		handle_request(cn->c, cn, &r);
	}
	memmove(cn->in, cn->in + used, cn->in_len - used);
	cn->in_len -= used;
	return true;
}

/*
 * Answers the complete requests in the input one at a time, each reply
 * sent before the next request is handled, so that CONTROL_REPLY_MAX
 * bounds each reply and a connection holds one.  False when the
 * connection is gone.
 */
static bool conn_serve(struct control_conn *cn)
{
	int f;

	while (conn_process_one(cn)) {
		if (conn_waiting(cn))
			break;
		f = conn_flush(cn);
		if (f != CONN_SENT)
			return f != CONN_CLOSED;
	}
	return true;
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control_conn *cn = (struct control_conn *)w;
	ssize_t n;

	(void)loop;
	if (revents & EV_WRITE) {
		if (conn_flush(cn) == CONN_SENT)
			conn_serve(cn);
		return;
	}
	n = recv(cn->fd, cn->in + cn->in_len, sizeof(cn->in) - cn->in_len - 1,
		 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* A client gone while its up waits: nothing left to tell. */
		conn_close(cn);
		return;
	}
	cn->in_len += (size_t)n;
	ev_timer_again(cn->c->dev->loop, &cn->idle_w);
	if (!conn_serve(cn))
		return;
	/* Full, and not with requests waiting their turn. */
	if (cn->in_len == sizeof(cn->in) - 1 &&
	    !control_request_end(cn->in, cn->in_len)) {
		out_end(cn, -EINVAL, "request too long");
		cn->closing = true;
	}
	if (!cn->waiting_up && !cn->waiting_probe)
		conn_flush(cn);
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control_conn *cn = (struct control_conn *)((char *)w -
		offsetof(struct control_conn, idle_w));

	(void)revents;
	/* An up or a probe answers when it is done, with its own timeout. */
	if (cn->waiting_up || cn->waiting_probe) {
		ev_timer_again(loop, w);
		return;
	}
	bound_hit(cn->c->dev, BOUND_CONTROL_IDLE, CLIENT_CONN_IDLE_MS / 1000,
		  device_now());
	conn_close(cn);
}

/*
 * Root, a member of the vpnd group (as its primary group or in the group
 * database: getgrouplist(), so that a user added to the group is served
 * without logging in again), or neither.
 */
static enum control_peer peer_identify(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct group *g;
	struct passwd *pw;
	gid_t groups[256];
	int n = 256;

	*uid = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return CONTROL_PEER_OTHER;
	*uid = cred.uid;
	if (cred.uid == 0)
		return CONTROL_PEER_ROOT;
	g = getgrnam(CONTROL_GROUP);
	if (!g)
		return CONTROL_PEER_OTHER;
	if (cred.gid == g->gr_gid)
		return CONTROL_PEER_GROUP;
	pw = getpwuid(cred.uid);
	if (!pw || getgrouplist(pw->pw_name, cred.gid, groups, &n) < 0)
		return CONTROL_PEER_OTHER;
	for (int i = 0; i < n; i++)
		if (groups[i] == g->gr_gid)
			return CONTROL_PEER_GROUP;
	return CONTROL_PEER_OTHER;
}

/*
 * Someone neither root nor in the group (a socket whose mode was opened up,
 * or a group that vanished) hears why at once, as the reply to whatever it
 * sends, and is gone: it holds no connection slot.  The reply stays
 * readable after the close (vpnctl reads it even when its send then fails).
 */
static void refuse_stranger(int fd, uid_t uid)
{
	char reply[200];
	int n;

	n = snprintf(reply, sizeof(reply),
		     "message=permission denied: uid %ld is neither root nor "
		     "a member of the group " CONTROL_GROUP "\nerrno=%d\n\n",
		     (long)uid, -EACCES);
	/* Best effort: a full socket buffer only loses the explanation. */
	if (n > 0 && (size_t)n < sizeof(reply))
		(void)send(fd, reply, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = (struct client *)((char *)w -
					     offsetof(struct client, ctl_w));
	struct control_conn *cn;
	enum control_peer peer;
	socklen_t len;
	uid_t uid;
	int fd;

	(void)revents;
	fd = accept4(c->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (c->nconns >= CLIENT_MAX_CONNS) {
		close(fd);
		bound_hit(c->dev, BOUND_CONTROL_CONNS, CLIENT_MAX_CONNS,
			  device_now());
		return;
	}
	peer = peer_identify(fd, &uid);
	if (peer == CONTROL_PEER_OTHER) {
		refuse_stranger(fd, uid);
		return;
	}
	cn = calloc(1, sizeof(*cn));
	if (!cn) {
		close(fd);
		return;
	}
	cn->peer = peer;
	cn->uid = uid;
	cn->fd = fd;
	cn->c = c;
	len = sizeof(cn->cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cn->cred, &len)) {
		close(fd);
		free(cn);
		return;
	}
	cn->next = c->conns;
	c->conns = cn;
	c->nconns++;
	ev_io_init(&cn->w, conn_cb, fd, EV_READ);
	ev_io_start(loop, &cn->w);
	ev_init(&cn->idle_w, idle_cb);
	cn->idle_w.repeat = CLIENT_CONN_IDLE_MS / 1000.0;
	ev_timer_again(loop, &cn->idle_w);
}

static int socket_open(struct client *c)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct group *g = getgrnam(CONTROL_GROUP);
	struct stat st;
	mode_t old;
	int fd, ret;

	if ((size_t)snprintf(c->ctl_path, sizeof(c->ctl_path), "%s/%s.sock",
			     c->rundir, c->dev->ifname) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, c->ctl_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && !connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		close(fd);
		c->ctl_path[0] = '\0';
		return -EADDRINUSE;
	}
	if (fd >= 0)
		close(fd);
	unlink(c->ctl_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	/* Started with the group already (systemd's Group=vpnd), there is
	 * nothing to change: the unit's sandbox may forbid chown(2). */
	if (!ret && g && (stat(c->ctl_path, &st) || st.st_gid != g->gr_gid))
		ret = chown(c->ctl_path, 0, g->gr_gid);
	if (!ret)
		ret = chmod(c->ctl_path, g ? 0660 : 0600);
	if (ret || listen(fd, 16)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	c->ctl_fd = fd;
	ev_io_init(&c->ctl_w, accept_cb, fd, EV_READ);
	ev_io_start(c->dev->loop, &c->ctl_w);
	return 0;
}

/*
 * What the kill switch starts as: the state file's mode and allow_lan,
 * unless the profile changed since the file was written (then the
 * profile's: the last change wins); held when the file says so.  A file
 * that is missing or that we cannot vouch for says nothing we may trust:
 * the profile's values, held, so that nothing opens before the user's
 * word.
 */
static void ks_load(struct client *c)
{
	static const enum killswitch_mode modes[] = {
		[CONF_KILL_SWITCH_OFF] = KILLSWITCH_OFF,
		[CONF_KILL_SWITCH_ON] = KILLSWITCH_ON,
		[CONF_KILL_SWITCH_LOCKDOWN] = KILLSWITCH_LOCKDOWN,
	};
	enum killswitch_mode pmode = modes[c->conf->kill_switch];
	bool plan = c->conf->allow_lan;
	char err[KSFILE_ERR_LEN];
	struct ksfile f;
	int ret;

	ret = ksfile_load(ksfile_dir(), &f, err, sizeof(err));
	if (ret) {
		/* Fail closed either way; but only a file that an earlier
		 * daemon wrote and that is now gone is worth an alarm. */
		if (ret == -ENOENT && c->first_run)
			log_msg(c->dev, LOG_LEVEL_VERBOSE,
				"first run: no kill switch state in %s yet; "
				"blocking until up, down or killswitch",
				ksfile_dir());
		else if (ret == -ENOENT)
			log_msg(c->dev, LOG_LEVEL_ERROR,
				"no kill switch state file in %s: blocking "
				"until up, down or killswitch", ksfile_dir());
		else
			log_msg(c->dev, LOG_LEVEL_ERROR,
				"kill switch state file: %s: blocking until "
				"up, down or killswitch", err);
		f = (struct ksfile){ .mode = pmode, .allow_lan = plan,
				     .hold = true, .arp_ignore = -1 };
	}
	if (f.profile_mode != pmode || ret)
		f.mode = pmode;
	if (f.profile_allow_lan != plan || ret)
		f.allow_lan = plan;
	f.profile_mode = pmode;
	f.profile_allow_lan = plan;
	c->ksf = f;
}

/* A daemon that died raised arp_ignore: put back the value it found,
 * unless someone changed it since. */
static void arp_recover(struct client *c)
{
	int ret;

	if (c->ksf.arp_ignore < 0)
		return;
	c->arp = (struct killswitch_arp){ .name = "all",
					  .old = c->ksf.arp_ignore,
					  .ours = KILLSWITCH_ARP_IGNORE };
	ret = killswitch_arp_restore(&c->arp);
	if (ret)
		log_msg(c->dev, LOG_LEVEL_ERROR, "arp_ignore: %s",
			strerror(-ret));
	memset(&c->arp, 0, sizeof(c->arp));
	c->ksf.arp_ignore = -1;
}

/*
 * A table left by a daemon that died keeps blocking: it is taken over in
 * one transaction, never deleted first, and held until the user says up,
 * down or killswitch.  The state file must be writable: without it, the
 * promises that outlive the daemon cannot be kept.
 */
static int killswitch_start(struct client *c)
{
	struct killswitch_state st;
	bool found = false;
	int ret;

	ret = firewall_open(&c->fw);
	if (ret) {
		fprintf(stderr, "vpnd: cannot open nftables: %s\n",
			strerror(-ret));
		return ret;
	}
	killswitch_init(&c->ks, c->fw);
	c->ks_ready = true;
	/* Before the kill switch's takeover, which lets bypassing
	 * applications through only if it knows of them. */
	if (split_start(c, false))
		log_msg(c->dev, LOG_LEVEL_ERROR, "%s", c->error);
	ks_load(c);
	if (c->ksf.hold)
		killswitch_hold(&c->ks);
	ks_fill(c, KILLSWITCH_DISCONNECTED, NULL, &st);
	ret = killswitch_takeover(&c->ks, &st, &found);
	if (ret) {
		fprintf(stderr, "vpnd: kill switch: %s\n",
			killswitch_strerror(&c->ks));
		return ret;
	}
	if (found)
		log_msg(c->dev, LOG_LEVEL_ERROR,
			"kill switch table from an earlier run taken over");
	c->ksf.hold = c->ks.held;
	arp_recover(c);
	ret = ks_save(c);
	if (ret)
		fprintf(stderr, "vpnd: %s\n", c->error);
	return ret;
}

/* VPND_UP_TIMEOUT, in seconds, bounds how long an up=1 reply waits. */
static uint64_t up_timeout_setting(void)
{
	return env_seconds_ns("VPND_UP_TIMEOUT", 3600,
			      (uint64_t)CLIENT_UP_TIMEOUT_MS * 1000000ULL);
}

int client_load(struct client *c, const char *profile)
{
	char err[CONF_ERR_LEN];
	const char *rundir = getenv("VPND_RUNDIR");
	const struct conf_server_entry *chosen;
	char msg[SPLITNET_ERR_LEN];
	int ret;

	memset(c, 0, sizeof(*c));
	c->ctl_fd = -1;
	c->lock_fd = -1;
	splitapp_init(&c->sa);
	snprintf(c->rundir, sizeof(c->rundir), "%s",
		 rundir && *rundir ? rundir : "/run/vpnd");
	ret = conf_client_load(profile, &c->conf, err, sizeof(err));
	if (!ret)
		ret = conf_servers_load_for(c->conf, &c->servers,
					err, sizeof(err));
	/* An unknown default server is an error in the profile, now. */
	if (!ret && c->conf->server)
		ret = conf_servers_resolve(c->servers, c->conf, NULL, &chosen,
					   err, sizeof(err));
	if (!ret) {
		c->split.mode = c->conf->split_mode;
		c->split.n = c->conf->n_split;
		memcpy(c->split.net, c->conf->split_net,
		       sizeof(c->split.net[0]) * c->split.n);
		if (split_endpoints_clash(c, &c->split, msg, sizeof(msg))) {
			snprintf(err, sizeof(err), "%s:%u: [split] %s: %s",
				 c->conf->path, c->conf->split_line,
				 splitnet_mode_name(c->split.mode), msg);
			ret = -EINVAL;
		}
	}
	if (ret)
		fprintf(stderr, "vpnd: %s\n", err);
	return ret;
}

int client_connect(struct client *c)
{
	char msg[200];
	int ret;

	/* As an up request that names nothing: the profile's server, or
	 * its selection (fastest, country:, city:), probed first. */
	if (c->conf->select > CONF_SELECT_ID)
		ret = client_up_select(c, c->conf->select,
				       c->conf->select_value, msg, sizeof(msg));
	else
		ret = client_up(c, NULL, msg, sizeof(msg));
	if (ret < 0) {
		fprintf(stderr, "vpnd: %s\n", msg);
		return ret;
	}
	c->notify_pending = true;
	if (c->server)
		notify_status("connecting to %s", c->server->id);
	else
		notify_status("choosing a server");
	return 0;
}

int client_start(struct client *c, struct device *dev)
{
	char err[RUNDIR_ERR_LEN];
	int ret;

	c->dev = dev;
	ret = rundir_make(ksfile_dir(), 0755, NULL, err, sizeof(err));
	if (!ret)
		ret = rundir_make(c->rundir, 0755, NULL, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "vpnd: %s\n", err);
		return ret;
	}
	/* One client per host: the kill switch's table and state file,
	 * resolv.conf and the routing rules are the host's. */
	ret = ksfile_lock(ksfile_dir(), &c->lock_fd, &c->first_run);
	if (ret) {
		fprintf(stderr, "vpnd: %s: %s\n",
			ret == -EBUSY ? "another vpnd client runs on this host "
					"and owns the kill switch" :
					"cannot lock the kill switch's state",
			ret == -EBUSY ? "one per host" : strerror(-ret));
		return ret;
	}
	ret = netlink_open(&c->nl);
	if (ret) {
		fprintf(stderr, "vpnd: cannot open netlink: %s\n",
			strerror(-ret));
		return ret;
	}
	dns_init(&c->dns, "/etc/resolv.conf", c->rundir, dev->ifname);
	resolved_init(&c->resolved, c->rundir, dev->ifname);
	ret = socket_open(c);
	if (ret) {
		fprintf(stderr, "vpnd: cannot serve %s/%s.sock: %s\n",
			c->rundir, dev->ifname,
			ret == -EADDRINUSE ? "another daemon serves it" :
					     strerror(-ret));
		return ret;
	}
	/* A daemon that died while up left resolv.conf ours: give it back. */
	ret = dns_recover(&c->dns);
	if (ret)
		log_msg(dev, LOG_LEVEL_ERROR, "cannot restore %s: %s",
			c->dns.path, strerror(-ret));
	/* And what it left with systemd-resolved, on a link that survived. */
	if (resolved_recover(&c->resolved))
		log_msg(dev, LOG_LEVEL_ERROR, "%s", c->resolved.err);
	ev_timer_init(&c->poll_w, poll_cb, 0.0, 0.0);
	for (int i = 0; i < 2; i++) {
		ev_init(&c->probe_io[i], probe_io_cb);
		c->probe_io[i].data = c;
	}
	ev_timer_init(&c->probe_timer, probe_timer_cb, 0.0, 0.0);
	c->probe_timer.data = c;
	ev_timer_init(&c->chosen_timer, chosen_cb, 0.0, 0.0);
	c->chosen_timer.data = c;
	ev_timer_init(&c->failover_w, failover_cb,
		      CLIENT_FAILOVER_TICK_MS / 1000.0,
		      CLIENT_FAILOVER_TICK_MS / 1000.0);
	c->failover_w.data = c;
	ev_timer_start(dev->loop, &c->failover_w);
	c->server_rtt_ns = -1;
	c->up_timeout = up_timeout_setting();
	return killswitch_start(c);
}

void client_stop(struct client *c)
{
	if (c->dev && c->fw && c->nl && splitapp_active(&c->sa)) {
		split_stop(c);
		/* Connected, the teardown below applies the kill switch
		 * anyway; disconnected, it must forget the mark now. */
		if (c->state == CLIENT_DISCONNECTED)
			split_ks_update(c);
	}
	if (c->dev && c->state != CLIENT_DISCONNECTED) {
		/* Stopped while a connection was wanted (a signal, not
		 * "down"): the kill switch, if there is one, goes on
		 * blocking without us. */
		if (c->ks_ready && c->ksf.mode != KILLSWITCH_OFF)
			killswitch_hold(&c->ks);
		teardown(c);
		ks_apply(c, KILLSWITCH_DISCONNECTED, NULL);
	}
	if (c->dev) {
		probe_stop(c);
		ev_timer_stop(c->dev->loop, &c->chosen_timer);
		ev_timer_stop(c->dev->loop, &c->failover_w);
	}
	free(c->select_value);
	free(c->probe_value);
	c->select_value = c->probe_value = NULL;
	if (c->ks_ready)
		killswitch_free(&c->ks);
	c->ks_ready = false;
	if (c->fw)
		firewall_close(c->fw);
	c->fw = NULL;
	/* No new client finds this daemon; those connected learn that it is
	 * gone only in client_free(), once its interface is gone too, so
	 * that whatever they do next finds none of it in the way. */
	if (c->ctl_fd >= 0) {
		ev_io_stop(c->dev->loop, &c->ctl_w);
		close(c->ctl_fd);
		c->ctl_fd = -1;
	}
	if (c->ctl_path[0])
		unlink(c->ctl_path);
	for (struct control_conn *cn = c->conns; cn; cn = cn->next)
		ev_io_stop(c->dev->loop, &cn->w);
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	c->lock_fd = -1;
	dns_free(&c->dns);
	if (c->nl)
		netlink_close(c->nl);
	conf_servers_free(c->servers);
	conf_client_free(c->conf);
	c->nl = NULL;
	c->servers = NULL;
	c->conf = NULL;
}

/*
 * The boot unit's kill switch (vpnd --killswitch-boot): before any network
 * is up, block as a daemon would at its start, from the state file alone:
 * in lockdown, when a connection was wanted when the machine went down
 * (hold), or when the file is missing or corrupt (then without the LAN,
 * as nothing says it was allowed).  A table already there belongs to a
 * running daemon, or to an earlier run of this: it is left alone.
 */
int client_killswitch_boot(void)
{
	struct killswitch_state st = {
		.mode = KILLSWITCH_LOCKDOWN,
		.phase = KILLSWITCH_DISCONNECTED,
		.fwmark = CLIENT_FWMARK,
	};
	char err[KSFILE_ERR_LEN];
	struct firewall *fw;
	struct killswitch ks;
	bool exists = false;
	struct ksfile f;
	int ret;

	ret = ksfile_load(ksfile_dir(), &f, err, sizeof(err));
	if (ret == -ENOENT) {
		fprintf(stderr, "vpnd: no kill switch state file in %s: "
				"blocking\n", ksfile_dir());
	} else if (ret) {
		fprintf(stderr, "vpnd: kill switch state file: %s: blocking\n",
			err);
	} else if (f.mode != KILLSWITCH_LOCKDOWN && !f.hold) {
		printf("vpnd: kill switch %s, no connection wanted: not "
		       "blocking\n", ksfile_mode_name(f.mode));
		return 0;
	} else {
		st.allow_lan = f.allow_lan;
	}
	ret = firewall_open(&fw);
	if (ret) {
		fprintf(stderr, "vpnd: cannot open nftables: %s\n",
			strerror(-ret));
		return ret;
	}
	ret = firewall_table_exists(fw, FIREWALL_INET, KILLSWITCH_TABLE,
				    &exists);
	if (!ret && exists) {
		printf("vpnd: kill switch table already in place: left as "
		       "it is\n");
		goto out;
	}
	killswitch_init(&ks, fw);
	ret = killswitch_apply(&ks, &st);
	if (ret)
		fprintf(stderr, "vpnd: kill switch: %s\n",
			killswitch_strerror(&ks));
	else
		printf("vpnd: kill switch blocking%s\n",
		       st.allow_lan ? ", except the LAN" : "");
	killswitch_free(&ks);
out:
	firewall_close(fw);
	return ret;
}

void client_free(struct client *c)
{
	struct control_conn *cn, *next;

	if (!c)
		return;
	for (cn = c->conns; cn; cn = next) {
		next = cn->next;
		close(cn->fd);
		free(cn->out);
		free(cn);
	}
	c->conns = NULL;
	free(c);
}
