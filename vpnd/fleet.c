/* SPDX-License-Identifier: MIT */
/*
 * The fleet's etcd client and its hold on the device (see fleet.h).
 *
 * One transfer at a time goes to one endpoint: a page of the range read,
 * or the watch, whose answer is an endless stream of JSON messages fed to
 * json-c's tokener as the bytes arrive.  libcurl's multi interface tells
 * us which sockets to watch and when its timeout falls; libev does the
 * watching, so etcd never blocks the data plane.  Only the first read at
 * start waits, so that a config clash is reported before the daemon says
 * it is ready.
 *
 * Each pair read goes to fleet_table.c, which decides what it changes; a
 * value that clashes with another peer waits for the end of its batch (a
 * watch message, or the whole read), when the peer in its way may be gone.
 *
 * The state is small: the last revision applied, whether a full read is
 * owed (at start, and after a compaction), which endpoint is in use and
 * how many failed in a row.  Every failure moves to the next endpoint; a
 * whole round of failures waits, doubling up to a few seconds, with
 * jitter so that a fleet of servers does not return to etcd in step.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <json-c/json.h>
#include <sodium.h>

#include "device.h"
#include "fleet.h"
#include "fleet_curl.h"
#include "fleet_table.h"
#include "peer.h"
#include "peerset.h"
#include "uapi.h"

enum fleet_tuning {
	FLEET_PAGE = 1000,			/* users per range page */
	FLEET_BODY_MAX = 64 << 20,		/* bytes of one page's answer */
	/* Bytes of one watch message, which json-c holds until it ends;
	 * etcd's own messages are far smaller (--max-request-bytes). */
	FLEET_WATCH_MESSAGE_MAX = 64 << 20,
	FLEET_CONNECT_MS = 1000,		/* a member that is down */
	FLEET_RANGE_MS = 30000,			/* one page, in the loop */
	FLEET_START_MS = 5000,			/* one page, at start */
	FLEET_BACKOFF_MIN_MS = 100,
	FLEET_BACKOFF_MAX_MS = 3000,
	FLEET_JSON_DEPTH = 16,
};

enum fleet_phase {
	PHASE_IDLE,
	PHASE_RANGE,
	PHASE_WATCH,
};

/* Why the write callback ended a transfer early. */
enum fleet_abort {
	ABORT_NONE,
	ABORT_FAIL,		/* a bad answer: try the next endpoint */
	ABORT_RESYNC,		/* history compacted: read everything */
};

/* A value that clashed within a batch, to put again after it. */
struct fleet_deferred {
	struct fleet_deferred *next;
	char *value;
	size_t len;
	char name[FLEET_NAME_MAX + 1];
	char key[sizeof(((struct fleet_kv *)0)->key)];
};

struct fleet_sock {
	ev_io w;
	struct fleet *f;
};

struct fleet {
	struct device *dev;
	const struct conf_server *conf;
	const struct conf_fleet *cf;
	struct fleet_table table;
	struct fleet_ops ops;
	uint8_t (*static_keys)[KEY_LEN];	/* the [peer] sections', sorted */
	size_t n_static;

	struct fleet_curl curl;		/* libcurl, opened at start */
	CURLM *multi;
	CURL *easy;			/* the transfer under way, or NULL */
	struct curl_slist *headers;
	char *request;			/* its body, which curl does not copy */
	char *body;			/* a range page's answer */
	size_t body_len, body_cap;
	struct json_tokener *tok;	/* the watch stream */
	size_t watch_partial;		/* bytes of an unfinished message */
	size_t watch_max;		/* FLEET_WATCH_MESSAGE_MAX; tests
					 * lower it */
	enum fleet_phase phase;
	enum fleet_abort abort;
	const char *abort_why;		/* for the log, when ABORT_FAIL */
	ev_timer curl_timer, retry_timer;

