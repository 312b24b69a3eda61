/* SPDX-License-Identifier: MIT */
/*
 * The UAPI socket.  uapi.c owns the protocol; this file owns the socket
 * file, the connections, and what a request does to the device.
 *
 * The socket file is created mode 0600 inside a 0755 directory, so only
 * root can configure the daemon.  A connection is not read while its
 * replies are still pending, which bounds what a client that never reads
 * can make us hold.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "device.h"
#include "fleet.h"
#include "rundir.h"
#include "send.h"
#include "uapi.h"
#include "uapisock.h"

#define UAPI_DIR "/var/run/wireguard"

struct uapisock_conn {
	ev_io w;
	ev_timer idle_w;	/* UAPISOCK_IDLE_MS without a byte moved */
	int idle_outq;		/* unread reply bytes at the last idle check */
	int fd;
	bool closing;
	struct uapi_conn *c;
	struct device *dev;
	/*
	 * A get reply in chunks: the peer its next chunk starts at.  Peer
	 * removal moves it on (uapisock_peer_removed()), so it never
	 * dangles.
	 */
	bool get_more;
	struct peer *get_next;
	struct uapisock_conn *next;
};

/* Applying a plan. */

static void apply_allowed_ips(struct device *dev, struct peer *p,
			      const struct uapi_peer *up)
{
	for (size_t i = 0; i < up->allowed_ips_len; i++) {
		const struct uapi_allowed_ip *a = &up->allowed_ips[i];

		if (a->remove)
			allowedips_remove(dev->aips, a->family, &a->addr,
					  a->cidr, p);
		else if (allowedips_insert(dev->aips, a->family, &a->addr,
					   a->cidr, p))
			log_msg(dev, LOG_LEVEL_ERROR,
				"cannot add an allowed IP: out of memory");
	}
}

static int apply_peer(struct device *dev, const struct uapi_peer *up,
		      uint64_t now)
{
	struct peer *p = peer_lookup(&dev->peers, up->public_key);
	int ret;

	if (dev->noise.local.has_identity &&
	    !memcmp(up->public_key, dev->noise.local.static_public, KEY_LEN))
		return 0;
	if (up->flags & UAPI_PEER_REMOVE) {
		if (p)
			peer_remove(p);
		return 0;
	}
	if (!p) {
		if (up->flags & UAPI_PEER_UPDATE_ONLY)
			return 0;
		ret = peer_create(dev, up->public_key, &p);
		if (ret)
			return ret;
	}
	/* Where it is and how often to call it are a talking peer's state. */
	if ((up->flags & UAPI_PEER_HAS_ENDPOINT) ||
	    ((up->flags & UAPI_PEER_HAS_KEEPALIVE) &&
	     up->persistent_keepalive_interval)) {
		ret = peer_activate(p);
		if (ret)
			return ret;
	}
	if (up->flags & UAPI_PEER_HAS_PRESHARED_KEY)
		noise_remote_set_psk(&p->remote, up->preshared_key);
	if (up->flags & UAPI_PEER_HAS_ENDPOINT)
		memcpy(&p->st->endpoint, &up->endpoint,
		       sizeof(p->st->endpoint));
	if (up->flags & UAPI_PEER_REPLACE_ALLOWED_IPS)
		allowedips_remove_by_peer(dev->aips, p);
	apply_allowed_ips(dev, p, up);
	if ((up->flags & UAPI_PEER_HAS_KEEPALIVE) && p->st &&
	    timers_set_persistent_keepalive(&p->st->timers,
					    up->persistent_keepalive_interval) &&
	    dev->up)
		send_keepalive(p, now);
	peer_timer_update(p, now);
	return 0;
}

static int apply(void *ctx, struct uapi_set *set)
{
	struct device *dev = ((struct uapisock_conn *)ctx)->dev;
	const struct uapi_peer *up;
	uint64_t now = device_now();
	int ret;

	/* The one step that can fail for a reason outside us goes first, so
	 * that a port in use leaves everything as it was. */
	if (set->flags & UAPI_SET_HAS_LISTEN_PORT) {
		ret = device_set_listen_port(dev, set->listen_port);
		if (ret)
			return -EADDRINUSE;
	}
	if (set->flags & UAPI_SET_HAS_FWMARK) {
		ret = device_set_fwmark(dev, set->fwmark);
		if (ret)
			return -EADDRINUSE;
	}
	if (set->flags & UAPI_SET_HAS_PRIVATE_KEY) {
		ret = device_set_private_key(dev, set->private_key);
		if (ret)
			return ret;
	}
	if (set->flags & UAPI_SET_REPLACE_PEERS)
		device_remove_all_peers(dev);
	while ((up = uapi_set_next_peer(set))) {
		ret = apply_peer(dev, up, now);
		if (ret)
			return ret;
	}
	return 0;
}

