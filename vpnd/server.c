/* SPDX-License-Identifier: MIT */
/*
 * The server role.  Start-up applies the config in steps, each recorded as
 * it succeeds: identity and port, peers, addresses and link, forwarding on
 * the tunnel and egress interfaces, then masquerading.  A failure, or the
 * daemon's exit, undoes the recorded steps in reverse, leaving forwarding
 * as it was found and no firewall table behind.
 *
 * More peers than a config file should hold arrive over the UAPI socket
 * (wg set, wg addconf) like on any engine.
 *
 * Running, the server forgets: once a second it wipes what it knows about
 * each peer whose last session expired forget_after seconds ago and that
 * has been quiet since (forget.c), and logs peers by their config names.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "env.h"
#include "firewall.h"
#include "fleet.h"
#include "forget.h"
#include "log.h"
#include "peer.h"
#include "peerset.h"
#include "server.h"

enum {
	NSEC_PER_SEC = 1000000000,
	SERVER_SCAN_SECONDS = 1,
};

int server_load(struct server *s, const char *path)
{
	char err[CONF_ERR_LEN];
	int ret;

	memset(s, 0, sizeof(*s));
	ret = conf_server_load(path, &s->conf, err, sizeof(err));
	if (ret)
		fprintf(stderr, "vpnd: %s\n", err);
	return ret;
}

static int sysctl_set(struct server_sysctl *sc, const char *family,
		      const char *ifname)
{
	char now[16];
	ssize_t n;
	int fd;

	snprintf(sc->path, sizeof(sc->path), "/proc/sys/net/%s/conf/%s/forwarding",
		 family, ifname);
	fd = open(sc->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;	/* family disabled */
	n = read(fd, now, sizeof(now) - 1);
	if (n <= 0) {
		close(fd);
		return -EIO;
	}
	now[n] = '\0';
	memcpy(sc->old, now, sizeof(now));
	if (lseek(fd, 0, SEEK_SET) || write(fd, "1\n", 2) != 2) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	sc->changed = true;
	return 0;
}

static void sysctl_restore(struct server_sysctl *sc)
{
	int fd;

	if (!sc->changed)
		return;
	fd = open(sc->path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, sc->old, strlen(sc->old)) < 0)
			fprintf(stderr, "vpnd: cannot restore %s\n", sc->path);
		close(fd);
	}
	sc->changed = false;
}

/*
 * IPv4 forwards by the flag of the interface a packet arrives on, so it is
 * switched on for the two that carry the users' traffic: the tunnel and
 * the egress interface.  IPv6 forwards only when the "all" switch is on,
 * whatever the interfaces say, so that one is set (and the kernel copies it
 * to every interface).  All are put back as found when the server stops.
 */
static int forwarding_on(struct server *s)
{
	const char *ifs[2] = { s->dev->ifname, s->conf->nat };
	unsigned int k = 0;
	int ret;

	for (int i = 0; i < 2; i++) {
		if (!*ifs[i])
			continue;
		ret = sysctl_set(&s->sysctl[k++], "ipv4", ifs[i]);
		if (ret)
			return ret;
	}
	return sysctl_set(&s->sysctl[k], "ipv6", "all");
}

static int add_peers(struct server *s)
{
	for (size_t i = 0; i < s->conf->n_peer; i++) {
		const struct conf_peer *cp = &s->conf->peer[i];
		int ret = peerset_add(s->dev, cp->name, cp->public_key,
				      cp->preshared_key, cp->allowed_ips,
				      cp->n_allowed_ips);

		if (ret)
			return ret;
	}
	return 0;
}

static int add_addresses(struct server *s)
{
	for (unsigned int i = 0; i < s->conf->n_address; i++) {
		const struct conf_prefix *a = &s->conf->address[i];
		struct netlink_prefix p;
		int ret;

		netlink_prefix_set(&p, a->family, &a->addr, a->cidr);
		ret = netlink_addr_add(s->nl, s->dev->ifindex, &p);
		if (ret)
			return ret;
		s->addresses_added++;
	}
	return 0;
}

/* The tunnel's networks, as the masquerade rule matches them. */
static int nat_up(struct server *s)
{
	struct netlink_prefix prefixes[CONF_ADDRESS_MAX];
	struct firewall_nat n = {
		.tunnel = s->dev->ifname,
		.egress = s->conf->nat,
		.prefixes = prefixes,
	};
	int ret;

	for (unsigned int i = 0; i < s->conf->n_address; i++) {
		const struct conf_prefix *a = &s->conf->address[i];

		netlink_prefix_set(&prefixes[n.n_prefixes++], a->family,
				   &a->addr, a->cidr);
	}
	ret = firewall_open(&s->fw);
	if (ret)
		return ret;
	ret = firewall_nat_up(s->fw, &n);
	s->nat_up = !ret;
	s->nat_failed = ret != 0;
	return ret;
}

