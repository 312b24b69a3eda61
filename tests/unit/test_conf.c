/* SPDX-License-Identifier: MIT */
/*
 * Configuration files: the examples in conf/ load into the right fields;
 * each malformed case fails with a message that names the file, the line
 * and the key; files open to others are refused; secrets are wiped.
 *
 * Files are written into a mkdtemp() directory with the modes each case
 * needs.  The test includes conf.c and defines its CONF_TEST_WIPED hook, so
 * that it sees every region the module wipes, at the moment it is wiped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

/*
 * What the hook saw.  The hook has no context argument, so this record is
 * the one piece of file-scope state; each test that reads it resets it.
 */
enum { WIPED_MAX = 256 };
static struct {
	const void *p[WIPED_MAX];
	size_t len[WIPED_MAX];
	unsigned int n;
	bool overflow;
} wiped;

static void wiped_reset(void)
{
	memset(&wiped, 0, sizeof(wiped));
}

/* Called by conf.c just after each wipe: the region must hold zeros. */
static void test_wiped(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		assert_int_equal(b[i], 0);
	if (wiped.n == WIPED_MAX) {
		wiped.overflow = true;
		return;
	}
	wiped.p[wiped.n] = p;
	wiped.len[wiped.n++] = len;
}

/* Whether a wiped region covered [p, p + len). Compares addresses only. */
static bool wiped_covers(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;

	for (unsigned int i = 0; i < wiped.n; i++) {
		uintptr_t s = (uintptr_t)wiped.p[i];

		if (a >= s && a + len <= s + wiped.len[i])
			return true;
	}
	return false;
}

static unsigned int wiped_with_len(size_t len)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < wiped.n; i++)
		n += wiped.len[i] == len;
	return n;
}

#define CONF_TEST_WIPED(p, len) test_wiped((p), (len))
#include "../../vpnd/conf.c"

/* The keys of the examples in conf/ (example keys, published on purpose). */
#define CLIENT_PRIV "mPNqy8l90ODizrvh6KcB3z30n39cOIueFs7xrjhQNHM="
#define CLIENT_PUB "85/gSZ9KYurnmtuEVDmPfF5rsrKWiDpVTBbKj3wJjVo="
#define SERVER_PRIV "EHVxfAn7qCUhtyVBWzRqrKDkpUn34aY+K7G28skBWXo="
#define SERVER_PUB "TZAsZYGqr0Bg/WGgMktIhgrvZ+sDGpfFHpvOyGWp/SQ="
#define ZRH_PUB "Sm/pUNAo6ToGU1zpY5Z2x8MvvYOqtKA6/Sn+Zavp61A="
#define NYC_PUB "pbWvlCChLeHhLRWjyphTvbxxtIhApv+LiehwUWU9e3w="
#define BOB_PUB "1xFNuQixCHLEAqpSf8SSy+yYz6zybN/qkSL8O3juU14="
#define PSK "4xO2uguLcEbIR0m0lMN0fmUx1NYu3Ks6MeIFTeDajvY="

