/* SPDX-License-Identifier: MIT */
/*
 * systemd-resolved over D-Bus, for desktops that resolve through it.
 *
 * Writing /etc/resolv.conf there does nothing useful: it points at
 * resolved's stub, and resolved sends each query to the links whose
 * settings match it.  So we tell resolved about the tunnel link instead:
 * SetLinkDNS (the profile's resolvers), SetLinkDomains with the routing
 * domain "~." (every name matches it, so links without a routing domain,
 * the physical ones, get no query: no leak through their resolvers), and
 * SetLinkDefaultRoute.  RevertLink on down forgets all three.
 *
 * The link goes away with a killed daemon, and resolved forgets its
 * settings with it; a record of the link we configured lets the next
 * start revert it should it have survived (a link kept by someone else),
 * and never touches a link that is not the one recorded.
 *
 * Calls are synchronous with a short timeout: they happen on up and down
 * only, which wait on the system anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resolved.h"

#define RESOLVE1 "org.freedesktop.resolve1"
#define RESOLVE1_PATH "/org/freedesktop/resolve1"
#define RESOLVE1_MANAGER "org.freedesktop.resolve1.Manager"

void resolved_init(struct resolved_state *r, const char *rundir,
		   const char *ifname)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->record, sizeof(r->record), "%s/%s.resolved", rundir,
		 ifname);
	snprintf(r->ifname, sizeof(r->ifname), "%s", ifname);
}

/* sd-bus, loaded on first use: a tunnel without resolved never maps it. */
static int sd_load(struct resolved_state *r)
{
	int ret;

	if (r->sd_open)
		return 0;
	char why[sizeof(r->err) - 20];

	ret = resolved_sdbus_open(&r->sd, why, sizeof(why));
	if (ret)
		snprintf(r->err, sizeof(r->err), "systemd-resolved: %s", why);
	r->sd_open = !ret;
	return ret;
}

static int bus_open(struct resolved_state *r, sd_bus **bus)
{
	int ret;

	ret = sd_load(r);
	if (ret < 0)
		return ret;
	/* DBUS_SYSTEM_BUS_ADDRESS, when set, names the bus. */
	ret = r->sd.open_system(bus);
	if (ret < 0)
		return ret;
	r->sd.set_method_call_timeout(*bus,
				      RESOLVED_CALL_TIMEOUT_MS * 1000ULL);
	return 0;
}

bool resolved_running(struct resolved_state *r)
{
	const struct resolved_sdbus *sd = &r->sd;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	sd_bus *bus = NULL;
	int has = 0;

	if (bus_open(r, &bus))
		return false;
	if (sd->call_method(bus, "org.freedesktop.DBus",
			       "/org/freedesktop/DBus", "org.freedesktop.DBus",
			       "NameHasOwner", &err, &reply, "s",
			       RESOLVE1) < 0 ||
	    sd->message_read(reply, "b", &has) < 0)
		has = 0;
	sd->error_free(&err);
	sd->message_unref(reply);
	sd->flush_close_unref(bus);
	return has;
}

static int fail(struct resolved_state *r, const char *what, int ret,
		const sd_bus_error *err)
{
	snprintf(r->err, sizeof(r->err), "systemd-resolved %s: %s", what,
		 err && err->message ? err->message : strerror(-ret));
	return ret < 0 ? ret : -EIO;
}

/* A bus that did not open; a library that did not load said why. */
static int bus_fail(struct resolved_state *r, int ret)
{
	return r->sd_open ? fail(r, "bus", ret, NULL) : ret;
}

static int set_dns(const struct resolved_sdbus *sd, sd_bus *bus, int ifindex,
		   const struct conf_prefix *servers, unsigned int n,
		   sd_bus_error *err)
{
	sd_bus_message *m = NULL;
	int ret;

	ret = sd->message_new_method_call(bus, &m, RESOLVE1, RESOLVE1_PATH,
					     RESOLVE1_MANAGER, "SetLinkDNS");
	if (ret >= 0)
		ret = sd->message_append(m, "i", ifindex);
	if (ret >= 0)
		ret = sd->message_open_container(m, 'a', "(iay)");
	for (unsigned int i = 0; ret >= 0 && i < n; i++) {
		size_t len = servers[i].family == AF_INET6 ? 16 : 4;

		ret = sd->message_open_container(m, 'r', "iay");
		if (ret >= 0)
			ret = sd->message_append(m, "i", servers[i].family);
		if (ret >= 0)
			ret = sd->message_append_array(m, 'y',
							  &servers[i].addr,
							  len);
		if (ret >= 0)
			ret = sd->message_close_container(m);
	}
	if (ret >= 0)
		ret = sd->message_close_container(m);
	if (ret >= 0)
		ret = sd->call(bus, m, 0, err, NULL);
	sd->message_unref(m);
	return ret;
}

