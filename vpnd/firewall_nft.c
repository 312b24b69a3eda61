/* SPDX-License-Identifier: MIT */
/*
 * libnftables for the firewall, by name: see firewall_nft.h and dynlib.h.
 */
#include <stddef.h>

#include "dynlib.h"
#include "firewall_nft.h"

static const char firewall_nft_soname[] = "libnftables.so.1";

#define SYM(name, member) { name, offsetof(struct firewall_nft, member) }

static const struct dynlib_sym firewall_nft_syms[] = {
	SYM("nft_ctx_new", ctx_new),
	SYM("nft_ctx_free", ctx_free),
	SYM("nft_ctx_buffer_output", ctx_buffer_output),
	SYM("nft_ctx_buffer_error", ctx_buffer_error),
	SYM("nft_ctx_output_set_flags", ctx_output_set_flags),
	SYM("nft_ctx_get_output_buffer", ctx_get_output_buffer),
	SYM("nft_ctx_get_error_buffer", ctx_get_error_buffer),
	SYM("nft_run_cmd_from_buffer", run_cmd_from_buffer),
};

#undef SYM

int firewall_nft_open(struct firewall_nft *n, char *err, size_t len)
{
	return dynlib_open(firewall_nft_soname, firewall_nft_syms,
			   sizeof(firewall_nft_syms) /
				   sizeof(firewall_nft_syms[0]),
			   n, err, len);
}
