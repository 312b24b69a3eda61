/* SPDX-License-Identifier: MIT */
/*
 * The control socket's requests (ctlproto.h): framing, parsing and the
 * table of who may ask what.  control.c calls these on the bytes of each
 * connection; nothing here touches a socket or the client's state, so a
 * request is judged the same whatever else is going on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"

size_t control_request_end(const char *in, size_t len)
{
	const char *end = memmem(in, len, "\n\n", 2);

	return end ? (size_t)(end - in) + 2 : 0;
}

/* Who may ask what. */

static bool killswitch_changes(const struct control_request *r)
{
	return r->has_mode || r->has_allow_lan;
}

/* split=1 save=yes writes the profile. */
static bool split_saves(const struct control_request *r)
{
	return r->split_save;
}

/*
 * Members of the group vpnd run the connection (up, down, status, servers,
 * probing, split tunneling); what changes the machine's protection (the
 * kill switch's mode or allow_lan) needs root, as does starting vpnd with
 * a profile (vpnctl's side: no request carries a profile).  An operation
 * not in this table is root's alone.
 */
static const struct control_access {
	const char *op;
	/* Root only when this says the request changes a setting. */
	bool (*root_if)(const struct control_request *r);
} control_access[] = {
	{ "status", NULL },
	{ "servers", NULL },
	{ "probe", NULL },
	{ "up", NULL },
	{ "down", NULL },
	{ "killswitch", killswitch_changes },
	/* Split tunneling's requests, served to the group too. */
	{ "exec", NULL },
	{ "split", split_saves },
	{ "split_pid", NULL },
	{ "split_apps", NULL },
};

int control_request_access(const struct control_request *r, bool root,
			   char *msg, size_t len)
{
	const struct control_access *a = NULL;

	if (root)
		return 0;
	for (size_t i = 0; i < sizeof(control_access) /
				   sizeof(*control_access); i++)
		if (!strcmp(control_access[i].op, r->op))
			a = &control_access[i];
	if (a && (!a->root_if || !a->root_if(r)))
		return 0;
	snprintf(msg, len, "permission denied: %s needs root (members of the "
		 "group " CONTROL_GROUP " may not change it)",
		 !strcmp(r->op, "killswitch") ? "changing the kill switch" :
						r->op);
	return -EPERM;
}

/* An operation is named in lowercase ASCII, as every key: anything else
 * (nothing at all, control bytes) is no operation, and is not echoed back
 * in a refusal either. */
static bool op_name_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

/* fastest, country:CC or city:NAME; a server id goes in server=. */
static int parse_select(const char *text, struct control_request *r, char *msg,
			size_t len)
{
	char why[CONF_ERR_LEN];
	char *value = NULL;
	int ret;

	ret = conf_select_parse(text, &r->select, &value, why, sizeof(why));
	if (!ret && r->select == CONF_SELECT_ID) {
		ret = -EINVAL;
		snprintf(why, sizeof(why), "a server id goes in server=");
	}
	if (ret) {
		r->select = CONF_SELECT_NONE;
		free(value);
		snprintf(msg, len, "select: %.100s", why);
		return -EINVAL;
	}
	snprintf(r->select_value, sizeof(r->select_value), "%s",
		 value ? value : "");
	free(value);
	return 0;
}

/* One key of split=1: mode=, action=, net= (repeated), save=. */
static int parse_split_key(const char *key, const char *value,
			   struct control_request *r, char *msg, size_t len)
{
	const char *why;

	if (!strcmp(key, "mode")) {
		if (!splitnet_mode_parse(value, &r->split_mode)) {
			snprintf(msg, len, "mode: '%.32s' is not exclude or include", value);
			return -EINVAL;
		}
	} else if (!strcmp(key, "action")) {
		if (strcmp(value, "add") && strcmp(value, "del")) {
			snprintf(msg, len, "action: '%.32s' is not add or del", value);
			return -EINVAL;
		}
		r->split_add = !strcmp(value, "add");
		r->has_split_action = true;
	} else if (!strcmp(key, "net")) {
		if (r->n_split_net == SPLITNET_MAX) {
			snprintf(msg, len, "at most %d networks", SPLITNET_MAX);
			return -EINVAL;
		}
		why = splitnet_parse(value, strlen(value),
				     &r->split_net[r->n_split_net]);
		if (why) {
			snprintf(msg, len, "net '%.64s': %s", value, why);
			return -EINVAL;
		}
		r->n_split_net++;
	} else if (!strcmp(key, "save")) {
		if (strcmp(value, "yes") && strcmp(value, "no")) {
			snprintf(msg, len, "save: '%.32s' is not yes or no", value);
			return -EINVAL;
		}
		r->split_save = !strcmp(value, "yes");
	} else {
		snprintf(msg, len, "unknown key '%.32s' for split", key);
		return -EINVAL;
	}
	return 0;
}

