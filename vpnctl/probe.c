/* SPDX-License-Identifier: MIT */
/*
 * vpnctl servers --probe without a running vpnd: the same probe the
 * daemon runs (vpnd/servers.c), driven by poll() instead of libev, with the
 * profile's key, its server list (signature checked as vpnd would) and the
 * daemon's mark.  The results go into a reply as the daemon's probe=1
 * would send them, so that one printer serves both.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../vpnd/servers.h"
#include "ctl.h"
#include "probe.h"

/* "ADDR:PORT" or "[ADDR]:PORT", as the daemon writes endpoints. */
void probe_endpoint_text(const union conf_endpoint *e, char *buf,
			 size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (e->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &e->in6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(e->in6.sin6_port));
	} else {
		inet_ntop(AF_INET, &e->in4.sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(e->in4.sin_port));
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Waits for answers until every server answered or @timeout_ms passed. */
static void probe_wait(struct servers_probe *p, unsigned int timeout_ms)
{
	uint64_t end = servers_probe_sent_at(p) +
		       (uint64_t)timeout_ms * 1000000ULL;
	struct pollfd pfd[2];
	int fd[2], n = 0, ret;
	uint64_t now;

	servers_probe_fds(p, fd);
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0)
			pfd[n++] = (struct pollfd){ .fd = fd[i],
						    .events = POLLIN };
	while (!servers_probe_complete(p) && (now = now_ns()) < end) {
		ret = poll(pfd, (nfds_t)n,
			   (int)((end - now + 999999) / 1000000));
		if (ret < 0 && errno != EINTR)
			break;
		now = now_ns();
		for (int i = 0; i < n; i++)
			if (pfd[i].revents)
				servers_probe_input(p, pfd[i].fd, now);
	}
}

int probe_results_to_reply(const struct servers_result *r, size_t n,
			   struct ctl_reply *out)
{
	char buf[64];
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		const struct conf_server_entry *e = r[i].entry;

		ret = ctl_reply_add(out, "server", e->id);
		if (!ret)
			ret = ctl_reply_add(out, "country", e->country);
		if (!ret && e->city && *e->city)
			ret = ctl_reply_add(out, "city", e->city);
		if (!ret) {
			probe_endpoint_text(&e->endpoint, buf, sizeof(buf));
			ret = ctl_reply_add(out, "endpoint", buf);
		}
		if (!ret && r[i].rtt_ns >= 0) {
			snprintf(buf, sizeof(buf), "%lld",
				 (long long)(r[i].rtt_ns / 1000));
			ret = ctl_reply_add(out, "rtt_us", buf);
		}
	}
	return ret;
}

int probe_locally(const char *profile, enum conf_select kind,
		  const char *value, unsigned int timeout_ms,
		  struct ctl_reply *out)
{
	char err[CONF_ERR_LEN] = "";
	struct conf_client *client = NULL;
	struct conf_servers *list = NULL;
	struct servers_probe *p = NULL;
	struct servers_result *r = NULL;
	int ret;

	ret = conf_client_load(profile, &client, err, sizeof(err));
	if (!ret)
		ret = conf_servers_load_for(client, &list, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "vpnctl: %s\n", err);
		goto out;
	}
	ret = servers_probe_new(&p, list, kind, value, NULL,
				client->private_key, SERVERS_FWMARK);
	if (ret == -ENOENT) {
		fprintf(stderr, "vpnctl: %s lists no server in %s\n",
			list->path, value ? value : "it");
		goto out;
	}
	if (!ret)
		ret = servers_probe_send(p, now_ns());
	if (ret) {
		fprintf(stderr, "vpnctl: cannot probe: %s\n", strerror(-ret));
		goto out;
	}
	probe_wait(p, timeout_ms ? timeout_ms : client->probe_timeout_ms);
	r = calloc(servers_probe_count(p), sizeof(*r));
	if (!r) {
		ret = -ENOMEM;
		goto out;
	}
	servers_probe_results(p, r);
	ret = probe_results_to_reply(r, servers_probe_count(p), out);
out:
	free(r);
	servers_probe_free(p);
	conf_servers_free(list);
	conf_client_free(client);
	return ret ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}