	unsigned int endpoint;		/* index in cf->etcd */
	unsigned int failures;		/* in a row, this round */
	unsigned int rounds;		/* whole rounds failed in a row */
	bool need_range;
	int64_t revision;		/* the last applied */
	int64_t range_revision;		/* the range read under way */
	char *range_from;		/* its next page's first key */
	size_t range_from_len;
	struct fleet_deferred *deferred;	/* in reverse order */
	bool connected;
	bool starting;			/* inside fleet_start() */
	char *fatal;			/* a clash found at start */
	uint64_t reconnects, resyncs;
};

static void fleet_log(const struct fleet *f, enum log_level level,
		      const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fleet_log(const struct fleet *f, enum log_level level,
		      const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(f->dev, level, "fleet: %s", line);
}

/* ------------------------------------------------------------------ */
/* The device's side of the table.                                     */

static int key_order(const void *a, const void *b)
{
	return memcmp(a, b, KEY_LEN);
}

static bool op_name_reserved(void *ctx, const char *name)
{
	const struct fleet *f = ctx;

	for (size_t i = 0; i < f->conf->n_peer; i++)
		if (!strcasecmp(f->conf->peer[i].name, name))
			return true;
	return false;
}

static int op_check(void *ctx, const struct fleet_user *u,
		    const uint8_t *old_key, const char **why)
{
	struct fleet *f = ctx;
	struct device *dev = f->dev;
	struct peer *p, *own;

	if (f->n_static && bsearch(u->public_key, f->static_keys, f->n_static,
				   KEY_LEN, key_order)) {
		*why = "the public key of a [peer] section of the config";
		return -ENOTUNIQ;
	}
	if (!memcmp(u->public_key, f->conf->public_key, KEY_LEN)) {
		*why = "the server's own public key";
		return -EINVAL;
	}
	own = old_key ? peer_lookup(&dev->peers, old_key) : NULL;
	p = peer_lookup(&dev->peers, u->public_key);
	if (p && p != own) {
		*why = "another peer's public key";
		return -EEXIST;
	}
	for (size_t i = 0; i < u->n_allowed_ips; i++) {
		const struct conf_prefix *a = &u->allowed_ips[i];

		p = allowedips_lookup(dev->aips, a->family, &a->addr);
		if (p && p != own) {
			*why = "allowed_ips overlap another peer's";
			return -EADDRINUSE;
		}
	}
	return 0;
}

static int op_set(void *ctx, const struct fleet_user *u,
		  const uint8_t *old_key, unsigned int changes)
{
	struct device *dev = ((struct fleet *)ctx)->dev;
	const uint8_t *psk = u->has_psk ? u->preshared_key : NULL;
	struct peer *p = old_key ? peer_lookup(&dev->peers, old_key) : NULL;

	/* A new key is a new peer: the old one's sessions end with it. */
	if (p && (changes & FLEET_CHANGE_KEY)) {
		peer_remove(p);
		p = NULL;
	}
	/* Also when the UAPI removed the peer behind the table's back. */
	if (!p)
		return peerset_add(dev, NULL, u->public_key, psk, u->allowed_ips,
				   u->n_allowed_ips);
	if (changes & FLEET_CHANGE_PSK)
		noise_remote_set_psk(&p->remote, psk);
	if (changes & FLEET_CHANGE_IPS)
		return peerset_replace_ips(p, u->allowed_ips, u->n_allowed_ips);
	return 0;
}

static void op_remove(void *ctx, const uint8_t key[KEY_LEN])
{
	struct device *dev = ((struct fleet *)ctx)->dev;
	struct peer *p = peer_lookup(&dev->peers, key);

	if (p)
		peer_remove(p);
}

static void put_logged(struct fleet *f, const char *key, const char *name,
		       const char *value, size_t len)
{
	const char *why;
	int r = fleet_table_put(&f->table, &f->ops, name, value, len, &why);

	if (r < 0) {
		fleet_log(f, LOG_LEVEL_ERROR, "%s: skipped: %s", key, why);
		if (r == -ENOTUNIQ && f->starting && !f->fatal &&
		    asprintf(&f->fatal, "etcd key %s: %s", key, why) < 0)
			f->fatal = NULL;
	} else if (r > 0) {
		fleet_log(f, LOG_LEVEL_VERBOSE, "%s: applied", key);
	}
}

static void deferred_free(struct fleet_deferred *d)
{
	sodium_memzero(d->value, d->len);
	free(d->value);
	free(d);
}

/* Keeps a clashing value for the end of the batch; -ENOMEM if it cannot. */
static int defer(struct fleet *f, const struct fleet_kv *kv)
{
	struct fleet_deferred *d = calloc(1, sizeof(*d));

	if (!d || !(d->value = malloc(kv->value_len + 1))) {
		free(d);
		return -ENOMEM;
	}
	memcpy(d->value, kv->value, kv->value_len);
	d->len = kv->value_len;
	snprintf(d->name, sizeof(d->name), "%s", kv->name);
	snprintf(d->key, sizeof(d->key), "%s", kv->key);
	d->next = f->deferred;
	f->deferred = d;
	return 0;
}

/*
 * The end of a batch (a watch message, or a whole range read): the values
 * that clashed are put again, in the order they came, now that the peers
 * in their way may be gone.  A clash that remains is skipped for good.
 */
static void deferred_apply(struct fleet *f)
{
	struct fleet_deferred *d = f->deferred, *rev = NULL, *next;

	f->deferred = NULL;
	for (; d; d = next) {
		next = d->next;
		d->next = rev;
		rev = d;
	}
	for (d = rev; d; d = next) {
		next = d->next;
		put_logged(f, d->key, d->name, d->value, d->len);
		deferred_free(d);
	}
}

static void deferred_drop(struct fleet *f)
{
	struct fleet_deferred *d = f->deferred, *next;

	for (; d; d = next) {
		next = d->next;
		deferred_free(d);
	}
	f->deferred = NULL;
}

/* One key-value pair of a range page or a watch message. */
static int apply_kv(void *ctx, const struct fleet_kv *kv)
{
	struct fleet *f = ctx;
	const char *why = kv->why;
	int r;

	if (f->phase == PHASE_WATCH && kv->mod_revision > f->revision)
		f->revision = kv->mod_revision;
	/* A deletion under a name no user can have removes nothing. */
	if (kv->deleted) {
		if (kv->name &&
		    fleet_table_delete(&f->table, &f->ops, kv->name))
			fleet_log(f, LOG_LEVEL_VERBOSE, "%s: removed", kv->key);
		return 0;
	}
	if (!why && !kv->value)
		why = "the value is over 4096 bytes";
	if (why) {
		fleet_table_skip(&f->table, &f->ops, kv->name);
		fleet_log(f, LOG_LEVEL_ERROR, "%s: skipped: %s", kv->key, why);
		return 0;
	}
	r = fleet_table_try(&f->table, &f->ops, kv->name, kv->value,
			    kv->value_len, &why);
	if (r == -EAGAIN && defer(f, kv) == 0)
		return 0;
	if (r == -EAGAIN)	/* no room to defer it: decided now */
		put_logged(f, kv->key, kv->name, kv->value, kv->value_len);
	else if (r < 0)
		fleet_log(f, LOG_LEVEL_ERROR, "%s: skipped: %s", kv->key, why);
	else if (r > 0)
		fleet_log(f, LOG_LEVEL_VERBOSE, "%s: applied", kv->key);
	if (r == -ENOTUNIQ && f->starting && !f->fatal &&
	    asprintf(&f->fatal, "etcd key %s: %s", kv->key, why) < 0)
		f->fatal = NULL;
	return r == -ENOMEM ? r : 0;
}

/* ------------------------------------------------------------------ */
/* Transfers.                                                          */

static size_t range_write(char *data, size_t size, size_t n, void *ud)
{
	struct fleet *f = ud;
	size_t len = size * n;

	if (len > FLEET_BODY_MAX - f->body_len) {
		f->abort_why = "range read: an answer over 64 MiB";
		f->abort = ABORT_FAIL;
		return 0;
	}
	if (f->body_len + len + 1 > f->body_cap) {
		size_t cap = f->body_cap ? f->body_cap : 65536;
		char *b;

		while (cap < f->body_len + len + 1)
			cap *= 2;
		b = realloc(f->body, cap);
		if (!b) {
			f->abort_why = "range read: out of memory";
			f->abort = ABORT_FAIL;
			return 0;
		}
		f->body = b;
		f->body_cap = cap;
	}
	memcpy(f->body + f->body_len, data, len);
	f->body_len += len;
	f->body[f->body_len] = '\0';
	return len;
}

static int watch_message(struct fleet *f, struct json_object *o)
{
	struct fleet_watch_info info;
	int r = fleet_json_watch(o, f->cf->prefix, &info, apply_kv, f);

	deferred_apply(f);

	if (r || info.error) {
		f->abort_why = info.error ? "watch: etcd answered with an error" :
					    "watch: a message that is not etcd's";
		return ABORT_FAIL;
	}
	if (info.compact_revision) {
		fleet_log(f, LOG_LEVEL_ERROR,
			  "revision %" PRId64 " was compacted (now from %" PRId64 "): reading every user again",
			  f->revision, info.compact_revision);
		f->need_range = true;
		return ABORT_RESYNC;
	}
	if (info.canceled) {
		f->abort_why = "watch: etcd canceled it";
		return ABORT_FAIL;
	}
	if (info.created) {
		if (!f->connected)
			fleet_log(f, LOG_LEVEL_VERBOSE,
				  "watching through endpoint %u from revision %" PRId64,
				  f->endpoint + 1, f->revision + 1);
		f->connected = true;
		f->failures = f->rounds = 0;
	}
	return ABORT_NONE;
}

static size_t watch_write(char *data, size_t size, size_t n, void *ud)
{
	struct fleet *f = ud;
	size_t len = size * n, off = 0;

	while (off < len) {
		struct json_object *o;
		enum json_tokener_error err;

		o = json_tokener_parse_ex(f->tok, data + off, (int)(len - off));
		err = json_tokener_get_error(f->tok);
		if (err == json_tokener_continue) {
			f->watch_partial += len - off;
			if (f->watch_partial <= f->watch_max)
				break;
			bound_hit(f->dev, BOUND_FLEET_MESSAGE, f->watch_max,
				  device_now());
			f->abort_why = "watch: a message over the size bound";
			f->abort = ABORT_FAIL;
			return 0;
		}
		off += json_tokener_get_parse_end(f->tok);
		f->watch_partial = 0;
		json_tokener_reset(f->tok);
		if (err != json_tokener_success || !o) {
			json_object_put(o);
			f->abort_why = "watch: an answer that is not JSON";
			f->abort = ABORT_FAIL;
			return 0;
		}
		f->abort = watch_message(f, o);
		json_object_put(o);
		if (f->abort != ABORT_NONE)
			return 0;
	}
	return len;
}

static void transfer_end(struct fleet *f)
{
	if (f->easy) {
		f->curl.multi_remove_handle(f->multi, f->easy);
		f->curl.easy_cleanup(f->easy);
		f->easy = NULL;
	}
	free(f->request);
	f->request = NULL;
	/* A range answer holds the users' preshared keys. */
	if (f->body)
		sodium_memzero(f->body, f->body_len);
	f->body_len = 0;
	if (f->tok)
		json_tokener_reset(f->tok);
	f->watch_partial = 0;
	f->abort = ABORT_NONE;
	f->abort_why = NULL;
}

static CURL *easy_new(struct fleet *f, const char *path, long timeout_ms)
{
	const struct conf_fleet *cf = f->cf;
	CURL *e = f->curl.easy_init();
	char url[CONF_FLEET_TEXT_MAX + 32];
	bool range = f->phase == PHASE_RANGE;

	if (!e)
		return NULL;
	snprintf(url, sizeof(url), "%s%s", cf->etcd[f->endpoint], path);
	if (f->curl.easy_setopt(e, CURLOPT_URL, url) ||
	    f->curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    f->curl.easy_setopt(e, CURLOPT_NOPROXY, "*") ||
	    f->curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    f->curl.easy_setopt(e, CURLOPT_FAILONERROR, 1L) ||
	    f->curl.easy_setopt(e, CURLOPT_HTTPHEADER, f->headers) ||
	    f->curl.easy_setopt(e, CURLOPT_POSTFIELDS, f->request) ||
	    f->curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			     (long)FLEET_CONNECT_MS) ||
	    f->curl.easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) ||
	    /* A member that vanishes without closing is found by probes. */
	    f->curl.easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) ||
	    f->curl.easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 5L) ||
	    f->curl.easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 2L) ||
	    f->curl.easy_setopt(e, CURLOPT_WRITEFUNCTION,
			     range ? range_write : watch_write) ||
	    f->curl.easy_setopt(e, CURLOPT_WRITEDATA, f) ||
	    (cf->ca && f->curl.easy_setopt(e, CURLOPT_CAINFO, cf->ca)) ||
	    (cf->cert && f->curl.easy_setopt(e, CURLOPT_SSLCERT, cf->cert)) ||
	    (cf->key && f->curl.easy_setopt(e, CURLOPT_SSLKEY, cf->key))) {
		f->curl.easy_cleanup(e);
		return NULL;
	}
	return e;
}

