/* SPDX-License-Identifier: MIT */
/*
 * vpnd/killswitch.c for test_killswitch.sh, which runs it inside a
 * namespace and judges the result with nft(8) and tcpdump.
 *
 *   killswitch_driver OP ARGS...   one operation
 *   killswitch_driver -            a session: one operation a line on
 *                                  stdin, one answer line each on stdout
 *
 * A session is what a daemon is to the module: one struct killswitch that
 * remembers what it applied (for verify) and whether it holds a table it
 * took over, and a process that can be killed with SIGKILL while it holds
 * the rules.  Answers are "ok [WORD]" or "err MESSAGE".  One operation
 * alone exits 0 done, 1 failed (the message on stderr), 2 bad usage, 3
 * for verify's "differs" and takeover's "absent".
 *
 * STATE words: mode=off|on|lockdown phase=disconnected|connecting|
 * connected|error tun=NAME mark=N server=ADDR port=N proto=udp|tcp
 * addr=ADDR (repeatable) dns=ADDR (repeatable) lan=yes|no.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firewall.h"
#include "killswitch.h"
#include "netlink.h"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_NO = 3, ARGS_MAX = 64 };

static const char usage[] =
	"usage: killswitch_driver OP ARGS... | killswitch_driver -\n"
	"  render STATE... | apply STATE... | verify STATE...\n"
	"  takeover STATE... | release | hold\n"
	"  arp-guard NAME | arp-restore NAME OLD OURS\n";

/* What an operation tells the shell besides success. */
enum answer { ANSWER_NONE, ANSWER_YES, ANSWER_NO };

struct op_result {
	int ret;		/* 0 or -errno */
	bool bad_usage;
	enum answer answer;
	const char *word;	/* printed after "ok" */
	char text[128];		/* or this, when set */
	const char *why;	/* for a failure */
	char why_buf[128];
};

static bool parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 0);
	return *s && !*end && !errno && *v <= max;
}

static bool word_is(const char *arg, const char *key, const char **value)
{
	size_t n = strlen(key);

	if (strncmp(arg, key, n) || arg[n] != '=')
		return false;
	*value = arg + n + 1;
	return true;
}

static bool pick(const char *v, const char *const *names, int n, int *out)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(v, names[i])) {
			*out = i;
			return true;
		}
	return false;
}

/* Fills s from STATE words; false on a word it does not know. */
static bool parse_state(int argc, char **argv, struct killswitch_state *s)
{
	static const char *const modes[] = { "off", "on", "lockdown" };
	static const char *const phases[] = { "disconnected", "connecting",
					      "connected", "error" };
	struct netlink_prefix p;
	unsigned long n;
	const char *v;
	int i, k;

	memset(s, 0, sizeof(*s));
	s->server.protocol = IPPROTO_UDP;
	for (i = 0; i < argc; i++) {
		if (word_is(argv[i], "mode", &v) && pick(v, modes, 3, &k))
			s->mode = (enum killswitch_mode)k;
		else if (word_is(argv[i], "phase", &v) &&
			 pick(v, phases, 4, &k))
			s->phase = (enum killswitch_phase)k;
		else if (word_is(argv[i], "tun", &v))
			s->tunnel_ifname = v;
		else if (word_is(argv[i], "mark", &v) &&
			 parse_uint(v, UINT32_MAX, &n))
			s->fwmark = (uint32_t)n;
		else if (word_is(argv[i], "server", &v) &&
			 !netlink_prefix_parse(v, &p)) {
			s->server.family = p.family;
			s->server.addr = p.addr;
		} else if (word_is(argv[i], "port", &v) &&
			   parse_uint(v, 65535, &n))
			s->server.port = (uint16_t)n;
		else if (word_is(argv[i], "proto", &v) &&
			 (!strcmp(v, "udp") || !strcmp(v, "tcp")))
			s->server.protocol = strcmp(v, "udp") ? IPPROTO_TCP :
								IPPROTO_UDP;
		else if (word_is(argv[i], "addr", &v) &&
			 s->n_tunnel_addr < KILLSWITCH_ADDR_MAX &&
			 !netlink_prefix_parse(v, &p))
			s->tunnel_addr[s->n_tunnel_addr++] = p;
		else if (word_is(argv[i], "dns", &v) &&
			 s->n_resolver < KILLSWITCH_DNS_MAX &&
			 !netlink_prefix_parse(v, &p))
			s->resolver[s->n_resolver++] = p;
		else if (word_is(argv[i], "lan", &v) &&
			 (!strcmp(v, "yes") || !strcmp(v, "no")))
			s->allow_lan = !strcmp(v, "yes");
		else
			return false;
	}
	return true;
}

