/* SPDX-License-Identifier: MIT */
/*
 * The part of libnftables the firewall uses, opened with the first
 * firewall (dynlib.h says why not at exec: a plain tunnel has no
 * firewall).  Only the types come from libnftables.h.
 */
#ifndef VPND_FIREWALL_NFT_H
#define VPND_FIREWALL_NFT_H

#include <stddef.h>

#include <nftables/libnftables.h>

struct firewall_nft {
	struct nft_ctx *(*ctx_new)(uint32_t flags);
	void (*ctx_free)(struct nft_ctx *ctx);
	int (*ctx_buffer_output)(struct nft_ctx *ctx);
	int (*ctx_buffer_error)(struct nft_ctx *ctx);
	void (*ctx_output_set_flags)(struct nft_ctx *ctx, unsigned int flags);
	const char *(*ctx_get_output_buffer)(struct nft_ctx *ctx);
	const char *(*ctx_get_error_buffer)(struct nft_ctx *ctx);
	int (*run_cmd_from_buffer)(struct nft_ctx *ctx, const char *buf);
};

/* Fills n from libnftables.so.1: 0, or -errno with err saying what. */
int firewall_nft_open(struct firewall_nft *n, char *err, size_t len);

#endif /* VPND_FIREWALL_NFT_H */