static void range_reset(struct fleet *f)
{
	/* A read that did not finish: what it deferred is read again. */
	deferred_drop(f);
	free(f->range_from);
	f->range_from = NULL;
	f->range_from_len = 0;
	f->range_revision = 0;
}

/* The request of the range page or the watch due next, in f->request. */
static int request_make(struct fleet *f)
{
	free(f->request);
	if (f->phase == PHASE_RANGE)
		f->request = fleet_json_range_request(
			f->cf->prefix, f->range_from, f->range_from_len,
			f->range_revision, FLEET_PAGE);
	else
		f->request = fleet_json_watch_request(f->cf->prefix,
						      f->revision + 1);
	return f->request ? 0 : -ENOMEM;
}

/*
 * A range page's answer: its users applied, and the next page asked for
 * (1), or the read complete (0), or -errno.
 */
static int range_page(struct fleet *f)
{
	struct fleet_range_info info;
	struct json_object *o = json_tokener_parse(f->body ? f->body : "");
	int r;

	if (!o)
		return -EPROTO;
	if (!f->range_revision)
		fleet_table_sync_begin(&f->table);
	r = fleet_json_range(o, f->cf->prefix, &info, apply_kv, f);
	json_object_put(o);
	if (!r && f->range_revision && info.revision != f->range_revision &&
	    info.revision < f->range_revision)
		r = -EPROTO;
	if (r) {
		free(info.last_key);
		return r;
	}
	if (!f->range_revision)
		f->range_revision = info.revision;
	if (info.more) {
		/* The next page starts just after the last key. */
		free(f->range_from);
		f->range_from = realloc(info.last_key, info.last_key_len + 1);
		if (!f->range_from) {
			free(info.last_key);
			return -ENOMEM;
		}
		f->range_from[info.last_key_len] = '\0';
		f->range_from_len = info.last_key_len + 1;
		return 1;
	}
	free(info.last_key);
	if (fleet_table_sync_end(&f->table, &f->ops))
		fleet_log(f, LOG_LEVEL_VERBOSE,
			  "users gone while disconnected were removed");
	deferred_apply(f);
	f->revision = f->range_revision;
	f->need_range = false;
	range_reset(f);
	fleet_log(f, LOG_LEVEL_VERBOSE,
		  "read %zu users at revision %" PRId64, f->table.count,
		  f->revision);
	return 0;
}

