/* SPDX-License-Identifier: MIT */
/*
 * A provider's fleet: the server's users come from etcd, besides the
 * [peer] sections of server.conf.  Each user is one key PREFIX<NAME> whose
 * value is JSON (fleet_json.h).  At start every user is read at once; then
 * the prefix is watched from the next revision and each change applied as
 * it comes, through etcd's v3 HTTP/JSON gateway, with libcurl's multi
 * interface driven by the daemon's libev loop.
 *
 * Faults: a member that does not answer sends us to the next endpoint;
 * when none does, the current users are kept and the endpoints retried
 * with backoff and jitter.  A watch resumes from the last revision applied;
 * if etcd compacted that history meanwhile, the whole prefix is read again
 * and only the difference applied, so users that did not change keep
 * their sessions.  See docs/fleet.md.
 */
#ifndef VPND_FLEET_H
#define VPND_FLEET_H

#include <stddef.h>

#include "conf.h"

struct device;
struct fleet;
struct uapi_writer;

/*
 * Reads every user (a range read, waiting for it) and starts watching.
 * An etcd user whose name or key is a [peer] section's is an error here,
 * with a message in @err naming the etcd key.  When no endpoint answers,
 * the server starts with its [peer] sections and the fleet keeps trying in
 * the background.  Returns 0 or -errno.
 */
int fleet_start(struct fleet **out, struct device *dev,
		const struct conf_server *conf, char *err, size_t errlen);
/* Stops watching and removes the fleet's peers.  NULL is accepted. */
void fleet_stop(struct fleet *f);

/* The "fleet_*" lines of a stats=1 reply. */
int fleet_stats_write(const struct fleet *f, struct uapi_writer *w);

#endif /* VPND_FLEET_H */
