/* SPDX-License-Identifier: MIT */
/*
 * The part of libcurl the fleet uses, opened when a fleet starts
 * (dynlib.h says why not at exec).  Only the types come from curl.h.
 */
#ifndef VPND_FLEET_CURL_H
#define VPND_FLEET_CURL_H

#include <stddef.h>

#include <curl/curl.h>

struct fleet_curl {
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *e, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *e);
	void (*easy_cleanup)(CURL *e);
	const char *(*easy_strerror)(CURLcode code);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *m, CURLMoption opt, ...);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *e);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *e);
	CURLMcode (*multi_socket_action)(CURLM *m, curl_socket_t s, int mask,
					 int *running);
	CURLMcode (*multi_assign)(CURLM *m, curl_socket_t s, void *p);
	CURLMsg *(*multi_info_read)(CURLM *m, int *left);
	CURLMcode (*multi_cleanup)(CURLM *m);
	struct curl_slist *(*slist_append)(struct curl_slist *l,
					   const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

/* Fills c from libcurl.so.4: 0, or -errno with err saying what. */
int fleet_curl_open(struct fleet_curl *c, char *err, size_t len);

#endif /* VPND_FLEET_CURL_H */