static void retry_schedule(struct fleet *f, double delay)
{
	ev_timer_stop(f->dev->loop, &f->retry_timer);
	ev_timer_set(&f->retry_timer, delay, 0.0);
	ev_timer_start(f->dev->loop, &f->retry_timer);
}

/* The endpoint failed us: the next one, after a pause once all have. */
static void fail(struct fleet *f, const char *what)
{
	unsigned int n = f->cf->n_etcd;
	unsigned int ms;

	if (f->connected || !f->failures)
		fleet_log(f, f->rounds ? LOG_LEVEL_VERBOSE : LOG_LEVEL_ERROR,
			  "endpoint %u: %s", f->endpoint + 1, what);
	f->connected = false;
	f->reconnects++;
	f->phase = PHASE_IDLE;
	range_reset(f);
	f->endpoint = (f->endpoint + 1) % n;
	if (++f->failures < n) {
		retry_schedule(f, 0.0);
		return;
	}
	if (!f->rounds)
		fleet_log(f, LOG_LEVEL_ERROR,
			  "no etcd endpoint answers: keeping the %zu users held, retrying",
			  f->table.count);
	f->failures = 0;
	ms = FLEET_BACKOFF_MIN_MS << (f->rounds < 5 ? f->rounds : 5);
	if (ms > FLEET_BACKOFF_MAX_MS)
		ms = FLEET_BACKOFF_MAX_MS;
	f->rounds++;
	/* Jitter: somewhere between half and the whole of it. */
	ms = ms / 2 + randombytes_uniform(ms / 2 + 1);
	retry_schedule(f, ms / 1000.0);
}

