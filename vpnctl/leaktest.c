/* SPDX-License-Identifier: MIT */
/*
 * vpnctl leaktest: a self-test of the kill switch.  It plays an
 * application that bypasses the tunnel: every probe (TCP, UDP, ICMP echo,
 * DNS over UDP and over TCP, to an IPv4 and an IPv6 target) is bound to
 * the physical interface with SO_BINDTODEVICE, so that no route can steer
 * it into the tunnel and only the firewall stands in its way.  The judge
 * is a packet socket on that interface: it sees what the driver is handed,
 * after netfilter's output and postrouting hooks, so a probe that appears
 * there has left the machine (a leak) and one that does not was stopped.
 *
 * It tests the kernel's state, whoever made it.  That needs root
 * (CAP_NET_RAW for the packet and raw sockets).  It asks vpnd one thing
 * only: split tunneling by network (split=1), because a probe to an
 * excluded network, or in include mode to anything not included, is
 * meant to leave by the physical link: such a probe that leaves is
 * reported as "excepted", not as a leak.  DNS is never excepted (DNS
 * never leaves the tunnel), and a probe to an included network that
 * leaves is a leak as ever.  Without a daemon to ask, there is no
 * exception and every probe that leaves is a leak.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../vpnd/conf.h"
#include "../vpnd/splitnet.h"
#include "ctl.h"
#include "json.h"
#include "subcommands.h"

/*
 * Public resolvers (Cloudflare's): outside every private, shared and
 * documentation range, so that no allow_lan exception covers them, and
 * answering on 443, 53 and ping, so that a leak is a real conversation.
 */
#define LEAKTEST_TARGET "1.1.1.1"
#define LEAKTEST_TARGET6 "2606:4700:4700::1111"

enum leaktest_limits {
	/* How long the judge watches after the last probe: time enough for
	 * a queued packet to wait out a neighbour lookup of the gateway. */
	LEAKTEST_WINDOW_MS = 500,
	LEAKTEST_PORT = 443,
	LEAKTEST_DNS_PORT = 53,
	/* Bytes of each packet the judge keeps: the IP header, extension
	 * headers and the start of the transport header are all it reads. */
	LEAKTEST_SNAPLEN = 512,
	LEAKTEST_RCVBUF = 1 << 20,
	LEAKTEST_NONCE_LEN = 8,
	LEAKTEST_QUERY_MAX = 64,
	LEAKTEST_PROBES_MAX = 10,
};

enum probe_kind {
	PROBE_TCP,
	PROBE_UDP,
	PROBE_ICMP,
	PROBE_DNS_UDP,
	PROBE_DNS_TCP,
	PROBE_KINDS,
};

enum probe_result {
	PROBE_BLOCKED,		/* sent, or refused by the stack; not seen */
	PROBE_NOT_SENT,		/* no route, no address, no IPv6 */
	PROBE_LEAKED,		/* seen leaving the interface */
	PROBE_FAILED,		/* we could not try it */
	PROBE_EXCEPTED,		/* left, as split tunneling says it may */
};

static const struct {
	const char *name;
	int type;
	uint16_t port;		/* 0: ICMP */
} kinds[PROBE_KINDS] = {
	[PROBE_TCP] = { "tcp", SOCK_STREAM, LEAKTEST_PORT },
	[PROBE_UDP] = { "udp", SOCK_DGRAM, LEAKTEST_PORT },
	[PROBE_ICMP] = { "icmp", SOCK_RAW, 0 },
	[PROBE_DNS_UDP] = { "dns-udp", SOCK_DGRAM, LEAKTEST_DNS_PORT },
	[PROBE_DNS_TCP] = { "dns-tcp", SOCK_STREAM, LEAKTEST_DNS_PORT },
};

struct probe {
	enum probe_kind kind;
	int family;
	int fd;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	uint16_t sport;		/* host order; TCP and UDP */
	uint16_t icmp_id;	/* host order; ICMP */
	uint8_t nonce[LEAKTEST_NONCE_LEN];
	int send_err;		/* 0 or -errno: socket, connect or send */
	int later_err;		/* 0 or -errno: SO_ERROR after the window */
	bool connected;		/* TCP: the handshake completed */
	bool seen;		/* the judge saw it leave */
	bool on_link;		/* it waits for the link to answer for it */
	enum probe_result result;
};

struct leaktest_args {
	const char *ifname;	/* NULL: the default route's */
	const char *target;
	const char *target6;
	const char *tunnel;	/* the daemon to ask for the exceptions */
	bool json;
};