static void op_render(struct op_result *r, const struct killswitch_state *s)
{
	struct firewall_text body = FIREWALL_TEXT_INIT;
	enum killswitch_rules rules;

	r->ret = killswitch_render(s, false, &body, &rules);
	if (r->ret) {
		snprintf(r->why_buf, sizeof(r->why_buf), "%s", body.why);
		r->why = r->why_buf;
	} else if (rules == KILLSWITCH_RULES_NONE) {
		printf("none\n");
	} else {
		printf("table inet %s {\n%s}\n", KILLSWITCH_TABLE,
		       firewall_text_str(&body));
	}
	firewall_text_free(&body);
}

static void op_arp(struct op_result *r, int argc, char **argv)
{
	struct killswitch_arp a;
	unsigned long old, ours;

	if (!strcmp(argv[0], "arp-guard") && argc == 2) {
		r->ret = killswitch_arp_guard(&a, argv[1]);
		snprintf(r->text, sizeof(r->text), "old=%d ours=%d", a.old,
			 a.ours);
		return;
	}
	if (!strcmp(argv[0], "arp-restore") && argc == 4 &&
	    parse_uint(argv[2], 255, &old) && parse_uint(argv[3], 255, &ours)) {
		memset(&a, 0, sizeof(a));
		snprintf(a.name, sizeof(a.name), "%s", argv[1]);
		a.old = (int)old;
		a.ours = (int)ours;
		r->ret = killswitch_arp_restore(&a);
		return;
	}
	r->bad_usage = true;
}

static void run_op(struct killswitch *ks, int argc, char **argv,
		   struct op_result *r)
{
	struct killswitch_state s;
	const char *op = argv[0];
	bool yes;

	memset(r, 0, sizeof(*r));
	if (!strncmp(op, "arp-", 4)) {
		op_arp(r, argc, argv);
		return;
	}
	if (!strcmp(op, "release") && argc == 1) {
		killswitch_release(ks);
		return;
	}
	if (!strcmp(op, "hold") && argc == 1) {
		killswitch_hold(ks);
		return;
	}
	if (!parse_state(argc - 1, argv + 1, &s)) {
		r->bad_usage = true;
		return;
	}
	if (!strcmp(op, "render")) {
		op_render(r, &s);
	} else if (!strcmp(op, "apply")) {
		r->ret = killswitch_apply(ks, &s);
	} else if (!strcmp(op, "verify")) {
		r->ret = killswitch_verify(ks, &s, &yes);
		r->answer = yes ? ANSWER_YES : ANSWER_NO;
		r->word = yes ? "matches" : "differs";
	} else if (!strcmp(op, "takeover")) {
		r->ret = killswitch_takeover(ks, &s, &yes);
		r->answer = yes ? ANSWER_YES : ANSWER_NO;
		r->word = yes ? "found" : "absent";
	} else {
		r->bad_usage = true;
	}
	if (r->ret && !r->why)
		r->why = killswitch_strerror(ks);
}

/* One operation a line until end of input; every answer is flushed at
 * once, since the shell waits for it. */
static int session(struct killswitch *ks)
{
	char line[4096], *argv[ARGS_MAX], *save, *w;
	struct op_result r;
	int argc;

	while (fgets(line, sizeof(line), stdin)) {
		argc = 0;
		for (w = strtok_r(line, " \t\n", &save); w && argc < ARGS_MAX;
		     w = strtok_r(NULL, " \t\n", &save))
			argv[argc++] = w;
		if (!argc)
			continue;
		run_op(ks, argc, argv, &r);
		if (r.bad_usage)
			printf("err bad usage\n");
		else if (r.ret)
			printf("err %s [errno %d]\n",
			       r.why ? r.why : strerror(-r.ret), -r.ret);
		else if (r.text[0])
			printf("ok %s\n", r.text);
		else
			printf("ok%s%s\n", r.word ? " " : "",
			       r.word ? r.word : "");
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct firewall *fw;
	struct killswitch ks;
	struct op_result r;
	int ret;

	if (argc < 2) {
		fprintf(stderr, "killswitch_driver: no operation\n%s", usage);
		return EXIT_USAGE;
	}
	ret = firewall_open(&fw);
	if (ret) {
		fprintf(stderr, "killswitch_driver: opening nftables: %s\n",
			strerror(-ret));
		return EXIT_FAILED;
	}
	killswitch_init(&ks, fw);
	if (!strcmp(argv[1], "-")) {
		ret = session(&ks);
	} else {
		run_op(&ks, argc - 1, argv + 1, &r);
		if (r.bad_usage) {
			fprintf(stderr, "killswitch_driver: bad usage\n%s",
				usage);
			ret = EXIT_USAGE;
		} else if (r.ret) {
			fprintf(stderr, "killswitch_driver: %s [errno %d]\n",
				r.why ? r.why : strerror(-r.ret), -r.ret);
			ret = EXIT_FAILED;
		} else {
			if (r.text[0])
				printf("%s\n", r.text);
			else if (r.word)
				printf("%s\n", r.word);
			ret = r.answer == ANSWER_NO ? EXIT_NO : 0;
		}
	}
	killswitch_free(&ks);
	firewall_close(fw);
	return ret;
}