static void transfer_start(struct fleet *f, enum fleet_phase phase)
{
	f->phase = phase;
	if (request_make(f) ||
	    !(f->easy = easy_new(f, phase == PHASE_RANGE ? "/v3/kv/range" :
							   "/v3/watch",
				 phase == PHASE_RANGE ? FLEET_RANGE_MS : 0)) ||
	    f->curl.multi_add_handle(f->multi, f->easy)) {
		if (f->easy)
			f->curl.easy_cleanup(f->easy);
		f->easy = NULL;
		fail(f, "cannot start a request (out of memory)");
	}
}

static void next_step(struct fleet *f)
{
	if (f->need_range)
		transfer_start(f, PHASE_RANGE);
	else
		transfer_start(f, PHASE_WATCH);
}

static void transfer_done(struct fleet *f, CURLcode res)
{
	enum fleet_phase phase = f->phase;
	enum fleet_abort abort = f->abort;
	const char *why = f->abort_why;
	char what[160];
	int r;

	if (phase == PHASE_RANGE && res == CURLE_OK) {
		r = range_page(f);
		transfer_end(f);
		if (r < 0) {
			fail(f, "a range answer that is not etcd's");
			return;
		}
		if (!f->connected && r == 0)
			f->failures = f->rounds = 0;
		next_step(f);
		return;
	}
	transfer_end(f);
	if (abort == ABORT_RESYNC) {
		f->resyncs++;
		f->connected = false;
		range_reset(f);
		next_step(f);
		return;
	}
	if (abort == ABORT_FAIL && why) {
		fail(f, why);
		return;
	}
	snprintf(what, sizeof(what), "%s: %s",
		 phase == PHASE_RANGE ? "range read" : "watch",
		 res == CURLE_OK ? "the stream ended" : f->curl.easy_strerror(res));
	fail(f, what);
}