struct leaktest {
	char ifname[IFNAMSIZ];
	int ifindex;
	struct in_addr target;
	struct in6_addr target6;
	int judge;		/* the packet socket */
	/* The link was asked who has the target (ARP, neighbour
	 * solicitation): see leaktest_judge(). */
	bool asked4, asked6;
	struct probe probe[LEAKTEST_PROBES_MAX];
	size_t n_probe;
	/* Split tunneling by network, as the daemon said (mode NONE when
	 * none was reachable), and whether one answered. */
	struct splitnet_set split;
	bool split_known;
};

static void leaktest_usage(FILE *f)
{
	fprintf(f,
		"Usage: vpnctl leaktest [-i IF] [--target ADDR] "
		"[--target6 ADDR6] [--json]\n\n"
		"Sends TCP (443), UDP (443), ICMP echo, DNS over UDP and DNS\n"
		"over TCP (53) probes to ADDR and ADDR6, each bound to the\n"
		"physical interface IF as an application that bypasses the\n"
		"tunnel would, and watches IF for %d ms: a probe seen leaving\n"
		"IF is a leak, one that is not was blocked.  Needs root.\n\n"
		"  -i, --interface IF   the physical interface (default: that\n"
		"                       of the default route)\n"
		"  -t, --target ADDR    IPv4 target (default " LEAKTEST_TARGET ")\n"
		"  -6, --target6 ADDR6  IPv6 target (default " LEAKTEST_TARGET6
		")\n"
		"  -T, --tunnel IFNAME  the tunnel whose vpnd is asked for its\n"
		"                       split tunneling exceptions (default "
		CTL_IFNAME_DEFAULT ")\n"
		"  -j, --json           one JSON object with a list of probes\n"
		"  -h, --help           this text\n\n"
		"A probe that split tunneling sends outside (to an excluded\n"
		"network, or in include mode to one not included) and that\n"
		"leaves is 'excepted', not a leak; DNS never is.\n\n"
		"Exit codes: 0 no leak, 1 a probe leaked or the test could not\n"
		"run, 2 usage.\n",
		LEAKTEST_WINDOW_MS);
}

static int leaktest_parse(int argc, char **argv, struct leaktest_args *a,
			  struct leaktest *t)
{
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "target", required_argument, NULL, 't' },
		{ "target6", required_argument, NULL, '6' },
		{ "tunnel", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":i:t:6:T:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'T':
			a->tunnel = optarg;
			break;
		case 'i':
			a->ifname = optarg;
			break;
		case 't':
			a->target = optarg;
			break;
		case '6':
			a->target6 = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'h':
			leaktest_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error("leaktest", opt, optopt,
						argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ctl_usage_error("leaktest", "unexpected argument '%s'",
				       argv[optind]);
	if (a->tunnel && !ctl_ifname_valid(a->tunnel))
		return ctl_usage_error("leaktest", "invalid tunnel name '%s'",
				       a->tunnel);
	if (a->ifname && !ctl_ifname_valid(a->ifname))
		return ctl_usage_error("leaktest", "invalid interface name "
				       "'%s'", a->ifname);
	if (inet_pton(AF_INET, a->target, &t->target) != 1)
		return ctl_usage_error("leaktest", "not an IPv4 address: '%s'",
				       a->target);
	if (inet_pton(AF_INET6, a->target6, &t->target6) != 1)
		return ctl_usage_error("leaktest", "not an IPv6 address: '%s'",
				       a->target6);
	return CTL_CONTINUE;
}

/*
 * A tunnel (TUN, WireGuard) has no link layer.  Its default route is the
 * tunnel's own, and its interface is the one thing leaktest must not
 * take for the physical one.
 */
static bool is_tunnel(const char *ifname)
{
	struct ifreq ifr = { 0 };
	bool tunnel = false;
	int fd;

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return true;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	strcpy(ifr.ifr_name, ifname);
	if (!ioctl(fd, SIOCGIFHWADDR, &ifr))
		tunnel = ifr.ifr_hwaddr.sa_family == ARPHRD_NONE;
	close(fd);
	return tunnel;
}

/* Keeps @name in @best when it is a better default route than before. */
static void consider_route(const char *name, unsigned long metric,
			   char *best, unsigned long *best_metric)
{
	if (!strcmp(name, "lo") || is_tunnel(name))
		return;
	if (*best && metric >= *best_metric)
		return;
	snprintf(best, IFNAMSIZ, "%s", name);
	*best_metric = metric;
}

/* The main table's IPv4 default route with the lowest metric. */
static void default_route4(char *best)
{
	char line[512], name[IFNAMSIZ + 1];
	unsigned long dst, gw, mask, metric, best_metric = 0;
	unsigned int flags;
	FILE *f = fopen("/proc/net/route", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%16s %lx %lx %x %*d %*d %lu %lx", name, &dst,
			   &gw, &flags, &metric, &mask) != 6)
			continue;	/* the header line */
		if (!dst && !mask && (flags & RTF_UP) && !(flags & RTF_REJECT))
			consider_route(name, metric, best, &best_metric);
	}
	fclose(f);
}