/* Describing the device. */

struct walk_ctx {
	struct uapi_writer *w;
	int ret;
};

static int write_allowed_ip(void *ctx, int family, const uint8_t *addr,
			    uint8_t cidr)
{
	struct walk_ctx *wc = ctx;

	wc->ret = uapi_write_allowed_ip(wc->w, family, addr, cidr);
	return wc->ret;
}

static int write_device(struct device *dev, struct uapi_writer *w)
{
	struct uapi_device_view dv = {
		.private_key = dev->noise.local.has_identity ?
				       dev->noise.local.static_private :
				       NULL,
		.listen_port = dev->listen_port,
		.fwmark = dev->fwmark,
	};

	return uapi_write_device(w, &dv);
}

static int write_peer(struct device *dev, struct uapi_writer *w,
		      struct peer *p)
{
	union uapi_endpoint ep;
	struct uapi_peer_view pv = {
		.public_key = p->remote.public_key,
		.preshared_key = p->remote.preshared_key,
		.endpoint = &ep,
	};
	const struct peer_state *st = p->st;
	struct walk_ctx wc = { .w = w };
	int ret;

	memset(&ep, 0, sizeof(ep));
	/* A peer that never talked: no endpoint, no handshake, nothing
	 * counted, no keepalive. */
	if (st) {
		pv.last_handshake_time_sec = st->last_handshake.tv_sec;
		pv.last_handshake_time_nsec = st->last_handshake.tv_nsec;
		pv.tx_bytes = st->tx_bytes;
		pv.rx_bytes = st->rx_bytes;
		pv.persistent_keepalive_interval =
			st->timers.persistent_keepalive_interval;
		memcpy(&ep, &st->endpoint, sizeof(st->endpoint));
	}
	ret = uapi_write_peer(w, &pv);
	if (!ret)
		ret = allowedips_walk_by_peer(dev->aips, p, write_allowed_ip,
					      &wc);
	return ret;
}

/* One chunk of the reply, from where the last one stopped. */
static int get(void *ctx, struct uapi_writer *w)
{
	struct uapisock_conn *cn = ctx;
	struct device *dev = cn->dev;
	struct peer *p = cn->get_more ? cn->get_next : dev->peers.head;
	int ret = cn->get_more ? 0 : write_device(dev, w);

	cn->get_more = false;
	cn->get_next = NULL;
	for (; p && !ret; p = p->list_next) {
		if (uapi_writer_full(w)) {
			cn->get_more = true;
			cn->get_next = p;
			return UAPI_GET_MORE;
		}
		ret = write_peer(dev, w, p);
	}
	return ret;
}

void uapisock_peer_removed(struct device *dev, const struct peer *p)
{
	for (struct uapisock_conn *cn = dev->uapi_conns; cn; cn = cn->next)
		if (cn->get_more && cn->get_next == p)
			cn->get_next = p->list_next;
}

static int stats(void *ctx, struct uapi_writer *w)
{
	struct device *dev = ((struct uapisock_conn *)ctx)->dev;
	const struct device_stats *st = &dev->stats;
	const struct {
		const char *name;
		uint64_t value;
	} lines[] = {
		{ "rx_dropped", st->rx_dropped },
		{ "rx_bad_mac", st->rx_bad_mac },
		{ "rx_bad_handshake", st->rx_bad_handshake },
		{ "rx_bad_data", st->rx_bad_data },
		{ "rx_replayed", st->rx_replayed },
		{ "rx_bad_source", st->rx_bad_source },
		{ "tx_no_route", st->tx_no_route },
		{ "tx_dropped", st->tx_dropped },
		{ "cookies_sent", st->cookies_sent },
		{ "ratelimited", st->ratelimited },
		/* What outsiders make us hold now (docs/limits.md). */
		{ "staged_packets", dev->peers.staged },
		{ "ratelimiter_entries", dev->rl.count },
		{ "index_entries", dev->index.count },
		{ "uapi_conns", dev->uapi_nconns },
	};
	int ret = 0;

	for (size_t i = 0; i < sizeof(lines) / sizeof(*lines) && !ret; i++)
		ret = uapi_write_stat(w, lines[i].name, lines[i].value);
	if (!ret)
		ret = bounds_stats_write(&dev->bounds, w);
	if (!ret && dev->fleet)
		ret = fleet_stats_write(dev->fleet, w);
	return ret;
}