static void check_done(struct fleet *f)
{
	CURLMsg *msg;
	int left;

	while ((msg = f->curl.multi_info_read(f->multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == f->easy) {
			transfer_done(f, msg->data.result);
			break;	/* the handle may be a new one now */
		}
}

/* ------------------------------------------------------------------ */
/* libcurl on libev.                                                   */

static void sock_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fleet_sock *fs = (struct fleet_sock *)w;
	struct fleet *f = fs->f;
	int flags = 0, running;

	(void)loop;
	if (revents & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	f->curl.multi_socket_action(f->multi, w->fd, flags, &running);
	check_done(f);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp,
		   void *sockp)
{
	struct fleet *f = userp;
	struct fleet_sock *fs = sockp;
	int events = 0;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (fs) {
			ev_io_stop(f->dev->loop, &fs->w);
			free(fs);
			f->curl.multi_assign(f->multi, s, NULL);
		}
		return 0;
	}
	if (!fs) {
		fs = calloc(1, sizeof(*fs));
		if (!fs)
			return -1;
		fs->f = f;
		f->curl.multi_assign(f->multi, s, fs);
	} else {
		ev_io_stop(f->dev->loop, &fs->w);
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	ev_io_init(&fs->w, sock_io_cb, s, events);
	ev_io_start(f->dev->loop, &fs->w);
	return 0;
}

static void curl_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fleet *f = (struct fleet *)((char *)w -
					   offsetof(struct fleet, curl_timer));
	int running;

	(void)loop;
	(void)revents;
	f->curl.multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(f);
}

static int timer_cb(CURLM *m, long ms, void *userp)
{
	struct fleet *f = userp;

	(void)m;
	ev_timer_stop(f->dev->loop, &f->curl_timer);
	if (ms >= 0) {
		ev_timer_set(&f->curl_timer, ms / 1000.0, 0.0);
		ev_timer_start(f->dev->loop, &f->curl_timer);
	}
	return 0;
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fleet *f = (struct fleet *)((char *)w -
					   offsetof(struct fleet, retry_timer));

	(void)loop;
	(void)revents;
	if (!f->easy)
		next_step(f);
}

/* ------------------------------------------------------------------ */
/* Start, stop, stats.                                                 */

/*
 * The first full read, waiting for it, endpoint after endpoint.  Returns
 * 0 when one answered, -EAGAIN when none did.
 */
static int first_read(struct fleet *f)
{
	for (unsigned int tries = 0; tries < f->cf->n_etcd; tries++) {
		CURLcode res = CURLE_OK;
		int r = 1;

		f->phase = PHASE_RANGE;
		while (r == 1) {
			if (request_make(f) ||
			    !(f->easy = easy_new(f, "/v3/kv/range",
						 FLEET_START_MS))) {
				transfer_end(f);
				return -ENOMEM;
			}
			res = f->curl.easy_perform(f->easy);
			r = res == CURLE_OK ? range_page(f) : -EIO;
			transfer_end(f);
		}
		if (!r)
			return 0;
		fleet_log(f, LOG_LEVEL_ERROR, "endpoint %u: range read: %s",
			  f->endpoint + 1,
			  r == -EIO ? f->curl.easy_strerror(res) :
				      "an answer that is not etcd's");
		range_reset(f);
		f->endpoint = (f->endpoint + 1) % f->cf->n_etcd;
	}
	return -EAGAIN;
}

static int static_keys_make(struct fleet *f)
{
	const struct conf_server *c = f->conf;

	if (!c->n_peer)
		return 0;
	f->static_keys = calloc(c->n_peer, KEY_LEN);
	if (!f->static_keys)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_peer; i++)
		memcpy(f->static_keys[i], c->peer[i].public_key, KEY_LEN);
	f->n_static = c->n_peer;
	qsort(f->static_keys, f->n_static, KEY_LEN, key_order);
	return 0;
}