/* The same for IPv6: ::/0 routes that are neither rejects nor on lo. */
static void default_route6(char *best)
{
	char line[512], dst[33], name[IFNAMSIZ + 1];
	unsigned long metric, flags, best_metric = 0;
	unsigned int plen;
	FILE *f = fopen("/proc/net/ipv6_route", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%32s %x %*s %*s %*s %lx %*s %*s %lx %16s",
			   dst, &plen, &metric, &flags, name) != 5)
			continue;
		if (!plen && strspn(dst, "0") == 32 && (flags & RTF_UP) &&
		    !(flags & RTF_REJECT))
			consider_route(name, metric, best, &best_metric);
	}
	fclose(f);
}

/*
 * The interface of the default route: IPv4's, else IPv6's.  One interface
 * for every probe, since one link is what an application bypassing the
 * tunnel would use.
 */
static int default_ifname(char *ifname)
{
	ifname[0] = '\0';
	default_route4(ifname);
	if (!ifname[0])
		default_route6(ifname);
	return ifname[0] ? 0 : -ENOENT;
}

static int leaktest_interface(struct leaktest *t, const char *given)
{
	if (given) {
		snprintf(t->ifname, sizeof(t->ifname), "%s", given);
	} else if (default_ifname(t->ifname)) {
		fprintf(stderr, "vpnctl leaktest: no default route outside a "
				"tunnel to find the physical interface by; "
				"name it with --interface\n");
		return -ENOENT;
	}
	t->ifindex = (int)if_nametoindex(t->ifname);
	if (!t->ifindex) {
		fprintf(stderr, "vpnctl leaktest: no interface '%s': %s\n",
			t->ifname, strerror(errno));
		return -ENODEV;
	}
	return 0;
}

static void report_privilege(const char *what, const char *ifname, int err)
{
	if (err == -EPERM || err == -EACCES)
		fprintf(stderr, "vpnctl leaktest: needs root (CAP_NET_RAW) to "
				"%s on %s: %s\n", what, ifname, strerror(-err));
	else
		fprintf(stderr, "vpnctl leaktest: cannot %s on %s: %s\n",
			what, ifname, strerror(-err));
}

/*
 * The judge: a packet socket on the interface that keeps only outgoing
 * packets (a filter in the kernel, so that a busy link's incoming traffic
 * cannot fill the buffer during the window), without their link header.
 * It is bound before any probe is sent, and opened with protocol 0 so
 * that it sees nothing until it is bound to the one interface.
 */
static int judge_open(struct leaktest *t)
{
	struct sock_filter code[] = {
		{ BPF_LD | BPF_W | BPF_ABS, 0, 0, SKF_AD_OFF + SKF_AD_PKTTYPE },
		{ BPF_JMP | BPF_JEQ | BPF_K, 0, 1, PACKET_OUTGOING },
		{ BPF_RET | BPF_K, 0, 0, LEAKTEST_SNAPLEN },
		{ BPF_RET | BPF_K, 0, 0, 0 },
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(*code), code };
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = t->ifindex,
	};
	int size = LEAKTEST_RCVBUF, ret;

	t->judge = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			  0);
	if (t->judge < 0) {
		ret = -errno;
		report_privilege("open a packet socket", t->ifname, ret);
		return ret;
	}
	if (setsockopt(t->judge, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
		       sizeof(prog)) ||
	    bind(t->judge, (struct sockaddr *)&sll, sizeof(sll))) {
		ret = -errno;
		report_privilege("watch outgoing packets", t->ifname, ret);
		close(t->judge);
		t->judge = -1;
		return ret;
	}
	/* A smaller buffer still works: our probes are a handful. */
	setsockopt(t->judge, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return 0;
}

static void random_bytes(void *buf, size_t len)
{
	/* Unpredictable is not needed, only distinct: a short read is
	 * harmless, so the result is not checked beyond that. */
	if (getrandom(buf, len, GRND_NONBLOCK) != (ssize_t)len)
		memset(buf, 0x5a, len);
}

/*
 * The daemon's split set (split=1).  Not reachable, or an answer that is
 * not understood: no exception at all, which can only call more leaks.
 */