struct fixture {
	char dir[64];
	char path[16][256];
	unsigned int n_path;
	char err[CONF_ERR_LEN];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/vpnd-conf-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *d = opendir(fx->dir);

	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* Writes @text to DIR/@name with exactly @mode; returns the path. */
static const char *put(struct fixture *fx, const char *name, const char *text,
		       mode_t mode)
{
	char *path, buf[sizeof(fx->path[0])];
	size_t len = strlen(text);
	int fd;

	assert_true(fx->n_path < 16);
	snprintf(buf, sizeof(buf), "%s/%s", fx->dir, name);
	path = memcpy(fx->path[fx->n_path++], buf, sizeof(buf));
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* The text of an example in conf/ (the tests run from the source tree). */
static char *example(const char *name)
{
	char path[256];
	struct stat st;
	char *text;
	int fd;

	snprintf(path, sizeof(path), "conf/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("cannot open %s: run the test from the source tree", path);
	assert_int_equal(fstat(fd, &st), 0);
	text = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(text);
	assert_int_equal(read(fd, text, (size_t)st.st_size), st.st_size);
	close(fd);
	return text;
}

static const char *put_example(struct fixture *fx, const char *name,
			       mode_t mode)
{
	char *text = example(name);
	const char *path = put(fx, name, text, mode);

	free(text);
	return path;
}

static void assert_key(const uint8_t *key, const char *b64)
{
	uint8_t want[KEY_LEN];

	assert_non_null(key);
	assert_int_equal(key_from_base64(want, b64), 0);
	assert_memory_equal(key, want, KEY_LEN);
}

static void assert_prefix(const struct conf_prefix *p, const char *text)
{
	char buf[64];

	assert_string_equal(prefix_text(p, buf, sizeof(buf)), text);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("\"%s\" is not in \"%s\"", needle, haystack);
}

/* ------------------------------------------------------------------ */
/* The examples.                                                       */

static void test_example_client(void **state)
{
	struct fixture *fx = *state;
	struct conf_client *c;
	const char *path = put_example(fx, "client.conf", 0600);

	assert_int_equal(conf_client_load(path, &c, fx->err, sizeof(fx->err)),
			 0);
	assert_string_equal(fx->err, "");
	assert_string_equal(c->path, path);
	assert_key(c->private_key, CLIENT_PRIV);
	assert_int_equal(c->n_address, 2);
	assert_int_equal(c->address[0].family, AF_INET);
	assert_prefix(&c->address[0], "10.64.0.2/32");
	assert_int_equal(c->address[1].family, AF_INET6);
	assert_prefix(&c->address[1], "fc00:bbbb::2/128");
	assert_int_equal(c->n_dns, 1);
	assert_prefix(&c->dns[0], "10.64.0.1/32");
	assert_int_equal(c->mtu, 1420);
	assert_int_equal(c->kill_switch, CONF_KILL_SWITCH_ON);
	assert_false(c->allow_lan);
	assert_true(c->has_split);
	assert_string_equal(c->servers_path, "/etc/vpnd/servers.conf");
	assert_string_equal(c->server, "se-sto-01");
	conf_client_free(c);
}

static void test_example_servers(void **state)
{
	struct fixture *fx = *state;
	struct conf_servers *l;
	const struct conf_server_entry *e;
	const char *path = put_example(fx, "servers.conf", 0600);
	char ip[INET6_ADDRSTRLEN];

	assert_int_equal(conf_servers_load(path, &l, fx->err, sizeof(fx->err)),
			 0);
	assert_int_equal(l->n_entry, 3);

	e = &l->entry[0];
	assert_string_equal(e->id, "se-sto-01");
	assert_int_equal(e->endpoint.sa.sa_family, AF_INET);
	inet_ntop(AF_INET, &e->endpoint.in4.sin_addr, ip, sizeof(ip));
	assert_string_equal(ip, "192.0.2.10");
	assert_int_equal(ntohs(e->endpoint.in4.sin_port), 51820);
	assert_key(e->public_key, SERVER_PUB);
	assert_key(e->preshared_key, PSK);
	assert_string_equal(e->country, "se");
	assert_string_equal(e->city, "Stockholm");

	e = &l->entry[1];
	assert_string_equal(e->id, "ch-zrh-01");
	assert_int_equal(e->endpoint.sa.sa_family, AF_INET6);
	inet_ntop(AF_INET6, &e->endpoint.in6.sin6_addr, ip, sizeof(ip));
	assert_string_equal(ip, "2001:db8::10");
	assert_int_equal(ntohs(e->endpoint.in6.sin6_port), 51820);
	assert_key(e->public_key, ZRH_PUB);
	assert_null(e->preshared_key);
	assert_string_equal(e->country, "ch");	/* "CH" in the file */
	assert_string_equal(e->city, "Zürich");

	e = &l->entry[2];
	assert_string_equal(e->id, "us-nyc-01");
	assert_int_equal(ntohs(e->endpoint.in4.sin_port), 443);
	assert_key(e->public_key, NYC_PUB);
	assert_string_equal(e->city, "New York");

	assert_ptr_equal(conf_servers_find(l, "US-NYC-01"), e);
	assert_null(conf_servers_find(l, "us-nyc-02"));
	conf_servers_free(l);
}

static void test_example_server(void **state)
{
	struct fixture *fx = *state;
	struct conf_server *srv;
	const char *path = put_example(fx, "server.conf", 0600);

	assert_int_equal(conf_server_load(path, &srv, fx->err, sizeof(fx->err)),
			 0);
	assert_key(srv->private_key, SERVER_PRIV);
	assert_key(srv->public_key, SERVER_PUB);	/* derived */
	assert_null(srv->private_key_file);
	assert_int_equal(srv->listen_port, 51820);
	assert_int_equal(srv->n_address, 2);
	assert_prefix(&srv->address[0], "10.64.0.1/16");
	assert_prefix(&srv->address[1], "fc00:bbbb::1/64");
	assert_string_equal(srv->nat, "eth0");
	assert_int_equal(srv->n_peer, 2);

	assert_string_equal(srv->peer[0].name, "alice");
	assert_key(srv->peer[0].public_key, CLIENT_PUB);
	assert_key(srv->peer[0].preshared_key, PSK);
	assert_int_equal(srv->peer[0].n_allowed_ips, 2);
	assert_prefix(&srv->peer[0].allowed_ips[0], "10.64.0.2/32");
	assert_prefix(&srv->peer[0].allowed_ips[1], "fc00:bbbb::2/128");

	assert_string_equal(srv->peer[1].name, "bob");
	assert_key(srv->peer[1].public_key, BOB_PUB);
	assert_null(srv->peer[1].preshared_key);
	assert_prefix(&srv->peer[1].allowed_ips[0], "10.64.0.3/32");
	conf_server_free(srv);
}

/* The three examples are one working pair of ends. */
static void test_examples_pair_up(void **state)
{
	struct fixture *fx = *state;
	const char *cp = put_example(fx, "client.conf", 0600);
	const char *lp = put_example(fx, "servers.conf", 0600);
	const char *sp = put_example(fx, "server.conf", 0600);
	const struct conf_server_entry *e;
	struct conf_servers *l;
	struct conf_client *c;
	struct conf_server *srv;
	uint8_t pub[KEY_LEN];

	assert_int_equal(conf_client_load(cp, &c, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(conf_servers_load(lp, &l, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(conf_server_load(sp, &srv, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(conf_servers_resolve(l, c, NULL, &e, fx->err,
					      sizeof(fx->err)), 0);
	assert_string_equal(e->id, "se-sto-01");
	assert_memory_equal(e->public_key, srv->public_key, KEY_LEN);
	crypto_scalarmult_curve25519_base(pub, c->private_key);
	assert_memory_equal(pub, srv->peer[0].public_key, KEY_LEN);
	assert_memory_equal(e->preshared_key, srv->peer[0].preshared_key,
			    KEY_LEN);
	conf_server_free(srv);
	conf_servers_free(l);
	conf_client_free(c);
}

/* ------------------------------------------------------------------ */
/* Malformed files: each names its file, line, key and problem.        */

enum kind { CLIENT, SERVERS, SERVER };

struct bad_case {
	enum kind kind;
	const char *text;
	int error;
	unsigned int line;	/* 0: the message has no line */
	const char *where;	/* "[section] key" or "[section]" */
	const char *problem;
};

#define C_IF "[interface]\n"
#define C_PRIV "private_key = " CLIENT_PRIV "\n"
#define C_ADDR "address = 10.64.0.2/32\n"
#define C_DNS "dns = 10.64.0.1\n"
#define C_OK C_IF C_PRIV C_ADDR C_DNS	/* lines 1 to 4 */

#define L_SEC "[se-sto-01]\n"
#define L_EP "endpoint = 192.0.2.10:51820\n"
#define L_PUB "public_key = " SERVER_PUB "\n"
#define L_CC "country = se\n"

#define S_IF "[interface]\n"
#define S_PRIV "private_key = " SERVER_PRIV "\n"
#define S_PORT "listen_port = 51820\n"
#define S_ADDR "address = 10.64.0.1/16\n"
#define S_OK S_IF S_PRIV S_PORT S_ADDR	/* lines 1 to 4 */
#define S_ALICE "[peer alice]\npublic_key = " CLIENT_PUB "\nallowed_ips = 10.64.0.2/32\n"	/* 5 to 7 */

static const struct bad_case bad_cases[] = {
	/* The client profile. */
	{ CLIENT, C_IF C_ADDR C_DNS, -EINVAL, 1, "[interface] private_key", "missing" },
	{ CLIENT, C_IF "private_key = notakey\n" C_ADDR C_DNS, -EINVAL, 2, "[interface] private_key", "not a key" },
	{ CLIENT, C_IF "private_key = mPNqy8l90ODizrvh6KcB3z30n39cOIueFs7xrjhQNHM\n" C_ADDR C_DNS, -EINVAL, 2, "[interface] private_key", "not a key" },
	{ CLIENT, C_IF C_PRIV C_DNS, -EINVAL, 1, "[interface] address", "missing" },
	{ CLIENT, C_IF C_PRIV "address = 10.64.0.2/33\n" C_DNS, -EINVAL, 3, "[interface] address", "prefix length" },
	{ CLIENT, C_IF C_PRIV "address = 10.64.0.300/32\n" C_DNS, -EINVAL, 3, "[interface] address", "not an IP address" },
	{ CLIENT, C_IF C_PRIV "address = 10.64.0.2/32, fc00::zz/128\n" C_DNS, -EINVAL, 3, "[interface] address", "entry 2 \"fc00::zz/128\"" },
	{ CLIENT, C_IF C_PRIV "address = 10.64.0.2/32,\n" C_DNS, -EINVAL, 3, "[interface] address", "entry 2 is empty" },
	{ CLIENT, C_IF C_PRIV "address =\n" C_DNS, -EINVAL, 3, "[interface] address", "empty" },
	{ CLIENT, C_IF C_PRIV "address = 10.64.0.2/\n" C_DNS, -EINVAL, 3, "[interface] address", "prefix length" },
	{ CLIENT, C_IF C_PRIV "address = 0.0.0.0/32\n" C_DNS, -EINVAL, 3, "[interface] address", "unspecified" },
	{ CLIENT, C_IF C_PRIV C_ADDR, -EINVAL, 1, "[interface] dns", "missing" },
	{ CLIENT, C_IF C_PRIV C_ADDR "dns = dns.example.com\n", -EINVAL, 4, "[interface] dns", "not an IP address" },
	{ CLIENT, C_IF C_PRIV C_ADDR "dns = 10.64.0.1/32\n", -EINVAL, 4, "[interface] dns", "without a prefix" },
	{ CLIENT, C_IF C_PRIV C_ADDR "dns = 1.1.1\n", -EINVAL, 4, "[interface] dns", "not an IP address" },
	{ CLIENT, C_OK "mtu = 1000\n", -EINVAL, 5, "[interface] mtu", "out of range" },
	{ CLIENT, C_OK "mtu = 9001\n", -EINVAL, 5, "[interface] mtu", "out of range" },
	{ CLIENT, C_OK "mtu = 99999999999999999999999\n", -EINVAL, 5, "[interface] mtu", "out of range" },
	{ CLIENT, C_OK "mtu = -1\n", -EINVAL, 5, "[interface] mtu", "not a number" },
	{ CLIENT, C_OK "mtu = 1420 bytes\n", -EINVAL, 5, "[interface] mtu", "not a number" },
	{ CLIENT, C_OK "kill_switch = maybe\n", -EINVAL, 5, "[interface] kill_switch", "off, on, lockdown" },
	{ CLIENT, C_OK "allow_lan = perhaps\n", -EINVAL, 5, "[interface] allow_lan", "yes, no" },
	{ CLIENT, C_OK "server = se sto 01\n", -EINVAL, 5, "[interface] server", "server id" },
	{ CLIENT, C_OK "servers =\n", -EINVAL, 5, "[interface] servers", "empty path" },
	{ CLIENT, C_OK "privat_key = x\n", -EINVAL, 5, "[interface] privat_key", "unknown key" },
	{ CLIENT, C_OK "\n[interfase]\nmtu = 1420\n", -EINVAL, 6, "[interfase]", "unknown section" },
	{ CLIENT, C_OK "dns = 10.64.0.9\n", -EINVAL, 5, "[interface] dns", "set twice (first at line 4)" },
	{ CLIENT, C_OK "[interface]\n", -EINVAL, 5, "[interface]", "section repeated (first at line 1)" },
	{ CLIENT, "[split]\n", -EINVAL, 0, NULL, "no [interface] section" },
	{ CLIENT, "", -EINVAL, 0, NULL, "no [interface] section" },
	/* Text the line scan refuses before iniparser sees it. */
	{ CLIENT, C_IF C_PRIV "address\n" C_DNS, -EINVAL, 3, NULL, "expected \"key = value\"" },
	{ CLIENT, "mtu = 1420\n" C_OK, -EINVAL, 1, "mtu", "before any [section]" },
	{ CLIENT, C_OK "server = \"se-sto-01\n", -EINVAL, 5, "[interface] server", "unterminated quote" },
	{ CLIENT, C_OK "server = \"se-sto-01\" x\n", -EINVAL, 5, "[interface] server", "after the closing quote" },
	{ CLIENT, C_IF C_PRIV "address = 10.64.0.2/32, \\\n  fc00::2/128\n" C_DNS, -EINVAL, 3, NULL, "may not end with '\\'" },
	{ CLIENT, C_OK "# a comment \\\nmtu = 1420\n", -EINVAL, 5, NULL, "may not end with '\\'" },
	{ CLIENT, C_OK "server = se\\sto\n", -EINVAL, 5, NULL, "backslash" },
	{ CLIENT, "[interface\n", -EINVAL, 1, NULL, "must end with ']'" },
	{ CLIENT, "\xef\xbb\xbf" C_OK, -EINVAL, 1, NULL, "byte order mark" },
	{ CLIENT, "[interface] # main\n", -EINVAL, 1, NULL, "must end with ']'" },
	{ CLIENT, "[]\n", -EINVAL, 1, NULL, "needs a name" },
	{ CLIENT, "[inter:face]\n", -EINVAL, 1, NULL, "section name" },
	{ CLIENT, C_OK "= 1420\n", -EINVAL, 5, NULL, "key name is missing" },
	{ CLIENT, C_OK "kill switch = on\n", -EINVAL, 5, NULL, "not a key name" },
	{ CLIENT, C_OK "mtu = 1420\x01\n", -EINVAL, 5, NULL, "control character 0x01" },
	{ CLIENT, C_OK "mtu = 14\0" "20\n", -EINVAL, 5, NULL, "control character 0x00" },
	{ CLIENT, C_IF "private_key = " CLIENT_PRIV "\r\n" "address = 10.64.0.2/32\r\n" "dns = 10.64.0.1\r\n" "mtu = 1\r\n", -EINVAL, 5, "[interface] mtu", "out of range" },

	/* The server list. */
	{ SERVERS, L_SEC "endpoint = vpn.example.com:51820\n" L_PUB L_CC, -EINVAL, 2, "[se-sto-01] endpoint", "hostnames are refused" },
	{ SERVERS, L_SEC "endpoint = [vpn.example.com]:51820\n" L_PUB L_CC, -EINVAL, 2, "[se-sto-01] endpoint", "hostnames are refused" },
	{ SERVERS, L_SEC "endpoint = localhost:51820\n" L_PUB L_CC, -EINVAL, 2, "[se-sto-01] endpoint", "no local DNS answer" },
	{ SERVERS, L_SEC "endpoint = 2001:db8::1:51820\n" L_PUB L_CC, -EINVAL, 2, "[se-sto-01] endpoint", "in brackets" },
	{ SERVERS, L_SEC "endpoint = [192.0.2.1]:51820\n" L_PUB L_CC, -EINVAL, 2, "[se-sto-01] endpoint", "IPv6 addresses only" },
	{ SERVERS, L_SEC "endpoint = [2001:db8::1:51820\n" L_PUB L_CC, -EINVAL, 2, "[se-sto-01] endpoint", "without its ']'" },
	{ SERVERS, L_SEC "endpoint = [fe80::1%eth0]:51820\n" L_PUB L_CC, -EINVAL, 2, "[se-sto-01] endpoint", "zone" },
	{ SERVERS, L_SEC "endpoint = 192.0.2.1\n" L_PUB L_CC, -EINVAL, 2, "[se-sto-01] endpoint", "ADDRESS:PORT" },
	{ SERVERS, L_SEC "endpoint = 192.0.2.1:0\n" L_PUB L_CC, -EINVAL, 2, "[se-sto-01] endpoint", "port" },
	{ SERVERS, L_SEC "endpoint = 192.0.2.1:65536\n" L_PUB L_CC, -EINVAL, 2, "[se-sto-01] endpoint", "port" },
	{ SERVERS, L_SEC "endpoint = 0.0.0.0:51820\n" L_PUB L_CC, -EINVAL, 2, "[se-sto-01] endpoint", "names no server" },
	{ SERVERS, L_SEC L_PUB L_CC, -EINVAL, 1, "[se-sto-01] endpoint", "missing" },
	{ SERVERS, L_SEC L_EP "public_key = AAAA\n" L_CC, -EINVAL, 3, "[se-sto-01] public_key", "not a key" },
	{ SERVERS, L_SEC L_EP L_CC, -EINVAL, 1, "[se-sto-01] public_key", "missing" },
	{ SERVERS, L_SEC L_EP L_PUB "preshared_key = short=\n" L_CC, -EINVAL, 4, "[se-sto-01] preshared_key", "not a key" },
	{ SERVERS, L_SEC L_EP L_PUB, -EINVAL, 1, "[se-sto-01] country", "missing" },
	{ SERVERS, L_SEC L_EP L_PUB "country = swe\n", -EINVAL, 4, "[se-sto-01] country", "two-letter" },
	{ SERVERS, L_SEC L_EP L_PUB "country = s1\n", -EINVAL, 4, "[se-sto-01] country", "two-letter" },
	{ SERVERS, L_SEC L_EP L_PUB L_CC "endpiont = 192.0.2.1:1\n", -EINVAL, 5, "[se-sto-01] endpiont", "unknown key" },
	{ SERVERS, "[se sto 01]\n" L_EP L_PUB L_CC, -EINVAL, 1, "[se sto 01]", "server id" },
	{ SERVERS, L_SEC L_EP L_PUB L_CC L_SEC L_EP L_PUB L_CC, -EINVAL, 5, "[se-sto-01]", "repeated (first at line 1)" },
	{ SERVERS, "# nothing\n", -EINVAL, 0, NULL, "lists no servers" },

	/* The server config. */
	{ SERVER, S_IF S_PRIV "private_key_file = server.key\n" S_PORT S_ADDR, -EINVAL, 3, "[interface] private_key_file", "both set" },
	{ SERVER, S_IF S_PORT S_ADDR, -EINVAL, 1, "[interface] private_key", "missing" },
	{ SERVER, S_IF S_PRIV S_ADDR, -EINVAL, 1, "[interface] listen_port", "missing" },
	{ SERVER, S_IF S_PRIV "listen_port = 0\n" S_ADDR, -EINVAL, 3, "[interface] listen_port", "from 1 to 65535" },
	{ SERVER, S_IF S_PRIV "listen_port = 70000\n" S_ADDR, -EINVAL, 3, "[interface] listen_port", "from 1 to 65535" },
	{ SERVER, S_IF S_PRIV "listen_port = 0x51\n" S_ADDR, -EINVAL, 3, "[interface] listen_port", "from 1 to 65535" },
	{ SERVER, S_IF S_PRIV S_PORT, -EINVAL, 1, "[interface] address", "missing" },
	{ SERVER, S_IF S_PRIV S_PORT "address = 10.64.0.1/0\n", -EINVAL, 4, "[interface] address", "prefix length of 0" },
	{ SERVER, S_OK "nat = eth0/1\n", -EINVAL, 5, "[interface] nat", "interface name" },
	{ SERVER, S_OK "nat = a-very-long-ifname\n", -EINVAL, 5, "[interface] nat", "interface name" },
	{ SERVER, S_OK "[peer alice]\npublic_key = " CLIENT_PUB "\nallowed_ips = 10.64.0.0/40\n", -EINVAL, 7, "[peer alice] allowed_ips", "prefix length" },
	{ SERVER, S_OK "[peer alice]\npublic_key = " CLIENT_PUB "\nallowed_ips = 10.64.0.2/16\n", -EINVAL, 7, "[peer alice] allowed_ips", "host bits set: write 10.64.0.0/16 for the network, or 10.64.0.2/32" },
	{ SERVER, S_OK "[peer alice]\npublic_key = " CLIENT_PUB "\nallowed_ips = fc00::1:2/64\n", -EINVAL, 7, "[peer alice] allowed_ips", "write fc00::/64" },
	{ SERVER, S_OK "[peer alice]\npublic_key = " CLIENT_PUB "\nallowed_ips = 10.64.0.2/32,, 10.64.0.3/32\n", -EINVAL, 7, "[peer alice] allowed_ips", "entry 2 is empty" },
	{ SERVER, S_OK "[peer alice]\npublic_key = " CLIENT_PUB "\n", -EINVAL, 5, "[peer alice] allowed_ips", "missing" },
	{ SERVER, S_OK "[peer alice]\nallowed_ips = 10.64.0.2/32\n", -EINVAL, 5, "[peer alice] public_key", "missing" },
	{ SERVER, S_OK S_ALICE "allowed_ip = 10.64.0.4/32\n", -EINVAL, 8, "[peer alice] allowed_ip", "unknown key" },
	{ SERVER, S_OK "[fleet]\nprefix = /u/\n", -EINVAL, 5, "[fleet] etcd", "missing" },
	{ SERVER, S_OK "[fleet]\netcd = 10.0.0.5:2379\nprefix = /u/\n", -EINVAL, 6, "[fleet] etcd", "entry 1: an etcd endpoint is a URL" },
	{ SERVER, S_OK "[fleet]\netcd = http://10.0.0.5:2379, ftp://x\nprefix = /u/\n", -EINVAL, 6, "[fleet] etcd", "entry 2" },
	/* A scheme and slashes, no host (found by fuzz_server). */
	{ SERVER, S_OK "[fleet]\netcd = http://\nprefix = /u/\n", -EINVAL, 6, "[fleet] etcd", "entry 1: an etcd endpoint is a URL" },
	{ SERVER, S_OK "[fleet]\netcd = http://a:1, https:///\nprefix = /u/\n", -EINVAL, 6, "[fleet] etcd", "entry 2" },
	{ SERVER, S_OK "[fleet]\netcd = https:////x\nprefix = /u/\n", -EINVAL, 6, "[fleet] etcd", "entry 1" },
	{ SERVER, S_OK "[fleet]\netcd = http://a:1\n", -EINVAL, 5, "[fleet] prefix", "missing" },
	{ SERVER, S_OK "[fleet]\netcd = http://a:1\nprefix = \"/u/ x\"\n", -EINVAL, 7, "[fleet] prefix", "without blanks" },
	{ SERVER, S_OK "[fleet]\netcd = http://a:1\nprefix = /u/\ncert = c.pem\n", -EINVAL, 5, "[fleet] key", "go together" },
	{ SERVER, S_OK "[fleet]\netcd = http://a:1\nprefix = /u/\nendpoints = x\n", -EINVAL, 8, "[fleet] endpoints", "unknown key" },
	{ SERVER, S_OK S_ALICE "[peer bob]\npublic_key = " CLIENT_PUB "\nallowed_ips = 10.64.0.3/32\n", -EINVAL, 9, "[peer bob] public_key", "the same key as [peer alice] (line 6)" },
	{ SERVER, S_OK S_ALICE "[peer bob]\npublic_key = " BOB_PUB "\nallowed_ips = 10.64.0.3/32, 10.64.0.2/32\n", -EINVAL, 10, "[peer bob] allowed_ips", "10.64.0.2/32 is already allowed for [peer alice] (line 7)" },
	{ SERVER, S_OK "[peer alice]\npublic_key = " CLIENT_PUB "\nallowed_ips = 10.64.0.2/32, 10.64.0.2/32\n", -EINVAL, 7, "[peer alice] allowed_ips", "listed twice" },
	{ SERVER, S_OK "[peer self]\npublic_key = " SERVER_PUB "\nallowed_ips = 10.64.0.2/32\n", -EINVAL, 6, "[peer self] public_key", "server's own public key" },
	{ SERVER, S_OK "[peer]\npublic_key = " CLIENT_PUB "\nallowed_ips = 10.64.0.2/32\n", -EINVAL, 5, "[peer]", "needs a name" },
	{ SERVER, S_OK "[peer alice smith]\npublic_key = " CLIENT_PUB "\nallowed_ips = 10.64.0.2/32\n", -EINVAL, 5, "[peer alice smith]", "without spaces" },
	{ SERVER, S_OK "[peers alice]\n", -EINVAL, 5, "[peers alice]", "unknown section" },
	{ SERVER, S_OK S_ALICE "[peer alice]\n", -EINVAL, 8, "[peer alice]", "repeated (first at line 5)" },
	{ SERVER, "[peer alice]\n", -EINVAL, 0, NULL, "no [interface] section" },
	{ SERVER, S_OK "forget_after = -1\n", -EINVAL, 5, "[interface] forget_after", "from 0 to 86400" },
	{ SERVER, S_OK "forget_after = 86401\n", -EINVAL, 5, "[interface] forget_after", "from 0 to 86400" },
	{ SERVER, S_OK "forget_after = 3m\n", -EINVAL, 5, "[interface] forget_after", "not a number of seconds" },
	{ SERVER, S_OK "forget_after =\n", -EINVAL, 5, "[interface] forget_after", "not a number of seconds" },
	{ SERVER, S_OK "log_sensitive = sometimes\n", -EINVAL, 5, "[interface] log_sensitive", "yes, no" },
};

static const char *const kind_file[] = {
	[CLIENT] = "client.conf", [SERVERS] = "servers.conf",
	[SERVER] = "server.conf",
};

/* Writes @text as the file of @kind with @mode and loads it. */
static int load_kind(struct fixture *fx, enum kind kind, const char *text,
		     size_t len, mode_t mode)
{
	struct conf_client *c = NULL;
	struct conf_servers *l = NULL;
	struct conf_server *srv = NULL;
	char path[256];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", fx->dir, kind_file[kind]);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	switch (kind) {
	case CLIENT:
		r = conf_client_load(path, &c, fx->err, sizeof(fx->err));
		assert_true(r ? !c : !!c);
		conf_client_free(c);
		break;
	case SERVERS:
		r = conf_servers_load(path, &l, fx->err, sizeof(fx->err));
		assert_true(r ? !l : !!l);
		conf_servers_free(l);
		break;
	case SERVER:
		r = conf_server_load(path, &srv, fx->err, sizeof(fx->err));
		assert_true(r ? !srv : !!srv);
		conf_server_free(srv);
		break;
	}
	return r;
}

/* A string literal's length, for the one case with a NUL inside it. */
static size_t case_len(const struct bad_case *bc)
{
	size_t len = strlen(bc->text);

	if (strstr(bc->problem, "0x00"))
		len += 1 + strlen(bc->text + len + 1);
	return len;
}

static void test_malformed(void **state)
{
	struct fixture *fx = *state;
	char want[64];

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(*bad_cases); i++) {
		const struct bad_case *bc = &bad_cases[i];
		int r = load_kind(fx, bc->kind, bc->text, case_len(bc), 0600);

		if (r != bc->error)
			fail_msg("case %zu: returned %d, not %d (%s)", i, r,
				 bc->error, fx->err);
		/* The message starts with the file's path. */
		if (strncmp(fx->err, fx->dir, strlen(fx->dir)))
			fail_msg("case %zu: \"%s\" does not start with the path",
				 i, fx->err);
		assert_contains(fx->err, kind_file[bc->kind]);
		if (bc->line)
			snprintf(want, sizeof(want), "%s:%u: ",
				 kind_file[bc->kind], bc->line);
		else
			snprintf(want, sizeof(want), "%s: ",
				 kind_file[bc->kind]);
		assert_contains(fx->err, want);
		if (bc->where) {
			snprintf(want, sizeof(want), " %s: ", bc->where);
			assert_contains(fx->err, want);
		}
		assert_contains(fx->err, bc->problem);
	}
}

/* No message ever quotes a key: neither a secret nor a public key. */
static void test_messages_quote_no_key(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = C_IF "private_key = " CLIENT_PRIV "x\n";

	assert_int_equal(load_kind(fx, CLIENT, text, strlen(text), 0600),
			 -EINVAL);
	assert_contains(fx->err, "private_key");
	assert_null(strstr(fx->err, "mPNqy8l90"));
	assert_int_equal(load_kind(fx, SERVERS,
				   L_SEC "endpoint = vpn.example.com:1\n",
				   strlen(L_SEC "endpoint = vpn.example.com:1\n"),
				   0600), -EINVAL);
	assert_null(strstr(fx->err, "vpn.example.com"));
}

/* ------------------------------------------------------------------ */
/* Accepted spellings and defaults.                                    */

static void test_client_defaults(void **state)
{
	struct fixture *fx = *state;
	const char *path = put(fx, "client.conf", C_OK, 0600);
	struct conf_client *c;

	assert_int_equal(conf_client_load(path, &c, fx->err, sizeof(fx->err)),
			 0);
	assert_int_equal(c->mtu, 0);
	assert_int_equal(c->kill_switch, CONF_KILL_SWITCH_ON);
	assert_false(c->allow_lan);
	assert_false(c->has_split);
	assert_string_equal(c->servers_path, CONF_SERVERS_PATH);
	assert_null(c->server);
	assert_int_equal(c->n_address, 1);
	conf_client_free(c);
}

static void test_client_spellings(void **state)
{
	struct fixture *fx = *state;
	static const char text[] =
		"; a comment\n"
		"  [ Interface ]  \n"
		"Private_Key=" CLIENT_PRIV "\n"
		"\taddress = 10.64.0.2 ,fc00:bbbb::2\t\n"
		"dns = 10.64.0.1, 2001:db8::53 ; a comment\n"
		"mtu = 0\n"
		"kill_switch = LockDown\n"
		"allow_lan = \"Yes\"\n"
		"servers = list/servers.conf\n"
		"server = SE-STO-01 # a comment\n"
		"[split]\n"
		"Exclude = 198.51.100.0/24 ,2001:DB8:5::/48 ; a comment\n";
	const char *path = put(fx, "client.conf", text, 0400);
	struct conf_client *c;
	char want[256];

	assert_int_equal(conf_client_load(path, &c, fx->err, sizeof(fx->err)),
			 0);
	assert_key(c->private_key, CLIENT_PRIV);
	assert_int_equal(c->n_address, 2);
	assert_prefix(&c->address[0], "10.64.0.2/32");
	assert_prefix(&c->address[1], "fc00:bbbb::2/128");
	assert_int_equal(c->n_dns, 2);
	assert_prefix(&c->dns[1], "2001:db8::53/128");
	assert_int_equal(c->mtu, 0);
	assert_int_equal(c->kill_switch, CONF_KILL_SWITCH_LOCKDOWN);
	assert_true(c->allow_lan);
	assert_true(c->has_split);
	assert_int_equal(c->split_mode, CONF_SPLIT_EXCLUDE);
	assert_int_equal(c->n_split, 2);
	assert_prefix(&c->split_net[0], "198.51.100.0/24");
	assert_prefix(&c->split_net[1], "2001:db8:5::/48");
	assert_int_equal(c->split_line, 12);
	/* Relative to the profile's own directory. */
	snprintf(want, sizeof(want), "%s/list/servers.conf", fx->dir);
	assert_string_equal(c->servers_path, want);
	assert_string_equal(c->server, "se-sto-01");
	assert_int_equal(c->server_line, 10);
	assert_string_equal(conf_kill_switch_name(c->kill_switch), "lockdown");
	conf_client_free(c);
}

static void test_booleans(void **state)
{
	struct fixture *fx = *state;
	static const char *const yes[] = { "yes", "TRUE", "on", "1" };
	static const char *const no[] = { "No", "false", "OFF", "0" };
	char text[512];
	struct conf_client *c;

	for (size_t i = 0; i < 8; i++) {
		const char *v = i < 4 ? yes[i] : no[i - 4];

		snprintf(text, sizeof(text), C_OK "allow_lan = %s\n", v);
		fx->n_path = 0;
		assert_int_equal(conf_client_load(put(fx, "client.conf", text,
						      0600),
						  &c, fx->err, sizeof(fx->err)),
				 0);
		assert_int_equal(c->allow_lan, i < 4);
		conf_client_free(c);
	}
}

/* Loads @text as a server config, which must be valid. */
static struct conf_server *server_text(struct fixture *fx, const char *text)
{
	struct conf_server *srv;

	fx->n_path = 0;
	if (conf_server_load(put(fx, "server.conf", text, 0600), &srv, fx->err,
			     sizeof(fx->err)))
		fail_msg("%s", fx->err);
	return srv;
}

/* forget_after: 180 unless given, 0 and a day allowed; logs redacted. */
static void test_server_privacy_keys(void **state)
{
	static const struct {
		const char *lines;
		unsigned int forget_after;
		bool log_sensitive;
	} cases[] = {
		{ "", 180, false },
		{ "forget_after = 0\nlog_sensitive = Yes\n", 0, true },
		{ "forget_after = 86400\nlog_sensitive = off\n", 86400, false },
	};
	struct fixture *fx = *state;
	char text[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct conf_server *srv;

		snprintf(text, sizeof(text), S_OK "%s", cases[i].lines);
		srv = server_text(fx, text);
		assert_int_equal(srv->forget_after, cases[i].forget_after);
		assert_int_equal(srv->log_sensitive, cases[i].log_sensitive);
		conf_server_free(srv);
	}
}

/*
 * Read through /dev/stdin (vpnd -c -): the config loads, but a relative
 * private_key_file has no directory to be found in and is refused.
 */
static void test_stdin_path(void **state)
{
	struct fixture *fx = *state;
	struct conf_server *srv;
	int saved = dup(STDIN_FILENO), fd;

	assert_true(saved >= 0);
	fd = open(put(fx, "server.conf", S_OK, 0600), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	assert_int_equal(conf_server_load(CONF_STDIN_PATH, &srv, fx->err,
					  sizeof(fx->err)),
			 0);
	assert_int_equal(srv->listen_port, 51820);
	conf_server_free(srv);

	fd = open(put(fx, "server2.conf",
		      S_IF "private_key_file = server.key\n" S_PORT S_ADDR,
		      0600),
		  O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	assert_int_equal(conf_server_load(CONF_STDIN_PATH, &srv, fx->err,
					  sizeof(fx->err)),
			 -EINVAL);
	assert_contains(fx->err, "/dev/stdin:2: [interface] private_key_file: ");
	assert_contains(fx->err, "give an absolute path");
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
}

static void test_servers_quotes_and_comments(void **state)
{
	struct fixture *fx = *state;
	static const char text[] =
		"[SE-Sto-01]\n"
		"endpoint = [2001:DB8::1]:51820 ; IPv6 needs brackets\n"
		"public_key = '" SERVER_PUB "'\n"
		"country = SE # Sweden\n"
		"city = \"Saint-Denis ; centre\" ; the quotes keep the ';'\n";
	const char *path = put(fx, "servers.conf", text, 0644);
	struct conf_servers *l;

	/* No preshared key: the list may be world-readable. */
	assert_int_equal(conf_servers_load(path, &l, fx->err, sizeof(fx->err)),
			 0);
	assert_string_equal(l->entry[0].id, "se-sto-01");
	assert_int_equal(l->entry[0].endpoint.sa.sa_family, AF_INET6);
	assert_key(l->entry[0].public_key, SERVER_PUB);
	assert_string_equal(l->entry[0].country, "se");
	assert_string_equal(l->entry[0].city, "Saint-Denis ; centre");
	assert_null(l->secrets);
	conf_servers_free(l);
}

/* ------------------------------------------------------------------ */
/* Choosing a server.                                                  */

static void test_resolve(void **state)
{
	struct fixture *fx = *state;
	const char *lp = put_example(fx, "servers.conf", 0600);
	const char *cp = put(fx, "client.conf",
			     C_OK "server = xx-yyy-99\n", 0600);
	const char *np = put(fx, "none.conf", C_OK, 0600);
	const struct conf_server_entry *e;
	struct conf_servers *l;
	struct conf_client *c, *none;

	assert_int_equal(conf_servers_load(lp, &l, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(conf_client_load(cp, &c, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(conf_client_load(np, &none, fx->err, sizeof(fx->err)),
			 0);

	/* The profile names a server the list does not have. */
	assert_int_equal(conf_servers_resolve(l, c, NULL, &e, fx->err,
					      sizeof(fx->err)), -ENOENT);
	assert_null(e);
	assert_contains(fx->err, "client.conf:5: [interface] server: ");
	assert_contains(fx->err, "unknown server \"xx-yyy-99\"");
	assert_contains(fx->err, "servers.conf has no section [xx-yyy-99]");

	/* A name on the command line overrides it, in any case. */
	assert_int_equal(conf_servers_resolve(l, c, "CH-ZRH-01", &e, fx->err,
					      sizeof(fx->err)), 0);
	assert_string_equal(e->id, "ch-zrh-01");
	assert_int_equal(conf_servers_resolve(l, c, "de-fra-01", &e, fx->err,
					      sizeof(fx->err)), -ENOENT);
	assert_null(strstr(fx->err, "client.conf"));
	assert_contains(fx->err, "unknown server \"de-fra-01\"");
	assert_contains(fx->err, "servers.conf");

	/* Neither. */
	assert_int_equal(conf_servers_resolve(l, none, NULL, &e, fx->err,
					      sizeof(fx->err)), -ENOENT);
	assert_contains(fx->err, "none.conf: [interface] server: not set");
	assert_int_equal(conf_servers_resolve(l, none, "us-nyc-01", &e, NULL,
					      0), 0);
	assert_string_equal(e->id, "us-nyc-01");

	conf_client_free(none);
	conf_client_free(c);
	conf_servers_free(l);
}

/* ------------------------------------------------------------------ */
/* Who may read the files.                                             */

static void test_mode_client(void **state)
{
	struct fixture *fx = *state;
	static const mode_t refused[] = { 0644, 0640, 0604, 0660, 0610, 0666 };
	struct conf_client *c;
	const char *path;
	char want[64];

	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		fx->n_path = 0;
		path = put(fx, "client.conf", C_OK, refused[i]);
		assert_int_equal(conf_client_load(path, &c, fx->err,
						  sizeof(fx->err)), -EACCES);
		assert_null(c);
		snprintf(want, sizeof(want), "mode %04o", refused[i]);
		assert_contains(fx->err, path);
		assert_contains(fx->err, "client.conf:2: [interface] private_key: ");
		assert_contains(fx->err, want);
		assert_contains(fx->err, "chmod 600");
	}
	for (mode_t m = 0400; m <= 0600; m += 0200) {
		fx->n_path = 0;
		path = put(fx, "client.conf", C_OK, m);
		assert_int_equal(conf_client_load(path, &c, fx->err,
						  sizeof(fx->err)), 0);
		conf_client_free(c);
	}
}

static void test_mode_servers(void **state)
{
	struct fixture *fx = *state;
	static const char plain[] = L_SEC L_EP L_PUB L_CC;
	static const char secret[] = L_SEC L_EP L_PUB "preshared_key = " PSK "\n" L_CC;
	/* Without a preshared key, readable by all is fine... */
	assert_int_equal(load_kind(fx, SERVERS, plain, strlen(plain), 0644), 0);
	/* ...writable by others is not: they would choose the endpoint. */
	assert_int_equal(load_kind(fx, SERVERS, plain, strlen(plain), 0664),
			 -EACCES);
	assert_contains(fx->err, "servers.conf: mode 0664");
	assert_contains(fx->err, "write");
	assert_int_equal(load_kind(fx, SERVERS, plain, strlen(plain), 0646),
			 -EACCES);
	/* With one, the list is a secret like a profile. */
	assert_int_equal(load_kind(fx, SERVERS, secret, strlen(secret), 0644),
			 -EACCES);
	assert_contains(fx->err, "servers.conf:4: [se-sto-01] preshared_key: mode 0644");
	assert_int_equal(load_kind(fx, SERVERS, secret, strlen(secret), 0600), 0);
}

static void test_owner(void **state)
{
	struct fixture *fx = *state;
	struct conf_client *c;
	const char *path = put(fx, "client.conf", C_OK, 0600);

	if (geteuid() != 0)
		skip();		/* only root can give a file away */
	assert_int_equal(chown(path, 4242, 4242), 0);
	assert_int_equal(conf_client_load(path, &c, fx->err, sizeof(fx->err)),
			 -EACCES);
	assert_contains(fx->err, path);
	assert_contains(fx->err, "owned by uid 4242");
}

static void test_not_a_file(void **state)
{
	struct fixture *fx = *state;
	struct conf_client *c;
	char path[256];

	snprintf(path, sizeof(path), "%s/missing.conf", fx->dir);
	assert_int_equal(conf_client_load(path, &c, fx->err, sizeof(fx->err)),
			 -ENOENT);
	assert_contains(fx->err, "missing.conf: cannot open");

	assert_int_equal(conf_client_load(fx->dir, &c, fx->err,
					  sizeof(fx->err)), -EINVAL);
	assert_contains(fx->err, "not a regular file");

	/* O_NONBLOCK: a FIFO is refused, not waited on. */
	snprintf(path, sizeof(path), "%s/fifo.conf", fx->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(conf_client_load(path, &c, fx->err, sizeof(fx->err)),
			 -EINVAL);
	assert_contains(fx->err, "fifo.conf: not a regular file");
}

static void test_line_too_long(void **state)
{
	struct fixture *fx = *state;
	char *text = malloc(4096);
	struct conf_client *c;
	const char *path;

	assert_non_null(text);
	snprintf(text, 4096, C_OK "server = %01000d\n", 0);
	path = put(fx, "client.conf", text, 0600);
	assert_int_equal(conf_client_load(path, &c, fx->err, sizeof(fx->err)),
			 -EINVAL);
	assert_contains(fx->err, "client.conf:5: ");
	assert_contains(fx->err, "longer than 1000");
	free(text);
}

static void test_too_big(void **state)
{
	struct fixture *fx = *state;
	struct conf_servers *l;
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/servers.conf", fx->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, CONF_FILE_MAX + 1), 0);
	close(fd);
	assert_int_equal(conf_servers_load(path, &l, fx->err, sizeof(fx->err)),
			 -EFBIG);
	assert_contains(fx->err, "over the limit");
}

/* ------------------------------------------------------------------ */
/* private_key_file.                                                   */

static const char key_file_conf[] =
	S_IF "private_key_file = keys/server.key\n" S_PORT S_ADDR S_ALICE;

static void test_key_file(void **state)
{
	struct fixture *fx = *state;
	struct conf_server *srv;
	const char *path;
	char dir[128], want[256];

	snprintf(dir, sizeof(dir), "%s/keys", fx->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	/* The server config holds no secret itself: 0644 is fine. */
	path = put(fx, "server.conf", key_file_conf, 0644);
	put(fx, "keys/server.key", SERVER_PRIV "\n", 0600);

	wiped_reset();
	assert_int_equal(conf_server_load(path, &srv, fx->err, sizeof(fx->err)),
			 0);
	assert_key(srv->private_key, SERVER_PRIV);
	assert_key(srv->public_key, SERVER_PUB);
	snprintf(want, sizeof(want), "%s/keys/server.key", fx->dir);
	assert_string_equal(srv->private_key_file, want);
	/* The read buffer was wiped. */
	assert_true(wiped_with_len(128) >= 1);
	conf_server_free(srv);
	/* The teardown removes plain files only. */
	assert_int_equal(unlink(want), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_key_file_refused(void **state)
{
	struct fixture *fx = *state;
	const char *path = put(fx, "server.conf", S_IF
			       "private_key_file = server.key\n" S_PORT S_ADDR,
			       0600);
	struct conf_server *srv;
	char kp[256];

	snprintf(kp, sizeof(kp), "%s/server.key", fx->dir);

	assert_int_equal(conf_server_load(path, &srv, fx->err, sizeof(fx->err)),
			 -ENOENT);
	assert_contains(fx->err, "server.conf:2: [interface] private_key_file: ");
	assert_contains(fx->err, kp);
	assert_contains(fx->err, "cannot open");

	put(fx, "server.key", SERVER_PRIV "\n", 0644);
	assert_int_equal(conf_server_load(path, &srv, fx->err, sizeof(fx->err)),
			 -EACCES);
	assert_contains(fx->err, "server.conf:2: [interface] private_key_file: ");
	assert_contains(fx->err, kp);
	assert_contains(fx->err, "mode 0644");

	put(fx, "server.key", "not a key\n", 0600);
	assert_int_equal(conf_server_load(path, &srv, fx->err, sizeof(fx->err)),
			 -EINVAL);
	assert_contains(fx->err, "does not hold a key");
	assert_null(strstr(fx->err, "not a key\n"));

	put(fx, "server.key", SERVER_PRIV SERVER_PRIV SERVER_PRIV "\n", 0600);
	assert_int_equal(conf_server_load(path, &srv, fx->err, sizeof(fx->err)),
			 -EINVAL);
	assert_contains(fx->err, "longer than a key");
}

/* ------------------------------------------------------------------ */
/* [fleet].                                                            */

static void test_fleet_section(void **state)
{
	struct fixture *fx = *state;
	const char *path = put(fx, "server.conf", S_OK
			       "[fleet]\n"
			       "etcd = http://10.0.0.5:2379/, https://10.0.0.6:2379\n"
			       "prefix = /vpnd/users/\n"
			       "ca = ca.pem\n" S_ALICE, 0600);
	struct conf_server *srv;
	char want[256];

	assert_int_equal(conf_server_load(path, &srv, fx->err, sizeof(fx->err)),
			 0);
	assert_non_null(srv->fleet);
	assert_int_equal(srv->fleet->n_etcd, 2);
	/* "/v3/..." is appended: the trailing slash is dropped. */
	assert_string_equal(srv->fleet->etcd[0], "http://10.0.0.5:2379");
	assert_string_equal(srv->fleet->etcd[1], "https://10.0.0.6:2379");
	assert_string_equal(srv->fleet->prefix, "/vpnd/users/");
	snprintf(want, sizeof(want), "%s/ca.pem", fx->dir);
	assert_string_equal(srv->fleet->ca, want);
	assert_null(srv->fleet->cert);
	assert_null(srv->fleet->key);
	/* The [peer] sections beside it. */
	assert_int_equal(srv->n_peer, 1);
	assert_string_equal(srv->peer[0].name, "alice");
	conf_server_free(srv);

	path = put(fx, "server.conf", S_OK S_ALICE, 0600);
	assert_int_equal(conf_server_load(path, &srv, fx->err, sizeof(fx->err)),
			 0);
	assert_null(srv->fleet);
	conf_server_free(srv);
}

/* ------------------------------------------------------------------ */
/* Secrets are wiped.                                                  */

static void test_wiped_client(void **state)
{
	struct fixture *fx = *state;
	const char *path = put_example(fx, "client.conf", 0600);
	struct conf_client *c;
	const uint8_t *key;
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	wiped_reset();
	assert_int_equal(conf_client_load(path, &c, fx->err, sizeof(fx->err)),
			 0);
	/* During the load: the dictionary's copy of the key and the text. */
	assert_true(wiped_with_len(strlen(CLIENT_PRIV)) >= 1);
	assert_true(wiped_with_len((size_t)st.st_size + 1) == 1);
	assert_false(wiped.overflow);

	key = c->private_key;
	assert_key(key, CLIENT_PRIV);
	assert_false(wiped_covers(key, KEY_LEN));
	conf_client_free(c);
	/* On free: the block that held the key was zero when released. */
	assert_true(wiped_covers(key, KEY_LEN));
}

static void test_wiped_on_error(void **state)
{
	struct fixture *fx = *state;
	static const char text[] =
		S_OK "[peer alice]\npublic_key = " CLIENT_PUB "\n"
		"preshared_key = " PSK "\nallowed_ips = 10.64.0.2/16\n";
	const char *path = put(fx, "server.conf", text, 0600);
	struct conf_server *srv;
	unsigned int n44;

	wiped_reset();
	assert_int_equal(conf_server_load(path, &srv, fx->err, sizeof(fx->err)),
			 -EINVAL);
	/*
	 * Every value of the dictionary was wiped, the private key and the
	 * preshared key among them, and the secrets block (header and two
	 * keys) was released zeroed although the load failed.
	 */
	n44 = wiped_with_len(strlen(SERVER_PRIV));
	assert_true(n44 >= 3);	/* private_key, public_key, preshared_key */
	assert_true(wiped_with_len(secrets_size(2)) == 1);
	assert_true(wiped_with_len(sizeof(text)) == 1);	/* the text, + 1 */
}

/* A misspelt key holding a secret is refused, and wiped all the same. */
static void test_wiped_unknown_key(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = C_OK "privat_key = " CLIENT_PRIV "\n";
	const char *path = put(fx, "client.conf", text, 0600);
	struct conf_client *c;

	wiped_reset();
	assert_int_equal(conf_client_load(path, &c, fx->err, sizeof(fx->err)),
			 -EINVAL);
	assert_contains(fx->err, "privat_key: unknown key");
	assert_true(wiped_with_len(strlen(CLIENT_PRIV)) == 2);
}

/* ------------------------------------------------------------------ */
/* The caller's message buffer.                                        */

static void test_error_buffer(void **state)
{
	struct fixture *fx = *state;
	const char *path = put(fx, "client.conf", C_OK "mtu = 1\n", 0600);
	struct conf_client *c;
	struct conf_server *srv;
	char small[8];

	assert_int_equal(conf_client_load(path, &c, NULL, 0), -EINVAL);
	assert_null(c);
	memset(small, 'x', sizeof(small));
	assert_int_equal(conf_client_load(path, &c, small, sizeof(small)),
			 -EINVAL);
	assert_true(strlen(small) < sizeof(small));
	assert_int_equal(strncmp(small, fx->dir, strlen(small)), 0);
	assert_int_equal(conf_server_load(NULL, &srv, fx->err, sizeof(fx->err)),
			 -EINVAL);
	assert_null(srv);
	assert_contains(fx->err, "vpnd -c FILE");
}

/*
 * The dictionary is searched in full when its order is not the file's, and
 * one that does not hold exactly the scanned entries is refused.
 */
static void test_bind(void **state)
{
	struct fixture *fx = *state;
	struct conf_file f;
	dictionary *d;

	memset(&f, 0, sizeof(f));
	f.fd = -1;
	f.path = put(fx, "a.conf", "[one]\nx = 1\ny = 2\n[two]\nz = 3\n", 0600);
	f.err = fx->err;
	f.errlen = sizeof(fx->err);
	assert_int_equal(file_read(&f), 0);
	assert_int_equal(scan_text(&f), 0);

	d = dictionary_new(0);
	assert_non_null(d);
	f.dict = d;
	assert_int_equal(dictionary_set(d, "two", NULL), 0);
	assert_int_equal(dictionary_set(d, "two:z", "3"), 0);
	assert_int_equal(dictionary_set(d, "one", NULL), 0);
	assert_int_equal(dictionary_set(d, "one:y", "2"), 0);
	assert_int_equal(dictionary_set(d, "one:x", "1"), 0);
	assert_int_equal(file_bind(&f), 0);
	assert_string_equal(sec_get(&f.sec[0], "x")->value, "1");
	assert_string_equal(sec_get(&f.sec[0], "y")->value, "2");
	assert_string_equal(sec_get(&f.sec[1], "z")->value, "3");

	/* One entry more than the scan saw. */
	assert_int_equal(dictionary_set(d, "two:w", "4"), 0);
	assert_int_equal(file_bind(&f), -EIO);
	assert_contains(fx->err, "a.conf: the file changed while it was read");

	/* As many entries, but not the same. */
	dictionary_unset(d, "two:w");
	dictionary_unset(d, "one:x");
	assert_int_equal(dictionary_set(d, "one:q", "1"), 0);
	assert_int_equal(file_bind(&f), -EIO);

	/* A key where the scan saw a section. */
	dictionary_unset(d, "one:q");
	dictionary_unset(d, "two");
	assert_int_equal(dictionary_set(d, "one:x", "1"), 0);
	assert_int_equal(dictionary_set(d, "two", "oops"), 0);
	assert_int_equal(file_bind(&f), -EIO);

	wiped_reset();
	file_close(&f);
	assert_int_equal(wiped_with_len(1), 3);	/* "1", "2", "3" */
	assert_int_equal(wiped_with_len(4), 1);	/* "oops" */
}

/* The unit helpers on their own. */
static void test_prefix_helpers(void **state)
{
	struct conf_prefix p;
	char buf[64];

	(void)state;
	assert_null(prefix_parse(&p, "10.1.2.3/12", 11));
	assert_true(prefix_host_bits(&p));
	prefix_clear_host_bits(&p);
	assert_string_equal(prefix_text(&p, buf, sizeof(buf)), "10.0.0.0/12");
	assert_false(prefix_host_bits(&p));
	assert_null(prefix_parse(&p, "::/0", 4));
	assert_false(prefix_host_bits(&p));
	assert_null(prefix_parse(&p, "2001:db8::1/128", 15));
	assert_false(prefix_host_bits(&p));
	assert_null(prefix_parse(&p, "0.0.0.0/0", 9));
	assert_true(ip_unspecified(&p));
	assert_non_null(prefix_parse(&p, "10.0.0.1/+8", 11));
	assert_non_null(prefix_parse(&p, "10.0.0.1/ 8", 11));
	assert_non_null(prefix_parse(&p, "010.0.0.1/8", 11));
	assert_non_null(prefix_parse(&p, "10.0.0.1/8/8", 12));
}

/* ------------------------------------------------------------------ */
/* Signed server lists, [list] expires, and the profile's choices.     */

static const char signed_list[] =
	"[list]\n"
	"expires = 2999-12-31T23:59:59Z\n"
	"[se-sto-01]\n"
	"endpoint = 192.0.2.10:51820\n"
	"public_key = " SERVER_PUB "\n"
	"country = se\n"
	"city = Stockholm\n";

/* Writes DIR/NAME.sig: the base64 of @sk's signature over @text. */
static void put_sig(struct fixture *fx, const char *name, const char *text,
		    const uint8_t *sk)
{
	uint8_t sig[crypto_sign_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES,
					   sodium_base64_VARIANT_ORIGINAL) + 1];
	char sig_name[64];

	crypto_sign_detached(sig, NULL, (const unsigned char *)text,
			     strlen(text), sk);
	sodium_bin2base64(b64, sizeof(b64) - 1, sig, sizeof(sig),
			  sodium_base64_VARIANT_ORIGINAL);
	strcat(b64, "\n");
	snprintf(sig_name, sizeof(sig_name), "%s%s", name, CONF_SIG_SUFFIX);
	put(fx, sig_name, b64, 0644);
}

static int load_signed(struct fixture *fx, const char *path,
		       const uint8_t *pk)
{
	struct conf_servers *l = NULL;
	int r = conf_servers_load_verified(path, pk, time(NULL), &l, fx->err,
					   sizeof(fx->err));

	if (!r) {
		assert_non_null(l);
		assert_true(l->verified == (pk != NULL));
		assert_int_equal(l->n_entry, 1);
		assert_string_equal(l->entry[0].id, "se-sto-01");
	} else {
		assert_null(l);
	}
	conf_servers_free(l);
	return r;
}

static void test_signed_list(void **state)
{
	struct fixture *fx = *state;
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t pk2[crypto_sign_PUBLICKEYBYTES], sk2[crypto_sign_SECRETKEYBYTES];
	const char *path;
	char *changed;

	assert_true(sodium_init() >= 0);
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);

	/* Signed by the key given: loads, and says so. */
	path = put(fx, "servers.conf", signed_list, 0644);
	put_sig(fx, "servers.conf", signed_list, sk);
	assert_int_equal(load_signed(fx, path, pk), 0);
	/* No key asked for: the .sig is not looked at. */
	assert_int_equal(load_signed(fx, path, NULL), 0);

	/* A wrong key. */
	assert_int_equal(load_signed(fx, path, pk2), -EPERM);
	assert_contains(fx->err, "servers.conf: refused: the signature in");
	assert_contains(fx->err, "does not match");

	/* One byte of the list changed after signing. */
	changed = strdup(signed_list);
	assert_non_null(changed);
	changed[strlen(changed) - 3] ^= 0x20;	/* "holm" -> "hoLm" */
	path = put(fx, "servers.conf", changed, 0644);
	assert_int_equal(load_signed(fx, path, pk), -EPERM);
	assert_contains(fx->err, "does not match");
	free(changed);

	/* A change that also breaks the syntax: refused for the signature,
	 * checked before a byte is parsed. */
	changed = malloc(strlen(signed_list) + 3);
	assert_non_null(changed);
	strcpy(changed, signed_list);
	strcat(changed, "x\n");
	path = put(fx, "servers.conf", changed, 0644);
	assert_int_equal(load_signed(fx, path, pk), -EPERM);
	assert_contains(fx->err, "does not match");
	free(changed);

	/* A signature that is not one. */
	path = put(fx, "servers.conf", signed_list, 0644);
	put(fx, "servers.conf.sig", "bm90IGEgc2lnbmF0dXJl\n", 0644);
	assert_int_equal(load_signed(fx, path, pk), -EPERM);
	assert_contains(fx->err, "is not a signature");
	put(fx, "servers.conf.sig", "!!!\n", 0644);
	assert_int_equal(load_signed(fx, path, pk), -EPERM);

	/* No signature at all. */
	assert_int_equal(unlink(fx->path[fx->n_path - 1]), 0);
	assert_int_equal(load_signed(fx, path, pk), -ENOENT);
	assert_contains(fx->err, "requires a signed list");
	assert_contains(fx->err, "servers.conf.sig cannot be opened");
}

/*
 * libsodium's decoder reads any byte above 0x7f as '/': a signature file
 * with such a byte in place of a '/' decoded to the same signature and was
 * accepted (found by fuzz_signed).  Only base64 is a signature.
 */
static void test_signature_text_strict(void **state)
{
	struct fixture *fx = *state;
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t sig[crypto_sign_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES,
					   sodium_base64_VARIANT_ORIGINAL) + 1];
	const char *path;
	char *slash = NULL;

	assert_true(sodium_init() >= 0);
	/* A key whose signature's text has a '/': 3 in 4 do. */
	for (int i = 0; i < 100 && !slash; i++) {
		crypto_sign_keypair(pk, sk);
		crypto_sign_detached(sig, NULL, (const unsigned char *)signed_list,
				     strlen(signed_list), sk);
		sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
				  sodium_base64_VARIANT_ORIGINAL);
		slash = strchr(b64, '/');
	}
	assert_non_null(slash);
	path = put(fx, "servers.conf", signed_list, 0644);
	put(fx, "servers.conf.sig", b64, 0644);
	assert_int_equal(load_signed(fx, path, pk), 0);
	*slash = (char)0xd6;
	put(fx, "servers.conf.sig", b64, 0644);
	assert_int_equal(load_signed(fx, path, pk), -EPERM);
	assert_contains(fx->err, "is not a signature");
}

static void test_list_expires(void **state)
{
	struct fixture *fx = *state;
	struct conf_servers *l = NULL;
	const char *path;
	char text[512];

	/* Expired: refused, signed or not, at the key's line. */
	snprintf(text, sizeof(text), "%s",
		 "[list]\nexpires = 2001-02-03T04:05:06Z\n"
		 "[se-sto-01]\nendpoint = 192.0.2.10:51820\n"
		 "public_key = " SERVER_PUB "\ncountry = se\n");
	path = put(fx, "servers.conf", text, 0644);
	assert_int_equal(conf_servers_load(path, &l, fx->err, sizeof(fx->err)),
			 -ESTALE);
	assert_null(l);
	assert_contains(fx->err, "servers.conf:2: [list] expires: the list expired at 2001-02-03T04:05:06Z");
	/* The time given is "now": just before it, the list is good. */
	assert_int_equal(conf_servers_load_verified(path, NULL, 981173105, &l,
						    fx->err, sizeof(fx->err)),
			 0);
	assert_int_equal(l->expires, 981173106);
	conf_servers_free(l);
	assert_int_equal(conf_servers_load_verified(path, NULL, 981173106, &l,
						    fx->err, sizeof(fx->err)),
			 -ESTALE);

	/* Malformed times, and keys [list] does not know. */
	static const char *const wrong[] = {
		"2026-02-30T00:00:00Z", "2026-1-01T00:00:00Z",
		"2026-01-01 00:00:00Z", "2026-01-01T00:00:00",
		"2026-01-01T24:00:00Z", "2026-01-01T00:00:00+01:00",
	};
	for (size_t i = 0; i < ARRAY_SIZE(wrong); i++) {
		snprintf(text, sizeof(text),
			 "[list]\nexpires = %s\n[se-sto-01]\n"
			 "endpoint = 192.0.2.10:51820\npublic_key = " SERVER_PUB
			 "\ncountry = se\n", wrong[i]);
		path = put(fx, "servers.conf", text, 0644);
		fx->n_path--;
		assert_int_equal(conf_servers_load(path, &l, fx->err,
						   sizeof(fx->err)), -EINVAL);
		assert_contains(fx->err, "[list] expires: ");
		assert_contains(fx->err, "YYYY-MM-DDTHH:MM:SSZ");
	}
	path = put(fx, "servers.conf",
		   "[list]\nversion = 3\n[se-sto-01]\nendpoint = 192.0.2.10:51820\n"
		   "public_key = " SERVER_PUB "\ncountry = se\n", 0644);
	assert_int_equal(conf_servers_load(path, &l, fx->err, sizeof(fx->err)),
			 -EINVAL);
	assert_contains(fx->err, "[list] version: unknown key (known here: expires)");
	/* [list] alone lists no server; [fastest] is reserved. */
	path = put(fx, "servers.conf", "[list]\n", 0644);
	assert_int_equal(conf_servers_load(path, &l, fx->err, sizeof(fx->err)),
			 -EINVAL);
	assert_contains(fx->err, "lists no servers");
	path = put(fx, "servers.conf",
		   "[fastest]\nendpoint = 192.0.2.10:51820\n"
		   "public_key = " SERVER_PUB "\ncountry = se\n", 0644);
	assert_int_equal(conf_servers_load(path, &l, fx->err, sizeof(fx->err)),
			 -EINVAL);
	assert_contains(fx->err, "servers.conf:1: [fastest]: \"fastest\" is reserved");
}

static void test_client_choice_keys(void **state)
{
	struct fixture *fx = *state;
	struct conf_client *c = NULL;
	static const struct {
		const char *value;
		enum conf_select kind;
		const char *server, *select_value;
	} good[] = {
		{ "fastest", CONF_SELECT_FASTEST, NULL, NULL },
		{ "FASTEST", CONF_SELECT_FASTEST, NULL, NULL },
		{ "country:SE", CONF_SELECT_COUNTRY, NULL, "se" },
		{ "city:Zürich", CONF_SELECT_CITY, NULL, "Zürich" },
		{ "\"city:New York\"", CONF_SELECT_CITY, NULL, "New York" },
		{ "SE-sto-01", CONF_SELECT_ID, "se-sto-01", NULL },
	};
	static const char *const bad_values[] = {
		"country:swe", "country:", "city:", "se sto", "country:s1",
	};
	char text[1024];
	const char *path;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		snprintf(text, sizeof(text),
			 "[interface]\nprivate_key = " CLIENT_PRIV "\n"
			 "address = 10.64.0.2/32\ndns = 10.64.0.1\n"
			 "server = %s\n", good[i].value);
		path = put(fx, "client.conf", text, 0600);
		fx->n_path--;
		assert_int_equal(conf_client_load(path, &c, fx->err,
						  sizeof(fx->err)), 0);
		assert_int_equal(c->select, good[i].kind);
		if (good[i].server)
			assert_string_equal(c->server, good[i].server);
		else
			assert_null(c->server);
		if (good[i].select_value)
			assert_string_equal(c->select_value,
					    good[i].select_value);
		else
			assert_null(c->select_value);
		assert_int_equal(c->server_line, 5);
		assert_int_equal(c->failover_after, CONF_FAILOVER_DEFAULT);
		assert_int_equal(c->probe_timeout_ms,
				 CONF_PROBE_TIMEOUT_DEFAULT);
		assert_false(c->has_servers_key);
		conf_client_free(c);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_values); i++) {
		snprintf(text, sizeof(text),
			 "[interface]\nprivate_key = " CLIENT_PRIV "\n"
			 "address = 10.64.0.2/32\ndns = 10.64.0.1\n"
			 "server = %s\n", bad_values[i]);
		path = put(fx, "client.conf", text, 0600);
		fx->n_path--;
		assert_int_equal(conf_client_load(path, &c, fx->err,
						  sizeof(fx->err)), -EINVAL);
		assert_contains(fx->err, "client.conf:5: [interface] server: ");
	}

	/* The other new keys. */
	path = put(fx, "client.conf",
		   "[interface]\nprivate_key = " CLIENT_PRIV "\n"
		   "address = 10.64.0.2/32\ndns = 10.64.0.1\n"
		   "servers_key = " ZRH_PUB "\nfailover_after = 0\n"
		   "probe_timeout_ms = 500\n", 0600);
	assert_int_equal(conf_client_load(path, &c, fx->err, sizeof(fx->err)),
			 0);
	assert_true(c->has_servers_key);
	assert_key(c->servers_key, ZRH_PUB);
	assert_int_equal(c->failover_after, 0);
	assert_int_equal(c->probe_timeout_ms, 500);
	assert_int_equal(c->select, CONF_SELECT_NONE);
	conf_client_free(c);
	path = put(fx, "client.conf",
		   "[interface]\nprivate_key = " CLIENT_PRIV "\n"
		   "address = 10.64.0.2/32\ndns = 10.64.0.1\n"
		   "probe_timeout_ms = 50\n", 0600);
	assert_int_equal(conf_client_load(path, &c, fx->err, sizeof(fx->err)),
			 -EINVAL);
	assert_contains(fx->err, "client.conf:5: [interface] probe_timeout_ms: \"50\" is not a number of milliseconds from 100 to 30000");
	path = put(fx, "client.conf",
		   "[interface]\nprivate_key = " CLIENT_PRIV "\n"
		   "address = 10.64.0.2/32\ndns = 10.64.0.1\n"
		   "servers_key = nope\n", 0600);
	assert_int_equal(conf_client_load(path, &c, fx->err, sizeof(fx->err)),
			 -EINVAL);
	assert_contains(fx->err, "client.conf:5: [interface] servers_key: not a key");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_example_client),
		T(test_example_servers),
		T(test_example_server),
		T(test_examples_pair_up),
		T(test_malformed),
		T(test_messages_quote_no_key),
		T(test_client_defaults),
		T(test_client_spellings),
		T(test_booleans),
		T(test_server_privacy_keys),
		T(test_stdin_path),
		T(test_servers_quotes_and_comments),
		T(test_resolve),
		T(test_mode_client),
		T(test_mode_servers),
		T(test_owner),
		T(test_not_a_file),
		T(test_line_too_long),
		T(test_too_big),
		T(test_key_file),
		T(test_key_file_refused),
		T(test_fleet_section),
		T(test_wiped_client),
		T(test_wiped_on_error),
		T(test_wiped_unknown_key),
		T(test_error_buffer),
		T(test_bind),
		T(test_prefix_helpers),
		T(test_signed_list),
		T(test_signature_text_strict),
		T(test_list_expires),
		T(test_client_choice_keys),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