int fleet_start(struct fleet **out, struct device *dev,
		const struct conf_server *conf, char *err, size_t errlen)
{
	struct fleet *f;
	int r = -ENOMEM;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = fleet_curl_open(&f->curl, err, errlen);
	if (r) {
		free(f);
		return r;
	}
	if (f->curl.global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "cannot initialise libcurl");
		free(f);
		return -ENOMEM;
	}
	f->dev = dev;
	f->conf = conf;
	f->cf = conf->fleet;
	f->ops = (struct fleet_ops){
		.ctx = f, .name_reserved = op_name_reserved,
		.check = op_check, .set = op_set, .remove = op_remove,
	};
	f->need_range = true;
	f->watch_max = FLEET_WATCH_MESSAGE_MAX;
	ev_timer_init(&f->curl_timer, curl_timer_cb, 0.0, 0.0);
	ev_timer_init(&f->retry_timer, retry_cb, 0.0, 0.0);
	if (fleet_table_init(&f->table) || static_keys_make(f) ||
	    !(f->tok = json_tokener_new_ex(FLEET_JSON_DEPTH)) ||
	    !(f->multi = f->curl.multi_init()) ||
	    !(f->headers = f->curl.slist_append(NULL,
					     "Content-Type: application/json")) ||
	    /* etcd ends a watch on a member cut off from its leader. */
	    !f->curl.slist_append(f->headers, "Grpc-Metadata-hasleader: true") ||
	    f->curl.multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) ||
	    f->curl.multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f) ||
	    f->curl.multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, timer_cb) ||
	    f->curl.multi_setopt(f->multi, CURLMOPT_TIMERDATA, f)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	f->starting = true;
	r = first_read(f);
	f->starting = false;
	if (r == -ENOMEM) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (f->fatal) {
		snprintf(err, errlen,
			 "%s: the fleet and the [peer] sections must not share a name or a key",
			 f->fatal);
		r = -ENOTUNIQ;
		goto fail;
	}
	if (r == -EAGAIN) {
		fleet_log(f, LOG_LEVEL_ERROR,
			  "no etcd endpoint answers: starting with the [peer] sections only, retrying");
		f->failures = f->cf->n_etcd - 1;
		fail(f, "the first read failed");
	} else {
		next_step(f);
	}
	dev->fleet = f;
	*out = f;
	return 0;