static int revert_link(const struct resolved_sdbus *sd, sd_bus *bus,
		       int ifindex, sd_bus_error *err)
{
	return sd->call_method(bus, RESOLVE1, RESOLVE1_PATH,
				  RESOLVE1_MANAGER, "RevertLink", err, NULL,
				  "i", ifindex);
}

static void record_write(const struct resolved_state *r)
{
	char line[32];
	int fd, n;

	fd = open(r->record, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
				     O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%d\n", r->ifindex);
	if (write(fd, line, (size_t)n) != n)
		unlink(r->record);
	close(fd);
}

/* resolved may not have seen the link yet: "Link N not known". */
static bool link_unknown(const struct resolved_sdbus *sd,
			 const sd_bus_error *err)
{
	return sd->error_has_name(err, "org.freedesktop.resolve1.NoSuchLink");
}

int resolved_apply(struct resolved_state *r, int ifindex,
		   const struct conf_prefix *servers, unsigned int n)
{
	const struct resolved_sdbus *sd = &r->sd;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	const char *step = "SetLinkDNS";
	int ret, tries = RESOLVED_LINK_WAIT_MS / 50;

	r->err[0] = '\0';
	ret = bus_open(r, &bus);
	if (ret < 0)
		return bus_fail(r, ret);
	r->ifindex = ifindex;
	/* Recorded before the first change: a crash from here on is
	 * reverted by the next start. */
	record_write(r);
	while ((ret = set_dns(sd, bus, ifindex, servers, n, &err)) < 0 &&
	       link_unknown(sd, &err) && --tries > 0) {
		sd->error_free(&err);
		usleep(50 * 1000);
	}
	if (ret >= 0) {
		step = "SetLinkDomains";
		ret = sd->call_method(bus, RESOLVE1, RESOLVE1_PATH,
					 RESOLVE1_MANAGER, "SetLinkDomains",
					 &err, NULL, "ia(sb)", ifindex, 1, ".",
					 1);
	}
	if (ret >= 0) {
		step = "SetLinkDefaultRoute";
		ret = sd->call_method(bus, RESOLVE1, RESOLVE1_PATH,
					 RESOLVE1_MANAGER,
					 "SetLinkDefaultRoute", &err, NULL,
					 "ib", ifindex, 1);
	}
	if (ret < 0) {
		ret = fail(r, step, ret, &err);
		sd->error_free(&err);
		revert_link(sd, bus, ifindex, NULL);
		unlink(r->record);
		r->ifindex = 0;
	}
	sd->flush_close_unref(bus);
	return ret < 0 ? ret : 0;
}

int resolved_revert(struct resolved_state *r)
{
	const struct resolved_sdbus *sd = &r->sd;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	int ret;

	if (!r->ifindex)
		return 0;
	ret = bus_open(r, &bus);
	if (ret < 0)
		return bus_fail(r, ret);
	ret = revert_link(sd, bus, r->ifindex, &err);
	/* A link resolved no longer knows has nothing left to revert. */
	if (ret < 0 && link_unknown(sd, &err))
		ret = 0;
	if (ret < 0)
		fail(r, "RevertLink", ret, &err);
	sd->error_free(&err);
	sd->flush_close_unref(bus);
	if (ret >= 0) {
		unlink(r->record);
		r->ifindex = 0;
	}
	return ret < 0 ? ret : 0;
}

int resolved_recover(struct resolved_state *r)
{
	char line[32] = "", name[IF_NAMESIZE];
	int fd, ifindex, ret = 0;
	ssize_t n;

	fd = open(r->record, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	ifindex = n > 0 ? atoi(line) : 0;
	/* Only the link recorded, and only while it still bears our name:
	 * an index reused by another link is not ours to revert. */
	if (ifindex > 0 && if_indextoname((unsigned int)ifindex, name) &&
	    !strcmp(name, r->ifname) && resolved_running(r)) {
		r->ifindex = ifindex;
		ret = resolved_revert(r);
	}
	unlink(r->record);
	r->ifindex = 0;
	return ret;
}
