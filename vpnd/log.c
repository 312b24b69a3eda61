/* SPDX-License-Identifier: MIT */
/*
 * Log lines go to stderr, which the daemonized process points at
 * /dev/null, as wireguard-go does; under systemd they reach the journal.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vpn/key.h>

#include "device.h"
#include "log.h"

enum log_level log_level_from_env(void)
{
	const char *v = getenv("LOG_LEVEL");

	if (!v || !strcmp(v, "error"))
		return LOG_LEVEL_ERROR;
	if (!strcmp(v, "verbose") || !strcmp(v, "debug"))
		return LOG_LEVEL_VERBOSE;
	if (!strcmp(v, "silent"))
		return LOG_LEVEL_SILENT;
	return LOG_LEVEL_ERROR;
}

void log_msg(const struct device *dev, enum log_level level, const char *fmt,
	     ...)
{
	char line[512];
	va_list ap;

	if (level > dev->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s: %s\n",
		level == LOG_LEVEL_ERROR ? "ERROR" : "DEBUG", dev->ifname, line);
}

/*
 * "alice" (a server config's name) or "peer 3"; with sensitive logging on,
 * followed by "(KEY, ADDRESS:PORT)".
 */
const char *log_peer(const struct peer *p, char *buf, size_t len)
{
	char key[KEY_BASE64_LEN + 1], addr[INET6_ADDRSTRLEN] = "";
	char name[32];
	unsigned int port = 0;
	const char *who = p->name;
	static const union endpoint none;
	const union endpoint *ep;

	if (!who) {
		snprintf(name, sizeof(name), "peer %llu",
			 (unsigned long long)p->id);
		who = name;
	}
	if (!p->dev->log_sensitive) {
		snprintf(buf, len, "%s", who);
		return buf;
	}
	key_to_base64(key, p->remote.public_key);
	ep = p->st ? &p->st->endpoint : &none;
	if (ep->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &ep->sin.sin_addr, addr,
			  sizeof(addr));
		port = ntohs(ep->sin.sin_port);
	} else if (ep->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &ep->sin6.sin6_addr, addr,
			  sizeof(addr));
		port = ntohs(ep->sin6.sin6_port);
	}
	if (!port)
		snprintf(buf, len, "%s (%s, no endpoint)", who, key);
	else if (ep->sa.sa_family == AF_INET6)
		snprintf(buf, len, "%s (%s, [%s]:%u)", who, key, addr, port);
	else
		snprintf(buf, len, "%s (%s, %s:%u)", who, key, addr, port);
	return buf;
}
