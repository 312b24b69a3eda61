/* SPDX-License-Identifier: MIT */
/*
 * Choosing a server from the list: which servers a selection covers
 * (fastest, a country, a city), probing them with a real WireGuard
 * handshake initiation to measure the round trip, ranking the answers, and
 * the failover state machine that moves a connection to the next server
 * when the one in use stops answering.
 *
 * The ranking, the matching and the failover machine are pure: no socket,
 * no clock they are not handed.  The probe owns two UDP sockets and is
 * driven by its caller's loop (vpnd's libev loop, or vpnctl's poll()).
 */
#ifndef VPND_SERVERS_H
#define VPND_SERVERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

enum servers_values {
	/* The client daemon's SO_MARK (control.h's CLIENT_FWMARK): probes
	 * carry it, so that the kill switch and the policy routing treat
	 * them as the daemon's own packets. */
	SERVERS_FWMARK = 0x5670,
};

/* A server's measured round trip; rtt_ns < 0: it did not answer. */
struct servers_result {
	const struct conf_server_entry *entry;
	int64_t rtt_ns;
};

/*
 * Names as the list writes them, compared without case: ASCII letters, and
 * the Latin-1 letters of UTF-8 (À to Þ against à to þ), so that "zürich"
 * finds "Zürich" and "ZÜRICH".  Other bytes compare exactly.
 */
bool servers_name_equal(const char *a, const char *b);

/* Whether @e belongs to the selection (@value: the country or city). */
bool servers_entry_matches(const struct conf_server_entry *e,
			   enum conf_select kind, const char *value);

/*
 * Sorts @r best first: the servers that answered by round trip (ties in
 * list order), then those that did not, in list order.  Returns how many
 * answered.
 */
size_t servers_rank(struct servers_result *r, size_t n);

/* "fastest", "country:se", "city:Stockholm" or the id, into @buf. */
const char *servers_selection_text(enum conf_select kind, const char *value,
				   char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Probing.                                                            */

struct servers_probe;

/*
 * Prepares a probe of every server of @list in the selection, skipping
 * @skip (the server a session runs with: an initiation from another port
 * would make it send our session's packets there).  Our identity is
 * @private_key; the sockets carry @fwmark (SO_MARK, 0: none), so that the
 * kill switch and the policy routing treat the probes as the daemon's own
 * packets.  0, -ENOENT when the selection holds no server, or -errno.
 */
int servers_probe_new(struct servers_probe **out,
		      const struct conf_servers *list, enum conf_select kind,
		      const char *value, const struct conf_server_entry *skip,
		      const uint8_t private_key[KEY_LEN], uint32_t fwmark);
void servers_probe_free(struct servers_probe *p);

/* The sockets to watch for input: up to two, -1 for none. */
void servers_probe_fds(const struct servers_probe *p, int fd[2]);
/* The servers probed, in list order, for the firewall to let through. */
size_t servers_probe_count(const struct servers_probe *p);
const struct conf_server_entry *servers_probe_entry(
	const struct servers_probe *p, size_t i);

/*
 * Sends one initiation to each server at once, @now being the monotonic
 * clock in ns.  0, or -errno when no initiation could be sent at all (a
 * server whose send fails counts as unreachable).
 */
int servers_probe_send(struct servers_probe *p, uint64_t now);
/* Reads every datagram waiting on @fd; answers are timed at @now. */
void servers_probe_input(struct servers_probe *p, int fd, uint64_t now);
/* Every server probed has answered. */
bool servers_probe_complete(const struct servers_probe *p);
/* When the last initiation went out (ns), for the caller's timeout. */
uint64_t servers_probe_sent_at(const struct servers_probe *p);

/*
 * The results, ranked (servers_rank()), into @r, which has room for
 * servers_probe_count() entries; returns how many answered.
 */
size_t servers_probe_results(const struct servers_probe *p,
			     struct servers_result *r);

/* ------------------------------------------------------------------ */
/* Failover.                                                           */

/*
 * When the server in use has stopped answering.  The daemon feeds it, every
 * tick, the last time the peer heard from the server (an authenticated
 * packet received or a handshake completed) and the last time it spoke to
 * it (an authenticated packet or an initiation sent), both on the
 * monotonic clock, 0 for never.  The server is silent once something we
 * sent has gone unanswered for @after: an idle tunnel, which sends
 * nothing, is never judged.  After a switch, each further switch without
 * an answer in between waits a growing pause on top (1, 2, 4 ... 60 s), so
 * that a host whose whole network is gone does not churn.
 */
struct servers_failover {
	uint64_t after;			/* ns; 0: failover off */
	uint64_t heard;			/* the latest "heard" seen */
	uint64_t waiting_since;		/* first unanswered send; 0: none */
	uint64_t not_before;		/* the backoff's end */
	unsigned int misses;		/* switches since the last answer */
	unsigned int count;		/* switches since up */
};

enum { SERVERS_BACKOFF_MAX_S = 60 };

/* For a connection just made by the user: counts start again. */
void servers_failover_init(struct servers_failover *f,
			   unsigned int after_s);
/* Whether to move to another server now. */
bool servers_failover_due(struct servers_failover *f, uint64_t heard,
			  uint64_t spoke, uint64_t now);
/* A switch was made at @now, to a peer that has heard and said nothing. */
void servers_failover_switched(struct servers_failover *f, uint64_t now);
/* How long the unanswered wait has lasted, in ns (0: none). */
uint64_t servers_failover_waited(const struct servers_failover *f,
				 uint64_t now);

/*
 * The server to try next when a failover's probe found none answering:
 * the one after @current in list order among the selection, wrapping
 * round (the first of the selection when @current is not in it).
 */
const struct conf_server_entry *servers_next_in_turn(
	const struct conf_servers *list, enum conf_select kind,
	const char *value, const struct conf_server_entry *current);

#endif /* VPND_SERVERS_H */