static void split_load(struct leaktest *t, const char *tunnel)
{
	struct ctl_reply r = { 0 };
	struct ctl_conn c;
	const char *mode;
	struct conf_prefix p;

	if (ctl_connect(&c, tunnel))
		return;
	if (ctl_call(&c, "split=1\n\n", CTL_TIMEOUT_MS, &r) || r.err)
		goto out;
	mode = ctl_reply_get(&r, "split_mode");
	if (!mode)
		goto out;
	if (!strcmp(mode, "none") || splitnet_mode_parse(mode, &t->split.mode))
		t->split_known = true;
	for (size_t i = 0; t->split_known && i < r.n_pair; i++) {
		const char *v = r.pair[i].value;

		if (strcmp(r.pair[i].key, "split_net"))
			continue;
		if (t->split.n == SPLITNET_MAX ||
		    splitnet_parse(v, strlen(v), &p)) {
			t->split_known = false;
			break;
		}
		t->split.net[t->split.n++] = p;
	}
	if (!t->split_known)
		memset(&t->split, 0, sizeof(t->split));
out:
	ctl_reply_free(&r);
	ctl_close(&c);
}

/*
 * Whether split tunneling sends probe @p outside the tunnel on purpose:
 * to an excluded network, or in include mode to any other than an
 * included one.  DNS never: it is refused outside the tunnel in every
 * mode.
 */
static bool split_excepts(const struct leaktest *t, const struct probe *p)
{
	const void *a = p->family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)&p->dst)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)&p->dst)->sin6_addr;
	bool listed;

	if (p->kind == PROBE_DNS_UDP || p->kind == PROBE_DNS_TCP)
		return false;
	listed = splitnet_find_addr(&t->split, p->family, a) >= 0;
	switch (t->split.mode) {
	case CONF_SPLIT_EXCLUDE:
		return listed;
	case CONF_SPLIT_INCLUDE:
		return !listed;
	default:
		return false;
	}
}

static void probe_init(struct probe *p, enum probe_kind kind, int family,
		       const struct leaktest *t)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->family = family;
	p->fd = -1;
	random_bytes(p->nonce, sizeof(p->nonce));
	random_bytes(&p->icmp_id, sizeof(p->icmp_id));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&p->dst;

		sin->sin_family = AF_INET;
		sin->sin_addr = t->target;
		sin->sin_port = htons(kinds[kind].port);
		p->dst_len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p->dst;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = t->target6;
		sin6->sin6_port = htons(kinds[kind].port);
		p->dst_len = sizeof(*sin6);
	}
}

static int probe_protocol(const struct probe *p)
{
	if (p->kind == PROBE_ICMP)
		return p->family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	return kinds[p->kind].type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
}

/* The RFC 1071 checksum, which ICMPv4 needs from us (ICMPv6's raw sockets
 * fill it in themselves). */
static uint16_t inet_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Echo request: type, code, checksum, id, sequence 1, then the nonce. */
static size_t build_echo(const struct probe *p, uint8_t *buf)
{
	uint16_t sum;

	buf[0] = p->family == AF_INET ? 8 : 128;
	buf[1] = 0;
	buf[2] = buf[3] = 0;
	buf[4] = p->icmp_id >> 8;
	buf[5] = p->icmp_id & 0xff;
	buf[6] = 0;
	buf[7] = 1;
	memcpy(buf + 8, p->nonce, sizeof(p->nonce));
	if (p->family == AF_INET) {
		sum = inet_checksum(buf, 8 + sizeof(p->nonce));
		buf[2] = sum >> 8;
		buf[3] = sum & 0xff;
	}
	return 8 + sizeof(p->nonce);
}

/*
 * A query for A of NONCE.leaktest.invalid: the name under .invalid can
 * never be resolved, and the nonce makes the query ours.  With @tcp, the
 * two-byte length comes first.
 */
static size_t build_query(const struct probe *p, uint8_t *buf, bool tcp)
{
	static const char hex[] = "0123456789abcdef";
	static const uint8_t tail[] = { 8, 'l', 'e', 'a', 'k', 't', 'e', 's',
					't', 7, 'i', 'n', 'v', 'a', 'l', 'i',
					'd', 0, 0, 1, 0, 1 };
	uint8_t *q = tcp ? buf + 2 : buf;
	size_t n = 0;

	memcpy(q, p->nonce, 2);			/* id */
	q[2] = 0x01;				/* recursion desired */
	q[3] = 0;
	q[4] = 0;
	q[5] = 1;				/* one question */
	memset(q + 6, 0, 6);
	n = 12;
	q[n++] = 2 * sizeof(p->nonce);
	for (size_t i = 0; i < sizeof(p->nonce); i++) {
		q[n++] = hex[p->nonce[i] >> 4];
		q[n++] = hex[p->nonce[i] & 0xf];
	}
	memcpy(q + n, tail, sizeof(tail));
	n += sizeof(tail);
	if (!tcp)
		return n;
	buf[0] = n >> 8;
	buf[1] = n & 0xff;
	return n + 2;
}