int control_request_parse(char *text, size_t text_len,
			  struct control_request *r, char *msg, size_t len)
{
	char *line, *save = NULL, *eq;
	bool first = true;
	int taken;

	memset(r, 0, sizeof(*r));
	/* A NUL would end the text early, and what follows it would be
	 * ignored without a word, where every other stray byte is refused. */
	if (memchr(text, '\0', text_len)) {
		snprintf(msg, len, "a NUL byte in the request");
		return -EINVAL;
	}
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		eq = strchr(line, '=');
		if (!eq) {
			snprintf(msg, len, "line without '='");
			return -EINVAL;
		}
		*eq = '\0';
		if (first) {
			if (strcmp(eq + 1, "1") || !op_name_valid(line) ||
			    strlen(line) >= sizeof(r->op)) {
				snprintf(msg, len, "unknown operation");
				return -EINVAL;
			}
			strcpy(r->op, line);
			first = false;
		} else if (!strcmp(r->op, "up") && !strcmp(line, "server") &&
			   strlen(eq + 1) < sizeof(r->server)) {
			strcpy(r->server, eq + 1);
			r->has_server = true;
		} else if (!strcmp(r->op, "up") && !strcmp(line, "select")) {
			if (parse_select(eq + 1, r, msg, len))
				return -EINVAL;
		} else if (!strcmp(r->op, "probe") &&
			   (!strcmp(line, "country") || !strcmp(line, "city"))) {
			char sel[CONF_NAME_MAX + 16];

			if (r->select) {
				snprintf(msg, len, "country and city: give one");
				return -EINVAL;
			}
			snprintf(sel, sizeof(sel), "%s:%.*s", line,
				 CONF_NAME_MAX + 1, eq + 1);
			if (parse_select(sel, r, msg, len))
				return -EINVAL;
		} else if (!strcmp(r->op, "probe") &&
			   !strcmp(line, "timeout_ms")) {
			char *end;
			unsigned long v = strtoul(eq + 1, &end, 10);

			if (*end || !eq[1] || v < CONF_PROBE_TIMEOUT_MIN ||
			    v > CONF_PROBE_TIMEOUT_MAX) {
				snprintf(msg, len, "timeout_ms: '%.32s' is not %d to %d",
					 eq + 1, CONF_PROBE_TIMEOUT_MIN,
					 CONF_PROBE_TIMEOUT_MAX);
				return -EINVAL;
			}
			r->timeout_ms = (unsigned int)v;
		} else if (!strcmp(r->op, "killswitch") &&
			   !strcmp(line, "mode")) {
			if (ksfile_mode_parse(eq + 1, &r->mode)) {
				snprintf(msg, len, "mode: '%.32s' is not off, "
					 "on or lockdown", eq + 1);
				return -EINVAL;
			}
			r->has_mode = true;
		} else if (!strcmp(r->op, "killswitch") &&
			   !strcmp(line, "allow_lan")) {
			if (strcmp(eq + 1, "yes") && strcmp(eq + 1, "no")) {
				snprintf(msg, len, "allow_lan: '%.32s' is not "
					 "yes or no", eq + 1);
				return -EINVAL;
			}
			r->allow_lan = !strcmp(eq + 1, "yes");
			r->has_allow_lan = true;
		} else if (!strcmp(r->op, "split")) {
			if (parse_split_key(line, eq + 1, r, msg, len))
				return -EINVAL;
		} else if ((taken = splitapp_request_key(r->op, line, eq + 1,
							&r->split, msg, len))) {
			if (taken < 0)
				return -EINVAL;
		} else {
			snprintf(msg, len, "unknown key '%.32s' for %s", line,
				 r->op);
			return -EINVAL;
		}
	}
	if (first) {
		snprintf(msg, len, "empty request");
		return -EINVAL;
	}
	return 0;
}