/* Connections. */

static void conn_log_error(struct uapisock_conn *cn)
{
	if (*uapi_conn_last_error(cn->c))
		log_msg(cn->dev, LOG_LEVEL_ERROR, "UAPI: %s",
			uapi_conn_last_error(cn->c));
}

static void conn_close(struct uapisock_conn *cn)
{
	struct device *dev = cn->dev;
	struct uapisock_conn **pp;

	for (pp = &dev->uapi_conns; *pp; pp = &(*pp)->next)
		if (*pp == cn) {
			*pp = cn->next;
			break;
		}
	dev->uapi_nconns--;
	ev_io_stop(dev->loop, &cn->w);
	ev_timer_stop(dev->loop, &cn->idle_w);
	close(cn->fd);
	uapi_conn_free(cn->c);
	free(cn);
}

static void conn_watch(struct uapisock_conn *cn, int events)
{
	ev_io_stop(cn->dev->loop, &cn->w);
	ev_io_set(&cn->w, cn->fd, events);
	ev_io_start(cn->dev->loop, &cn->w);
}

/* Writes what it can; returns false when the connection is gone. */
static bool conn_flush(struct uapisock_conn *cn)
{
	const char *data;
	size_t len;
	ssize_t n;

	for (;;) {
		uapi_conn_output(cn->c, &data, &len);
		if (!len && uapi_conn_busy(cn->c)) {
			/* The next chunk of a long get reply. */
			int ret = uapi_conn_continue(cn->c);

			conn_log_error(cn);
			if (ret < 0) {
				conn_close(cn);
				return false;
			}
			if (ret == UAPI_FEED_CLOSE)
				cn->closing = true;
			continue;
		}
		if (!len)
			break;
		n = send(cn->fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			conn_watch(cn, EV_WRITE);
			return true;
		}
		if (n <= 0) {
			conn_close(cn);
			return false;
		}
		uapi_conn_consume_output(cn->c, (size_t)n);
		/* Timed from now, not from before a long chunk was made. */
		ev_now_update(cn->dev->loop);
		ev_timer_again(cn->dev->loop, &cn->idle_w);
	}
	if (cn->closing) {
		conn_close(cn);
		return false;
	}
	conn_watch(cn, EV_READ);
	return true;
}

static void conn_read(struct uapisock_conn *cn)
{
	char buf[UAPISOCK_READ_CHUNK];
	ssize_t n = recv(cn->fd, buf, sizeof(buf), 0);
	int ret;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The client is done; finish writing what it asked for. */
		cn->closing = true;
		conn_flush(cn);
		return;
	}
	ret = uapi_conn_feed(cn->c, buf, (size_t)n);
	explicit_bzero(buf, sizeof(buf));
	/* From now: applying a large set may have taken a while. */
	ev_now_update(cn->dev->loop);
	ev_timer_again(cn->dev->loop, &cn->idle_w);
	conn_log_error(cn);
	if (ret < 0) {
		conn_close(cn);
		return;
	}
	if (ret == UAPI_FEED_CLOSE)
		cn->closing = true;
	conn_flush(cn);
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct uapisock_conn *cn = (struct uapisock_conn *)w;

	(void)loop;
	if (revents & EV_WRITE)
		conn_flush(cn);
	else if (revents & EV_READ)
		conn_read(cn);
}

/*
 * Whether the client moved a byte since the last look, though the daemon
 * did not: it sent something not read yet (the daemon may have been busy
 * with another connection), or it read some of a reply that fills the
 * socket (a slow reader, whose socket turns writable again only once it
 * has drained most of it).
 */
