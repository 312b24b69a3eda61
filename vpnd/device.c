/* SPDX-License-Identifier: MIT */
/*
 * The device's life: bringing up the TUN interface and the sockets,
 * wiring them into the event loop, the changes the UAPI can make to the
 * device as a whole, the once-a-second housekeeping that notices when the
 * interface (followed by iface.c) or the control socket has gone, and
 * tearing everything down with every key wiped.
 */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "device.h"
#include "env.h"
#include "receive.h"
#include "send.h"
#include "tun.h"
#include "udp.h"

enum {
	NSEC_PER_SEC = 1000000000,
};

uint64_t device_now(void)
{
	struct timespec ts;

	/* BOOTTIME keeps counting through suspend, so keys age then too. */
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* The handshake's view of our tables. */
static struct noise_remote *up_remote_by_public(void *ctx, const uint8_t *pub)
{
	struct peer *p = peer_lookup(&((struct device *)ctx)->peers, pub);

	return p ? &p->remote : NULL;
}

static struct noise_remote *up_remote_by_index(void *ctx, uint32_t index)
{
	return index_table_lookup(&((struct device *)ctx)->index, index,
				  INDEX_HANDSHAKE);
}

static int up_index_new(void *ctx, struct noise_remote *r, uint32_t *index)
{
	return index_table_insert(&((struct device *)ctx)->index,
				  INDEX_HANDSHAKE, r, NULL, index);
}

static void up_index_drop(void *ctx, uint32_t index)
{
	index_table_remove(&((struct device *)ctx)->index, index);
}

static struct device *of_watcher(void *w, size_t offset)
{
	return (struct device *)((char *)w - offset);
}

static void tun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct device *dev = of_watcher(w, offsetof(struct device, tun_w));

	(void)revents;
	send_tun_readable(dev);
	if (dev->tun_dead) {
		log_msg(dev, LOG_LEVEL_ERROR, "TUN device went away");
		ev_break(loop, EVBREAK_ALL);
	}
}

static void udp4_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct device *dev = of_watcher(w, offsetof(struct device, udp4_w));

	(void)loop;
	(void)revents;
	receive_udp_readable(dev, dev->udp4);
}

static void udp6_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct device *dev = of_watcher(w, offsetof(struct device, udp6_w));

	(void)loop;
	(void)revents;
	receive_udp_readable(dev, dev->udp6);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Whether the control socket file is still the one we created. */
static bool uapi_file_intact(const struct device *dev)
{
	struct stat st;

	if (!dev->uapi_path[0])
		return true;
	return !stat(dev->uapi_path, &st) && st.st_dev == dev->uapi_dev &&
	       st.st_ino == dev->uapi_ino;
}

static void housekeeping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct device *dev = of_watcher(w, offsetof(struct device,
						     housekeeping_w));

	(void)revents;
	/* The ratelimiter has no device to tell: its refusals are reported
	 * here, a second late at most. */
	bound_hits(dev, BOUND_RATELIMITER, RATELIMITER_MAX_ENTRIES,
		   dev->rl.refused_full, device_now());
	dev->rl.refused_full = 0;
	ratelimiter_gc(&dev->rl, device_now());
	/* Deleted, or moved where events may have been missed. */
	if (!iface_sync(dev)) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (!uapi_file_intact(dev)) {
		log_msg(dev, LOG_LEVEL_ERROR, "UAPI socket removed, exiting");
		ev_break(loop, EVBREAK_ALL);
		return;
	}
}

/*
 * The interface going down ends every session, as in the kernel and
 * wireguard-go: timers stop, keys and queued packets are dropped, and
 * nothing is sent or answered until it comes up again.
 */
void device_set_up(struct device *dev, bool up)
{
	uint64_t now = device_now();
	struct peer *p;

	if (up == dev->up)
		return;
	dev->up = up;
	log_msg(dev, LOG_LEVEL_VERBOSE, "interface %s", up ? "up" : "down");
	for (p = dev->peers.head; p; p = p->list_next) {
		/* A peer that never talked has nothing to stop or send. */
		if (!p->st)
			continue;
		if (!up) {
			ev_timer_stop(dev->loop, &p->st->timer);
			p->st->timer_armed_at = TIMERS_NEVER;
			timers_stop(&p->st->timers);
			peer_keys_clear(p);
			peer_staged_drop(p);
		} else if (p->st->timers.persistent_keepalive_interval) {
			send_keepalive(p, now);
		}
	}
}

