/* SPDX-License-Identifier: MIT */
/*
 * JSON output of replies: a reply (or a range of it) printed as one object
 * whose members a table of fields chooses and types.  Strings are escaped
 * and made valid UTF-8 whatever the daemon sent.
 */
#ifndef VPNCTL_JSON_H
#define VPNCTL_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "ctl.h"

enum json_type {
	JSON_STRING,		/* the first such key, when present */
	JSON_NUMBER,		/* the same, as a number (null if it is not) */
	JSON_ARRAY,		/* every such key, as strings; [] when none */
};

struct json_field {
	const char *key;	/* the protocol's key, also the member's name */
	enum json_type type;
};

void json_string(FILE *f, const char *s);

/*
 * Prints the pairs [@from, @to) of @r as one object, members in the order
 * of @fields; keys no field names are left out.
 */
void json_object(FILE *f, const struct ctl_reply *r, size_t from, size_t to,
		 const struct json_field *fields, size_t n_fields);

#endif /* VPNCTL_JSON_H */
