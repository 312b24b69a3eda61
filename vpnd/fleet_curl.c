/* SPDX-License-Identifier: MIT */
/*
 * libcurl for the fleet, by name: see fleet_curl.h and dynlib.h.
 */
#include <stddef.h>

#include "dynlib.h"
#include "fleet_curl.h"

/* The soname of libcurl's ABI 4, whichever TLS flavour is installed. */
static const char fleet_curl_soname[] = "libcurl.so.4";

#define SYM(name, member) { name, offsetof(struct fleet_curl, member) }

static const struct dynlib_sym fleet_curl_syms[] = {
	SYM("curl_global_init", global_init),
	SYM("curl_global_cleanup", global_cleanup),
	SYM("curl_easy_init", easy_init),
	SYM("curl_easy_setopt", easy_setopt),
	SYM("curl_easy_perform", easy_perform),
	SYM("curl_easy_cleanup", easy_cleanup),
	SYM("curl_easy_strerror", easy_strerror),
	SYM("curl_multi_init", multi_init),
	SYM("curl_multi_setopt", multi_setopt),
	SYM("curl_multi_add_handle", multi_add_handle),
	SYM("curl_multi_remove_handle", multi_remove_handle),
	SYM("curl_multi_socket_action", multi_socket_action),
	SYM("curl_multi_assign", multi_assign),
	SYM("curl_multi_info_read", multi_info_read),
	SYM("curl_multi_cleanup", multi_cleanup),
	SYM("curl_slist_append", slist_append),
	SYM("curl_slist_free_all", slist_free_all),
};

#undef SYM

int fleet_curl_open(struct fleet_curl *c, char *err, size_t len)
{
	return dynlib_open(fleet_curl_soname, fleet_curl_syms,
			   sizeof(fleet_curl_syms) / sizeof(fleet_curl_syms[0]),
			   c, err, len);
}