static size_t build_payload(const struct probe *p, uint8_t *buf)
{
	switch (p->kind) {
	case PROBE_ICMP:
		return build_echo(p, buf);
	case PROBE_DNS_UDP:
		return build_query(p, buf, false);
	case PROBE_UDP:
		memcpy(buf, "vpnd leaktest ", 14);
		memcpy(buf + 14, p->nonce, sizeof(p->nonce));
		return 14 + sizeof(p->nonce);
	default:
		return 0;
	}
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/*
 * Connects (TCP: starts to, without waiting; UDP and raw: fixes the
 * destination and, for UDP, the source port), then sends the payload.
 * 0, or the -errno of the step that failed, in p->send_err.
 */
static int probe_send(struct probe *p)
{
	uint8_t buf[LEAKTEST_QUERY_MAX];
	size_t len;

	if (connect(p->fd, (struct sockaddr *)&p->dst, p->dst_len) &&
	    errno != EINPROGRESS)
		return -errno;
	p->sport = local_port(p->fd);
	len = build_payload(p, buf);
	if (len && send(p->fd, buf, len, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

/*
 * The socket, bound to the interface.  -errno when it cannot be had; a
 * family the kernel lacks (IPv6 disabled) is not a failure of the test.
 */
static int probe_open(struct probe *p, const char *ifname)
{
	struct linger abort_close = { 1, 0 };
	int ret;

	p->fd = socket(p->family, kinds[p->kind].type | SOCK_CLOEXEC |
				  SOCK_NONBLOCK, probe_protocol(p));
	if (p->fd < 0)
		return -errno;
	if (setsockopt(p->fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
		       (socklen_t)strlen(ifname) + 1)) {
		ret = -errno;
		close(p->fd);
		p->fd = -1;
		return ret;
	}
	/* A TCP probe that got through is closed with a reset rather than
	 * kept open in FIN_WAIT against someone else's server. */
	if (kinds[p->kind].type == SOCK_STREAM)
		setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &abort_close,
			   sizeof(abort_close));
	return 0;
}

/* Errors that mean the packet never went anywhere, for want of a route,
 * a source address or the family itself. */
static bool not_sent(int err)
{
	return err == -ENETUNREACH || err == -EHOSTUNREACH ||
	       err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT;
}

static void probe_start(struct probe *p, const char *ifname)
{
	int ret = probe_open(p, ifname);

	if (ret) {
		p->send_err = ret;
		p->result = ret == -EAFNOSUPPORT ? PROBE_NOT_SENT :
						   PROBE_FAILED;
		return;
	}
	p->send_err = probe_send(p);
	p->result = not_sent(p->send_err) ? PROBE_NOT_SENT : PROBE_BLOCKED;
}

/*
 * What the socket learnt during the window: a reset or an ICMP error
 * (SO_ERROR), or that a TCP handshake completed.
 */
static void probe_finish(struct probe *p)
{
	socklen_t len = sizeof(int);
	struct sockaddr_storage peer;
	int err = 0;

	if (p->fd < 0)
		return;
	if (!getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) && err)
		p->later_err = -err;
	len = sizeof(peer);
	if (kinds[p->kind].type == SOCK_STREAM && !p->later_err &&
	    !getpeername(p->fd, (struct sockaddr *)&peer, &len))
		p->connected = true;
	close(p->fd);
	p->fd = -1;
}

/* What the judge needs of a packet: where it goes and its transport. */
struct packet {
	int family;
	uint8_t proto;
	const uint8_t *daddr;
	const uint8_t *l4;
	size_t l4_len;
};

static bool parse_ipv4(const uint8_t *b, size_t len, struct packet *pk)
{
	size_t ihl;

	if (len < 20 || b[0] >> 4 != 4)
		return false;
	ihl = (size_t)(b[0] & 0xf) * 4;
	/* Only a first fragment (or none) holds the transport header. */
	if (ihl < 20 || ihl > len || ((b[6] & 0x1f) | b[7]))
		return false;
	pk->family = AF_INET;
	pk->proto = b[9];
	pk->daddr = b + 16;
	pk->l4 = b + ihl;
	pk->l4_len = len - ihl;
	return true;
}

/* Skips hop-by-hop, routing, fragment (first only) and destination
 * options headers to the transport header.  Hop-by-hop options anywhere
 * but first make no IPv6 packet (RFC 8200, 4.3: a receiver drops it). */
static bool parse_ipv6(const uint8_t *b, size_t len, struct packet *pk)
{
	uint8_t next, cur;
	size_t off = 40;

	if (len < 40 || b[0] >> 4 != 6)
		return false;
	next = b[6];
	for (int i = 0; i < 8; i++) {
		if (next != 0 && next != 43 && next != 44 && next != 60)
			break;
		if (next == 0 && i > 0)
			return false;
		if (off + 8 > len)
			return false;
		if (next == 44 && ((b[off + 2] << 8 | b[off + 3]) & 0xfff8))
			return false;
		/* The length by this header's type, not the next one's. */
		cur = next;
		next = b[off];
		off += cur == 44 ? 8 : ((size_t)b[off + 1] + 1) * 8;
	}
	if (off > len)
		return false;
	pk->family = AF_INET6;
	pk->proto = next;
	pk->daddr = b + 24;
	pk->l4 = b + off;
	pk->l4_len = len - off;
	return true;
}

static bool same_daddr(const struct probe *p, const struct packet *pk)
{
	if (p->family != pk->family)
		return false;
	if (p->family == AF_INET)
		return !memcmp(pk->daddr,
			       &((struct sockaddr_in *)&p->dst)->sin_addr, 4);
	return !memcmp(pk->daddr,
		       &((struct sockaddr_in6 *)&p->dst)->sin6_addr, 16);
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* Is @pk this probe: its protocol, destination, port and our source port,
 * or for ICMP its echo type, id and nonce? */
static bool probe_matches(const struct probe *p, const struct packet *pk)
{
	const uint8_t *l4 = pk->l4;

	if (pk->proto != probe_protocol(p) || !same_daddr(p, pk))
		return false;
	if (p->kind == PROBE_ICMP)
		return pk->l4_len >= 8 + sizeof(p->nonce) &&
		       l4[0] == (p->family == AF_INET ? 8 : 128) &&
		       get16(l4 + 4) == p->icmp_id &&
		       !memcmp(l4 + 8, p->nonce, sizeof(p->nonce));
	return pk->l4_len >= 4 && p->sport && get16(l4) == p->sport &&
	       get16(l4 + 2) == kinds[p->kind].port;
}

/* An ARP request for the IPv4 target: the header, then sender and
 * target hardware and protocol addresses. */
static bool arp_asks_for(const uint8_t *b, size_t len,
			 const struct in_addr *target)
{
	size_t hlen;

	if (len < 8 || get16(b + 2) != ETH_P_IP || b[5] != 4 ||
	    get16(b + 6) != ARPOP_REQUEST)
		return false;
	hlen = b[4];
	return len >= 8 + 2 * hlen + 8 &&
	       !memcmp(b + 8 + 2 * hlen + 4, target, 4);
}

/* A neighbour solicitation for the IPv6 target. */
static bool ns_asks_for(const struct packet *pk, const struct in6_addr *target)
{
	return pk->family == AF_INET6 && pk->proto == IPPROTO_ICMPV6 &&
	       pk->l4_len >= 24 && pk->l4[0] == 135 &&
	       !memcmp(pk->l4 + 8, target, 16);
}

static void judge_packet(struct leaktest *t, const uint8_t *b, size_t len,
			 uint16_t ethertype)
{
	struct packet pk;

	if (ethertype == ETH_P_ARP) {
		t->asked4 |= arp_asks_for(b, len, &t->target);
		return;
	}
	if (!parse_ipv4(b, len, &pk) && !parse_ipv6(b, len, &pk))
		return;
	t->asked6 |= ns_asks_for(&pk, &t->target6);
	for (size_t i = 0; i < t->n_probe; i++)
		if (t->probe[i].fd >= 0 && probe_matches(&t->probe[i], &pk))
			t->probe[i].seen = true;
}

/* Reads what is queued; 0, or -errno when the socket fails. */
static int judge_drain(struct leaktest *t)
{
	uint8_t buf[LEAKTEST_SNAPLEN];
	struct sockaddr_ll sll;
	socklen_t len;
	ssize_t n;

	for (;;) {
		len = sizeof(sll);
		n = recvfrom(t->judge, buf, sizeof(buf), 0,
			     (struct sockaddr *)&sll, &len);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		/* The filter already chose; this is in case it was lost. */
		if (sll.sll_pkttype == PACKET_OUTGOING)
			judge_packet(t, buf, (size_t)n,
				     ntohs(sll.sll_protocol));
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Is the kernel still resolving the IPv4 target on the link?  An entry
 * that is not complete (incomplete, or failed) says so even when no ARP
 * request fell into the window: one still being resolved from a run a
 * moment ago is retried only every second, while our probes join its
 * queue at once.  The price: a firewall that drops TCP without a reset,
 * while an old resolution of the target lingers, makes a TCP probe look
 * queued: a false alarm, never a missed leak.
 */
static bool arp_pending(const struct leaktest *t)
{
	struct arpreq r = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&r.arp_pa;
	bool pending = false;
	int fd;

	sin->sin_family = AF_INET;
	sin->sin_addr = t->target;
	snprintf(r.arp_dev, sizeof(r.arp_dev), "%s", t->ifname);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (!ioctl(fd, SIOCGARP, &r))
		pending = !(r.arp_flags & ATF_COM);
	close(fd);
	return pending;
}

/* Watches the interface for the whole window, whatever it sees early:
 * a probe queued behind a neighbour lookup leaves late. */
static int judge_watch(struct leaktest *t)
{
	int64_t deadline = now_ms() + LEAKTEST_WINDOW_MS, left;
	struct pollfd pfd = { .fd = t->judge, .events = POLLIN };
	int ret;

	while ((left = deadline - now_ms()) > 0) {
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
		ret = judge_drain(t);
		if (ret)
			return ret;
	}
	t->asked4 |= arp_pending(t);
	return judge_drain(t);
}

static void leaktest_run(struct leaktest *t)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct probe *p;

	for (size_t f = 0; f < 2; f++) {
		for (int k = 0; k < PROBE_KINDS; k++) {
			p = &t->probe[t->n_probe++];
			probe_init(p, (enum probe_kind)k, families[f], t);
			probe_start(p, t->ifname);
		}
	}
}

/* The first thing the socket said, as a short lower-case phrase. */
static void probe_detail(const struct probe *p, char *buf, size_t len)
{
	int err = p->send_err ? p->send_err : p->later_err;

	if (p->on_link) {
		snprintf(buf, len, "the link was asked for the target by %s",
			 p->family == AF_INET ? "ARP" : "neighbour solicitation");
	} else if (p->result == PROBE_NOT_SENT && (err == -ENETUNREACH ||
					    err == -EHOSTUNREACH)) {
		snprintf(buf, len, "no route");
	} else if (p->result == PROBE_NOT_SENT && err == -EADDRNOTAVAIL) {
		snprintf(buf, len, "no source address");
	} else if (p->result == PROBE_NOT_SENT && err == -EAFNOSUPPORT) {
		snprintf(buf, len, "IPv6 disabled");
	} else if (err) {
		snprintf(buf, len, "%s", strerror(-err));
		if (buf[0] >= 'A' && buf[0] <= 'Z')
			buf[0] = (char)(buf[0] - 'A' + 'a');
	} else if (p->result == PROBE_EXCEPTED) {
		snprintf(buf, len, "left by the physical link, as split tunneling (%s) says",
			 p->seen ? "seen" : "asked the link");
	} else if (p->connected) {
		snprintf(buf, len, "connected");
	} else {
		snprintf(buf, len, "no error from the socket");
	}
}

static const char *result_name(enum probe_result r, bool json)
{
	switch (r) {
	case PROBE_LEAKED:
		return json ? "leak" : "LEAK";
	case PROBE_NOT_SENT:
		return json ? "not_sent" : "not sent";
	case PROBE_FAILED:
		return json ? "error" : "ERROR";
	case PROBE_EXCEPTED:
		return "excepted";
	default:
		return "blocked";
	}
}

static void probe_address(const struct probe *p, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	const void *a = p->family == AF_INET ?
		(const void *)&((struct sockaddr_in *)&p->dst)->sin_addr :
		(const void *)&((struct sockaddr_in6 *)&p->dst)->sin6_addr;

	inet_ntop(p->family, a, addr, sizeof(addr));
	snprintf(buf, len, "%s", addr);
}

/* "198.51.100.2:443", "[2001:db8::2]:53", or the bare address for ICMP. */
static void probe_destination(const struct probe *p, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	probe_address(p, addr, sizeof(addr));
	if (!kinds[p->kind].port)
		snprintf(buf, len, "%s", addr);
	else if (p->family == AF_INET)
		snprintf(buf, len, "%s:%u", addr, kinds[p->kind].port);
	else
		snprintf(buf, len, "[%s]:%u", addr, kinds[p->kind].port);
}

static void print_text(const struct leaktest *t, size_t leaked,
		       size_t failed)
{
	char dst[INET6_ADDRSTRLEN + 8], detail[128];

	printf("interface: %s\n", t->ifname);
	if (!t->split_known)
		printf("split: unknown (vpnd not reachable): no exceptions\n");
	else if (t->split.mode != CONF_SPLIT_NONE)
		printf("split: %s mode, %u network(s)\n",
		       splitnet_mode_name(t->split.mode), t->split.n);
	for (size_t i = 0; i < t->n_probe; i++) {
		const struct probe *p = &t->probe[i];

		probe_destination(p, dst, sizeof(dst));
		probe_detail(p, detail, sizeof(detail));
		printf("%-8s %-26s %s (%s)\n", kinds[p->kind].name, dst,
		       result_name(p->result, false), detail);
	}
	if (leaked)
		printf("%zu of %zu probes leaked\n", leaked, t->n_probe);
	else if (failed)
		printf("no leak seen, but %zu of %zu probes could not be "
		       "tried\n", failed, t->n_probe);
	else
		printf("no leak\n");
}

static void print_json(const struct leaktest *t, size_t leaked)
{
	char addr[INET6_ADDRSTRLEN], detail[128];

	fputs("{\"interface\":", stdout);
	json_string(stdout, t->ifname);
	printf(",\"window_ms\":%d,\"split_mode\":", LEAKTEST_WINDOW_MS);
	if (t->split_known)
		json_string(stdout, splitnet_mode_name(t->split.mode));
	else
		fputs("null", stdout);
	printf(",\"probes\":[");
	for (size_t i = 0; i < t->n_probe; i++) {
		const struct probe *p = &t->probe[i];

		probe_address(p, addr, sizeof(addr));
		probe_detail(p, detail, sizeof(detail));
		printf("%s{\"probe\":\"%s\",\"family\":\"%s\","
		       "\"destination\":\"%s\"", i ? "," : "",
		       kinds[p->kind].name,
		       p->family == AF_INET ? "ipv4" : "ipv6", addr);
		if (kinds[p->kind].port)
			printf(",\"port\":%u", kinds[p->kind].port);
		printf(",\"result\":\"%s\",\"detail\":",
		       result_name(p->result, true));
		json_string(stdout, detail);
		putchar('}');
	}
	printf("],\"leaked\":%zu}\n", leaked);
}

/*
 * A probe that the stack let through without a word (no error, no reset,
 * no handshake yet) and whose target the link was asked for waits in the
 * neighbour queue.  It happens when the lookup of a bound socket finds no
 * usable route and the kernel, rather than fail, assumes the destination
 * is on the link (as it does for IPv4 behind vpnd's unreachable default):
 * the address goes out in clear, and whoever answers for it, a proxy-ARP
 * router or anyone on the LAN, receives the packets.  A leak.  (A probe
 * the firewall refused never gets that far: its socket has an error.)
 */
static bool waits_on_link(const struct leaktest *t, const struct probe *p)
{
	bool asked = p->family == AF_INET ? t->asked4 : t->asked6;

	return asked && p->result == PROBE_BLOCKED && !p->send_err &&
	       !p->later_err && !p->connected;
}

/* Turns what the judge saw into results; returns the number of leaks. */
static size_t leaktest_judge(struct leaktest *t, size_t *failed)
{
	size_t leaked = 0;

	*failed = 0;
	for (size_t i = 0; i < t->n_probe; i++) {
		struct probe *p = &t->probe[i];

		p->on_link = !p->seen && waits_on_link(t, p);
		if (p->seen || p->on_link)
			p->result = split_excepts(t, p) ? PROBE_EXCEPTED :
							  PROBE_LEAKED;
		leaked += p->result == PROBE_LEAKED;
		*failed += p->result == PROBE_FAILED;
	}
	return leaked;
}

static void leaktest_close(struct leaktest *t)
{
	for (size_t i = 0; i < t->n_probe; i++)
		probe_finish(&t->probe[i]);
	if (t->judge >= 0)
		close(t->judge);
	t->judge = -1;
}

int cmd_leaktest(int argc, char **argv)
{
	struct leaktest_args a = { .target = LEAKTEST_TARGET,
				   .target6 = LEAKTEST_TARGET6,
				   .tunnel = CTL_IFNAME_DEFAULT };
	struct leaktest t = { .judge = -1 };
	size_t leaked, failed;
	int ret;

	ret = leaktest_parse(argc, argv, &a, &t);
	if (ret != CTL_CONTINUE)
		return ret;
	if (leaktest_interface(&t, a.ifname))
		return CTL_EXIT_FAILED;
	split_load(&t, a.tunnel);
	if (judge_open(&t))
		return CTL_EXIT_FAILED;
	leaktest_run(&t);
	ret = judge_watch(&t);
	/* SO_ERROR and the TCP state are read after the window, but before
	 * the sockets close: closing is what the judge must not wait for. */
	leaktest_close(&t);
	if (ret) {
		report_privilege("read outgoing packets", t.ifname, ret);
		return CTL_EXIT_FAILED;
	}
	leaked = leaktest_judge(&t, &failed);
	if (a.json)
		print_json(&t, leaked);
	else
		print_text(&t, leaked, failed);
	return leaked || failed ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}