static void scan(struct server *s, uint64_t now)
{
	uint64_t after = (uint64_t)s->conf->forget_after * NSEC_PER_SEC;
	char who[160];

	for (struct peer *p = s->dev->peers.head; p; p = p->list_next) {
		struct forget_times t;

		/* Never talked or forgotten: nothing to log or forget. */
		if (!p->st)
			continue;
		t = forget_times_of(p);
		if (p->st->timers.handshake_ever_completed &&
		    p->st->timers.last_handshake_complete > s->last_scan)
			log_msg(s->dev, LOG_LEVEL_VERBOSE, "%s: session started",
				log_peer(p, who, sizeof(who)));
		if (now < forget_deadline(&t, s->lifetime, after))
			continue;
		log_msg(s->dev, LOG_LEVEL_VERBOSE, "%s: idle, forgotten",
			log_peer(p, who, sizeof(who)));
		forget_peer(p, now);
	}
	s->last_scan = now;
}

static void scan_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *s = (struct server *)((char *)w -
					     offsetof(struct server, forget_w));

	(void)loop;
	(void)revents;
	scan(s, device_now());
}

static void scan_start(struct server *s)
{
	/* The integration test shortens the wait for a forgotten peer. */
	s->lifetime = env_seconds_ns("VPND_TEST_REJECT_AFTER_TIME",
				     REJECT_AFTER_TIME,
				     (uint64_t)REJECT_AFTER_TIME * NSEC_PER_SEC);
	s->last_scan = device_now();
	ev_timer_init(&s->forget_w, scan_cb, SERVER_SCAN_SECONDS,
		      SERVER_SCAN_SECONDS);
	ev_timer_start(s->dev->loop, &s->forget_w);
	s->forget_armed = true;
}

static void fail_message(struct server *s, const char *what, int ret)
{
	const char *why = strerror(-ret);

	/* Each module's message says more than strerror, when it failed. */
	if (s->nat_failed)
		why = firewall_strerror(s->fw);
	else if (s->nl && ret != -ENOMEM)
		why = netlink_strerror(s->nl);
	fprintf(stderr, "vpnd: %s: %s: %s\n", s->conf->path, what, why);
}

int server_start(struct server *s, struct device *dev)
{
	const char *what;
	int ret;

	s->dev = dev;
	/* The operator's choice in the config, not the environment's. */
	dev->log_sensitive = s->conf->log_sensitive;
	what = "setting the private key";
	ret = device_set_private_key(dev, s->conf->private_key);
	if (ret)
		goto fail;
	what = "binding the listen port";
	ret = device_set_listen_port(dev, s->conf->listen_port);
	if (ret)
		goto fail;
	what = "adding the peers";
	ret = add_peers(s);
	if (ret)
		goto fail;
	if (s->conf->fleet) {
		char ferr[CONF_ERR_LEN];

		ret = fleet_start(&s->fleet, dev, s->conf, ferr, sizeof(ferr));
		if (ret) {
			fprintf(stderr, "vpnd: %s: [fleet] %s\n", s->conf->path,
				ferr);
			server_stop(s);
			return ret;
		}
	}
	what = "opening netlink";
	ret = netlink_open(&s->nl);
	if (ret)
		goto fail;
	what = "adding the addresses";
	ret = add_addresses(s);
	if (ret)
		goto fail;
	what = "bringing the interface up";
	ret = netlink_link_set_up(s->nl, dev->ifindex, true);
	if (ret)
		goto fail;
	device_set_up(dev, true);
	what = "enabling forwarding";
	ret = forwarding_on(s);
	if (ret)
		goto fail;
	if (s->conf->nat[0]) {
		what = "setting up masquerading";
		ret = nat_up(s);
		if (ret)
			goto fail;
	}
	scan_start(s);
	return 0;
fail:
	fail_message(s, what, ret);
	server_stop(s);
	return ret;
}

void server_stop(struct server *s)
{
	if (s->forget_armed)
		ev_timer_stop(s->dev->loop, &s->forget_w);
	s->forget_armed = false;
	if (s->nat_up && !firewall_nat_down(s->fw, s->dev->ifname))
		s->nat_up = false;
	if (s->fw)
		firewall_close(s->fw);
	s->fw = NULL;
	for (int i = SERVER_SYSCTLS - 1; i >= 0; i--)
		sysctl_restore(&s->sysctl[i]);
	if (s->dev && s->nl) {
		while (s->addresses_added) {
			const struct conf_prefix *a =
				&s->conf->address[--s->addresses_added];
			struct netlink_prefix p;

			netlink_prefix_set(&p, a->family, &a->addr, a->cidr);
			netlink_addr_del(s->nl, s->dev->ifindex, &p);
		}
	}
	fleet_stop(s->fleet);
	s->fleet = NULL;
	if (s->dev)
		device_remove_all_peers(s->dev);
	if (s->nl)
		netlink_close(s->nl);
	s->nl = NULL;
	conf_server_free(s->conf);
	s->conf = NULL;
}
