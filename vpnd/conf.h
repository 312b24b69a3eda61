/* SPDX-License-Identifier: MIT */
/*
 * vpnd's three configuration files, read and validated into plain structs:
 * the client profile (client.conf), the server list (servers.conf) and the
 * server config (server.conf).  Their keys, defaults and errors are
 * documented in docs/config.md.
 *
 * This module is pure: it reads files and allocates memory, and changes
 * nothing else, so a bad file leaves the system as it was.  Each load either
 * returns a complete, validated struct or an error message naming the file,
 * the line, the section and key, and what is wrong.  Secret keys are held in
 * sodium_malloc()'d memory, wiped and released by the matching *_free().
 */
#ifndef VPND_CONF_H
#define VPND_CONF_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <vpn/key.h>

#define CONF_CLIENT_PATH "/etc/vpnd/client.conf"
#define CONF_SERVERS_PATH "/etc/vpnd/servers.conf"
/*
 * The path a config read from standard input is loaded through (vpnd -c -,
 * confsrc.c): it has no directory, so relative paths in it are refused.
 */
#define CONF_STDIN_PATH "/dev/stdin"

enum conf_limits {
	CONF_FILE_MAX = 1 << 20,	/* bytes; larger peer sets use the UAPI */
	CONF_LINE_MAX = 1000,		/* iniparser 4.1 reads at most 1022 */
	CONF_NAME_MAX = 63,		/* a section or key name, or a server id */
	CONF_SECTION_KEYS_MAX = 256,
	CONF_ADDRESS_MAX = 8,		/* entries in "address" */
	CONF_DNS_MAX = 8,		/* entries in "dns" */
	CONF_SPLIT_MAX = 32,		/* networks in [split] exclude/include */
	CONF_MTU_MIN = 1280,		/* IPv6's minimum link MTU */
	CONF_MTU_MAX = 9000,		/* jumbo frames */
	CONF_ERR_LEN = 512,		/* enough for any message of this module */
	CONF_SIG_LEN = 64,		/* an Ed25519 detached signature */
	CONF_SIG_FILE_MAX = 1024,	/* bytes of SERVERS.sig */
	CONF_FAILOVER_DEFAULT = 15,	/* seconds without a handshake */
	CONF_FAILOVER_MAX = 3600,
	CONF_PROBE_TIMEOUT_DEFAULT = 2000,	/* ms */
	CONF_PROBE_TIMEOUT_MIN = 100,
	CONF_PROBE_TIMEOUT_MAX = 30000,
	CONF_FORGET_AFTER_DEFAULT = 180,	/* seconds, see forget_after */
	CONF_FORGET_AFTER_MAX = 86400,	/* a day: longer is keeping, not forgetting */
};

/* The signature of a server list is the list's path with this added. */
#define CONF_SIG_SUFFIX ".sig"

/* What the profile's "server" names: one server, or a way to choose one. */
enum conf_select {
	CONF_SELECT_NONE,		/* not set: vpnctl up must name one */
	CONF_SELECT_ID,			/* server = ID */
	CONF_SELECT_FASTEST,		/* server = fastest */
	CONF_SELECT_COUNTRY,		/* server = country:CC */
	CONF_SELECT_CITY,		/* server = city:NAME */
};

enum conf_kill_switch {
	CONF_KILL_SWITCH_OFF,		/* traffic may leave outside the tunnel */
	CONF_KILL_SWITCH_ON,		/* blocked while up, and on a drop */
	CONF_KILL_SWITCH_LOCKDOWN,	/* blocked even after "vpnctl down" */
};

/* [split]: which way the listed networks are the exception. */
enum conf_split {
	CONF_SPLIT_NONE,		/* everything through the tunnel */
	CONF_SPLIT_EXCLUDE,		/* these outside, the rest inside */
	CONF_SPLIT_INCLUDE,		/* only these inside */
};

/* An IP address, or a prefix when cidr is meaningful. */
struct conf_prefix {
	union {
		struct in_addr ip4;
		struct in6_addr ip6;
	} addr;			/* network byte order */
	sa_family_t family;	/* AF_INET or AF_INET6 */
	uint8_t cidr;		/* 32 or 128 for a plain address */
};

