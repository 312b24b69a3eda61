/* SPDX-License-Identifier: MIT */
/*
 * Logging, with wireguard-go's levels (LOG_LEVEL=error|verbose|silent).
 * Lines name peers by their server config name or a small number, never by
 * key or address, unless the operator asked for it (VPND_LOG_SENSITIVE=1,
 * or log_sensitive = yes in a server config); log_peer() writes that name.
 */
#ifndef VPND_LOG_H
#define VPND_LOG_H

#include <stddef.h>

struct device;
struct peer;

enum log_level {
	LOG_LEVEL_SILENT = 0,
	LOG_LEVEL_ERROR = 1,
	LOG_LEVEL_VERBOSE = 2,
};

enum log_level log_level_from_env(void);
void log_msg(const struct device *dev, enum log_level level, const char *fmt,
	     ...) __attribute__((format(printf, 3, 4)));
/* "alice" or "peer 3", and with sensitive logging on, key and endpoint. */
const char *log_peer(const struct peer *p, char *buf, size_t len);

#endif /* VPND_LOG_H */