static void udp_watch(struct device *dev)
{
	if (dev->udp4 >= 0) {
		ev_io_init(&dev->udp4_w, udp4_cb, dev->udp4, EV_READ);
		ev_io_start(dev->loop, &dev->udp4_w);
	}
	if (dev->udp6 >= 0) {
		ev_io_init(&dev->udp6_w, udp6_cb, dev->udp6, EV_READ);
		ev_io_start(dev->loop, &dev->udp6_w);
	}
}

static void udp_unwatch(struct device *dev)
{
	ev_io_stop(dev->loop, &dev->udp4_w);
	ev_io_stop(dev->loop, &dev->udp6_w);
}

/* Both directions' packet buffers, in one mapping that is never dumped. */
static int buffers_alloc(struct device *dev)
{
	size_t each = DEVICE_BUF_LEN;
	size_t total = (DEVICE_BATCH + DEVICE_RX_BATCH + 2) * each;
	uint8_t *base;

	base = mmap(NULL, total, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return -ENOMEM;
	/* Plaintext passes through these buffers. */
	madvise(base, total, MADV_DONTDUMP);
	for (unsigned int i = 0; i < DEVICE_BATCH; i++)
		dev->tx.buf[i] = base + i * each;
	for (unsigned int i = 0; i < DEVICE_RX_BATCH; i++)
		dev->rx.buf[i] = base + (DEVICE_BATCH + i) * each;
	dev->single = base + (DEVICE_BATCH + DEVICE_RX_BATCH) * each;
	dev->gso = base + (DEVICE_BATCH + DEVICE_RX_BATCH + 1) * each;
	dev->buffers = base;
	dev->buffers_len = total;
	return 0;
}

static uint64_t rekey_after_time_setting(void)
{
	return env_seconds_ns("VPND_TEST_REKEY_AFTER_TIME", REKEY_AFTER_TIME,
			      (uint64_t)REKEY_AFTER_TIME * NSEC_PER_SEC);
}

int device_init(struct device *dev, struct ev_loop *loop, const char *ifname)
{
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->rx_backlog_fd = -1;
	dev->loop = loop;
	dev->tun_fd = dev->udp4 = dev->udp6 = dev->uapi_fd = -1;
	dev->iface.ioctl_fd = dev->iface.home_netns = -1;
	dev->log_level = log_level_from_env();
	dev->log_sensitive = getenv("VPND_LOG_SENSITIVE") &&
			     !strcmp(getenv("VPND_LOG_SENSITIVE"), "1");
	dev->rekey_after_time = rekey_after_time_setting();
	randombytes_buf(&dev->jitter_state, sizeof(dev->jitter_state));
	dev->jitter_state |= 1;

	dev->noise.up = (struct noise_upcalls){
		.ctx = dev,
		.remote_by_public = up_remote_by_public,
		.remote_by_index = up_remote_by_index,
		.index_new = up_index_new,
		.index_drop = up_index_drop,
	};
	cookie_checker_init(&dev->cookie, NULL);
	ret = index_table_init(&dev->index);
	if (!ret)
		ret = allowedips_init(&dev->aips,
				      offsetof(struct peer, aips));
	if (!ret)
		ret = peer_table_init(&dev->peers);
	if (!ret)
		ret = ratelimiter_init(&dev->rl, NULL);
	if (!ret)
		ret = buffers_alloc(dev);
	if (ret)
		return ret;

	dev->offload = !getenv("VPND_NO_OFFLOAD");
	ret = tun_open(ifname, dev->ifname, &dev->offload);
	if (ret < 0)
		return ret;
	dev->tun_fd = ret;
	dev->ifindex = (int)if_nametoindex(dev->ifname);
	tun_set_mtu(dev->ifname, DEVICE_DEFAULT_MTU);
	ret = tun_get_mtu(dev->ifname);
	dev->mtu = ret > 0 ? (unsigned int)ret : DEVICE_DEFAULT_MTU;

	ret = udp_open(0, 0, &dev->udp4, &dev->udp6, &dev->listen_port);
	if (ret)
		return ret;
	ret = iface_watch_start(dev);
	if (!ret)
		ret = sticky_watch_start(dev);
	if (ret)
		return ret;
	dev->up = device_link_is_up(dev);

	ev_io_init(&dev->tun_w, tun_cb, dev->tun_fd, EV_READ);
	ev_io_start(loop, &dev->tun_w);
	udp_watch(dev);
	ev_signal_init(&dev->sigint_w, signal_cb, SIGINT);
	ev_signal_start(loop, &dev->sigint_w);
	ev_signal_init(&dev->sigterm_w, signal_cb, SIGTERM);
	ev_signal_start(loop, &dev->sigterm_w);
	ev_timer_init(&dev->housekeeping_w, housekeeping_cb, 1.0, 1.0);
	ev_timer_start(loop, &dev->housekeeping_w);
	return 0;
}

void device_remove_all_peers(struct device *dev)
{
	while (dev->peers.head)
		peer_remove(dev->peers.head);
}

void device_destroy(struct device *dev)
{
	if (dev->loop) {
		ev_io_stop(dev->loop, &dev->tun_w);
		udp_unwatch(dev);
		ev_signal_stop(dev->loop, &dev->sigint_w);
		ev_signal_stop(dev->loop, &dev->sigterm_w);
		ev_timer_stop(dev->loop, &dev->housekeeping_w);
	}
	iface_watch_stop(dev);
	sticky_watch_stop(dev);
	if (dev->peers.buckets)
		device_remove_all_peers(dev);
	peer_table_free(&dev->peers);
	allowedips_free(dev->aips);
	dev->aips = NULL;
	index_table_free(&dev->index);
	ratelimiter_free(&dev->rl);
	udp_close(&dev->udp4, &dev->udp6);
	if (dev->tun_fd >= 0)
		close(dev->tun_fd);
	dev->tun_fd = -1;
	if (dev->buffers) {
		sodium_memzero(dev->buffers, dev->buffers_len);
		munmap(dev->buffers, dev->buffers_len);
		dev->buffers = NULL;
	}
	noise_local_clear(&dev->noise);
	cookie_checker_clear(&dev->cookie);
}

int device_set_private_key(struct device *dev, const uint8_t key[32])
{
	static const uint8_t zero[32];
	struct noise_local old = dev->noise.local;
	struct peer *p, *next;
	bool same;
	int ret;

	ret = noise_local_set_private(&dev->noise, key ? key : zero);
	if (ret)
		goto out;
	same = old.has_identity == dev->noise.local.has_identity &&
	       sodium_memcmp(old.static_private, dev->noise.local.static_private,
			     32) == 0;
	if (same)
		goto out;
	cookie_checker_precompute(&dev->cookie,
				  dev->noise.local.has_identity ?
					  dev->noise.local.static_public :
					  NULL);
	for (p = dev->peers.head; p; p = next) {
		next = p->list_next;
		/* A peer with our own public key would be talking to itself. */
		if (dev->noise.local.has_identity &&
		    !memcmp(p->remote.public_key,
			    dev->noise.local.static_public, 32)) {
			peer_remove(p);
			continue;
		}
		noise_remote_precompute(&p->remote, &dev->noise);
		peer_sessions_expire(p);
	}
out:
	sodium_memzero(&old, sizeof(old));
	return ret;
}

int device_set_listen_port(struct device *dev, uint16_t port)
{
	int fd4, fd6, ret;
	uint16_t actual;

	if (port && port == dev->listen_port)
		return 0;
	/* Open the new sockets first, so a port in use changes nothing. */
	ret = udp_open(port, dev->fwmark, &fd4, &fd6, &actual);
	if (ret)
		return ret;
	udp_unwatch(dev);
	udp_close(&dev->udp4, &dev->udp6);
	dev->udp4 = fd4;
	dev->udp6 = fd6;
	dev->listen_port = actual;
	udp_watch(dev);
	return 0;
}

int device_set_fwmark(struct device *dev, uint32_t mark)
{
	int ret = udp_set_mark(dev->udp4, mark);

	if (!ret)
		ret = udp_set_mark(dev->udp6, mark);
	if (!ret)
		dev->fwmark = mark;
	return ret;
}

void device_backlog_batch(struct device *dev, int fd, bool full)
{
	dev->rx_backlog = full ? DEVICE_BACKLOG_UNKNOWN : DEVICE_BACKLOG_NONE;
	dev->rx_backlog_fd = fd;
}

void device_backlog_done(struct device *dev)
{
	dev->rx_backlog = DEVICE_BACKLOG_NONE;
	dev->rx_backlog_fd = -1;
}

bool device_under_load(struct device *dev, uint64_t now)
{
	if (dev->rx_backlog == DEVICE_BACKLOG_UNKNOWN)
		dev->rx_backlog = udp_backlog_high(dev->rx_backlog_fd,
						   DEVICE_LOAD_BACKLOG_SHARE) ?
					  DEVICE_BACKLOG_HIGH :
					  DEVICE_BACKLOG_LOW;
	/* Once behind, stay loaded for a second after the last sign of it,
	 * so a flood cannot make us flap between cookies and DH work. */
	if (dev->rx_backlog == DEVICE_BACKLOG_HIGH)
		dev->under_load_until = now + NSEC_PER_SEC;
	return now < dev->under_load_until;
}