union conf_endpoint {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* The sodium_malloc()'d block that holds a loaded file's secret keys. */
struct conf_secrets;

/* The client profile. */
struct conf_client {
	char *path;			/* as loaded, for messages */
	const uint8_t *private_key;	/* KEY_LEN bytes in secrets */
	struct conf_prefix address[CONF_ADDRESS_MAX];
	unsigned int n_address;
	struct conf_prefix dns[CONF_DNS_MAX];	/* cidr unused */
	unsigned int n_dns;
	unsigned int mtu;		/* 0: the daemon's default */
	enum conf_kill_switch kill_switch;	/* default: on */
	bool allow_lan;			/* default: no */
	bool has_split;			/* [split] present */
	/* [split] exclude or include (splitnet.h): masked, no two
	 * overlapping, none touching the tunnel's addresses or resolvers. */
	enum conf_split split_mode;
	struct conf_prefix split_net[CONF_SPLIT_MAX];
	unsigned int n_split;
	unsigned int split_line;	/* of that key, for messages */
	char *servers_path;		/* relative paths resolved already */
	char *server;			/* lowercase id, or NULL: none chosen */
	unsigned int server_line;	/* where "server" is, for messages */
	/* "server" as a choice: CONF_SELECT_ID when server is set; the
	 * country (lowercase) or the city (as written) in select_value. */
	enum conf_select select;
	char *select_value;
	/* servers_key: the Ed25519 key the server list must be signed by. */
	bool has_servers_key;
	uint8_t servers_key[KEY_LEN];
	unsigned int failover_after;	/* seconds; 0: no failover */
	unsigned int probe_timeout_ms;	/* a server silent this long is
					 * unreachable */
	struct conf_secrets *secrets;
};

/* One section of the server list. */
struct conf_server_entry {
	char *id;			/* the section name, lowercase */
	union conf_endpoint endpoint;	/* an IP literal and a port */
	uint8_t public_key[KEY_LEN];
	const uint8_t *preshared_key;	/* NULL, or KEY_LEN bytes in secrets */
	char country[3];		/* ISO 3166-1 alpha-2, lowercase */
	char *city;			/* free text, "" when not given */
	unsigned int line;		/* of the section header */
};

struct conf_servers {
	char *path;
	struct conf_server_entry *entry;	/* in file order */
	size_t n_entry;
	time_t expires;			/* [list] expires, or 0: never */
	bool verified;			/* its signature was checked */
	struct conf_secrets *secrets;
};

/* One [peer NAME] section of the server config. */
struct conf_peer {
	char *name;			/* NAME, lowercase; names it in logs */
	uint8_t public_key[KEY_LEN];
	const uint8_t *preshared_key;	/* NULL, or KEY_LEN bytes in secrets */
	struct conf_prefix *allowed_ips;	/* host bits clear */
	size_t n_allowed_ips;
	unsigned int line;		/* of the section header */
};

/*
 * The [fleet] section of the server config: where the users come from
 * besides the [peer] sections (vpnd/fleet.c, docs/fleet.md).
 */
enum conf_fleet_limits {
	CONF_FLEET_ETCD_MAX = 16,	/* endpoints in "etcd" */
	CONF_FLEET_TEXT_MAX = 255,	/* an endpoint URL or the prefix */
};

struct conf_fleet {
	char *etcd[CONF_FLEET_ETCD_MAX];	/* http:// or https:// URLs */
	unsigned int n_etcd;
	char *prefix;			/* each user is the key PREFIX<NAME> */
	char *ca, *cert, *key;		/* resolved paths, or NULL */
	unsigned int line;		/* of the section header */
};

/* The server config. */
struct conf_server {
	char *path;
	const uint8_t *private_key;	/* KEY_LEN bytes in secrets */
	uint8_t public_key[KEY_LEN];	/* derived from private_key */
	char *private_key_file;		/* resolved path, or NULL */
	uint16_t listen_port;
	struct conf_prefix address[CONF_ADDRESS_MAX];
	unsigned int n_address;
	char nat[IFNAMSIZ];		/* "" for no masquerading */
	/* Seconds after a peer's last session expired, idle, before its
	 * endpoint and handshake time are wiped (docs/config.md). */
	unsigned int forget_after;
	bool log_sensitive;		/* addresses and keys in log lines */
	struct conf_peer *peer;		/* in file order */
	size_t n_peer;
	struct conf_fleet *fleet;	/* NULL: no [fleet] section */
	struct conf_secrets *secrets;
};

/*
 * Each load reads @path (NULL: the default path where there is one) into a
 * new struct at *@out.  On error *@out is NULL and, when @err is not NULL, a
 * NUL-terminated message of at most @errlen bytes (CONF_ERR_LEN is enough)
 * says "FILE:LINE: [SECTION] KEY: what is wrong".
 *
 * Returns 0, or -ENOENT (no such file), -EACCES (a file that holds a secret
 * is open to group or others, or any file is writable by them or owned by
 * someone other than root or the caller), -EINVAL (a file that is not a
 * regular file, or anything wrong in its text), -EFBIG (over
 * CONF_FILE_MAX), -ENOMEM, -EIO.
 */
int conf_client_load(const char *path, struct conf_client **out, char *err,
		     size_t errlen);
int conf_servers_load(const char *path, struct conf_servers **out, char *err,
		      size_t errlen);
int conf_server_load(const char *path, struct conf_server **out, char *err,
		     size_t errlen);

/*
 * Loads a server list as conf_servers_load(), and when @key is not NULL
 * also requires PATH.sig, the base64 of an Ed25519 signature by @key over
 * the exact bytes of the list (libsodium's crypto_sign_detached(), as
 * "vpnctl servers sign" writes it).  A list whose [list] expires lies
 * before @now is refused in either case.  A missing, malformed or wrong
 * signature is -EPERM (a missing one -ENOENT), an expired list -ESTALE,
 * each with a message; *@out is then NULL.
 */
int conf_servers_load_verified(const char *path, const uint8_t *key,
			       time_t now, struct conf_servers **out,
			       char *err, size_t errlen);
/* The profile's list: its servers path and servers_key, now. */
int conf_servers_load_for(const struct conf_client *c,
			  struct conf_servers **out, char *err, size_t errlen);

/* Wipe the secrets and free everything.  NULL is accepted. */
void conf_client_free(struct conf_client *c);
void conf_servers_free(struct conf_servers *s);
void conf_server_free(struct conf_server *s);

/* The entry named @id (compared without case), or NULL. */
const struct conf_server_entry *conf_servers_find(const struct conf_servers *s,
						  const char *id);

/*
 * Picks the server to connect to: @id when it is not NULL (a name given on
 * the command line), else the profile's "server".  Returns 0 with *@out set,
 * or -ENOENT with a message when no server is chosen or the list has no
 * such server; a name that came from the profile is reported at its line.
 */
int conf_servers_resolve(const struct conf_servers *s,
			 const struct conf_client *c, const char *id,
			 const struct conf_server_entry **out, char *err,
			 size_t errlen);

/*
 * Parses a choice as the profile's "server" takes it ("fastest",
 * "country:CC", "city:NAME", or a server id) into *@kind and, for a
 * country or city, a malloc()'d *@value (NULL otherwise).  0, -EINVAL with
 * a message, or -ENOMEM.
 */
int conf_select_parse(const char *text, enum conf_select *kind, char **value,
		      char *err, size_t errlen);

/*
 * The parsers the fleet's values share with the files: an address or
 * prefix ("10.64.0.2/32"; NULL, or why not), whether bits beyond the
 * prefix length are set, and whether @name may name a peer (1 to
 * CONF_NAME_MAX letters, digits and - _ . @).
 */
const char *conf_prefix_parse(struct conf_prefix *p, const char *s,
			      size_t len);
bool conf_prefix_has_host_bits(const struct conf_prefix *p);
bool conf_peer_name_valid(const char *name);

/* "off", "on" or "lockdown". */
const char *conf_kill_switch_name(enum conf_kill_switch k);

#endif /* VPND_CONF_H */