static bool conn_client_moved(struct uapisock_conn *cn)
{
	int inq = 0, outq = 0;

	if (!ioctl(cn->fd, SIOCINQ, &inq) && inq > 0)
		return true;
	if (ioctl(cn->fd, SIOCOUTQ, &outq) || !outq || outq == cn->idle_outq)
		return false;
	cn->idle_outq = outq;
	return true;
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct uapisock_conn *cn = (struct uapisock_conn *)((char *)w -
		offsetof(struct uapisock_conn, idle_w));

	(void)revents;
	if (conn_client_moved(cn)) {
		ev_timer_again(loop, &cn->idle_w);
		return;
	}
	bound_hit(cn->dev, BOUND_UAPI_IDLE, UAPISOCK_IDLE_MS / 1000,
		  device_now());
	conn_close(cn);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct device *dev = (struct device *)((char *)w -
					       offsetof(struct device, uapi_w));
	struct uapi_ops ops = {
		.apply = apply, .get = get, .stats = stats,
	};
	struct uapisock_conn *cn;
	int fd;

	(void)revents;
	fd = accept4(dev->uapi_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (dev->uapi_nconns >= UAPISOCK_MAX_CONNS) {
		close(fd);
		bound_hit(dev, BOUND_UAPI_CONNS, UAPISOCK_MAX_CONNS,
			  device_now());
		return;
	}
	cn = calloc(1, sizeof(*cn));
	ops.ctx = cn;
	if (!cn || !(cn->c = uapi_conn_new(&ops))) {
		free(cn);
		close(fd);
		return;
	}
	cn->fd = fd;
	cn->dev = dev;
	cn->next = dev->uapi_conns;
	dev->uapi_conns = cn;
	dev->uapi_nconns++;
	ev_io_init(&cn->w, conn_cb, fd, EV_READ);
	ev_io_start(loop, &cn->w);
	ev_init(&cn->idle_w, idle_cb);
	cn->idle_w.repeat = UAPISOCK_IDLE_MS / 1000.0;
	ev_timer_again(loop, &cn->idle_w);
}

/* Whether a daemon already answers on path. */
static bool socket_in_use(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return false;
	used = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return used;
}

int uapisock_open(struct device *dev, char *err, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, ret;

	/* 0755, as wireguard-go makes it: `wg show` lists the interfaces to
	 * anyone, and only root may open a socket in it. */
	ret = rundir_make(UAPI_DIR, 0755, NULL, err, len);
	if (ret)
		return ret;
	if ((size_t)snprintf(dev->uapi_path, sizeof(dev->uapi_path),
			     "%s/%s.sock", UAPI_DIR, dev->ifname) >=
	    sizeof(dev->uapi_path)) {
		snprintf(err, len, "%s/%s.sock: path too long", UAPI_DIR,
			 dev->ifname);
		dev->uapi_path[0] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, dev->uapi_path, strlen(dev->uapi_path) + 1);
	if (socket_in_use(&sun)) {
		snprintf(err, len, "cannot serve %s: another daemon serves it",
			 dev->uapi_path);
		dev->uapi_path[0] = '\0';	/* not ours to remove */
		return -EADDRINUSE;
	}
	unlink(dev->uapi_path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* The umask closes the window before the chmod to exactly 0600. */
	old = umask(0077);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ret || chmod(dev->uapi_path, 0600) || listen(fd, 64) ||
	    stat(dev->uapi_path, &st)) {
		close(fd);
		goto fail;
	}
	dev->uapi_fd = fd;
	dev->uapi_dev = st.st_dev;
	dev->uapi_ino = st.st_ino;
	ev_io_init(&dev->uapi_w, accept_cb, fd, EV_READ);
	ev_io_start(dev->loop, &dev->uapi_w);
	return 0;
fail:
	ret = -errno;
	snprintf(err, len, "cannot serve %s: %s", dev->uapi_path,
		 strerror(-ret));
	return ret;
}

void uapisock_close(struct device *dev)
{
	struct stat st;

	while (dev->uapi_conns)
		conn_close(dev->uapi_conns);
	if (dev->uapi_fd >= 0) {
		ev_io_stop(dev->loop, &dev->uapi_w);
		close(dev->uapi_fd);
		dev->uapi_fd = -1;
	}
	/* Remove the file only if it is still the one we made. */
	if (dev->uapi_path[0] && !stat(dev->uapi_path, &st) &&
	    st.st_dev == dev->uapi_dev && st.st_ino == dev->uapi_ino)
		unlink(dev->uapi_path);
}