fail:
	fleet_stop(f);
	return r;
}

void fleet_stop(struct fleet *f)
{
	if (!f)
		return;
	if (f->dev->fleet == f)
		f->dev->fleet = NULL;
	ev_timer_stop(f->dev->loop, &f->retry_timer);
	transfer_end(f);
	if (f->multi)
		f->curl.multi_cleanup(f->multi);
	ev_timer_stop(f->dev->loop, &f->curl_timer);
	f->curl.slist_free_all(f->headers);
	if (f->tok)
		json_tokener_free(f->tok);
	fleet_table_free(&f->table, &f->ops);
	range_reset(f);
	if (f->body) {
		sodium_memzero(f->body, f->body_cap);
		free(f->body);
	}
	free(f->static_keys);
	free(f->fatal);
	f->curl.global_cleanup();
	free(f);
}

int fleet_stats_write(const struct fleet *f, struct uapi_writer *w)
{
	const struct {
		const char *name;
		uint64_t value;
	} lines[] = {
		{ "fleet_connected", f->connected },
		{ "fleet_endpoint", f->endpoint + 1 },
		{ "fleet_revision", (uint64_t)f->revision },
		{ "fleet_users", f->table.count },
		{ "fleet_applied", f->table.applied },
		{ "fleet_errors", f->table.skipped },
		{ "fleet_reconnects", f->reconnects },
		{ "fleet_resyncs", f->resyncs },
	};
	int ret = 0;

	for (size_t i = 0; i < sizeof(lines) / sizeof(*lines) && !ret; i++)
		ret = uapi_write_stat(w, lines[i].name, lines[i].value);
	return ret;
}
