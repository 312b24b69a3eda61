/* SPDX-License-Identifier: MIT */
/*
 * sd-bus for resolved.c, by name: see resolved_sdbus.h and dynlib.h.
 */
#include <stddef.h>

#include "dynlib.h"
#include "resolved_sdbus.h"

static const char resolved_sdbus_soname[] = "libsystemd.so.0";

#define SYM(name, member) { name, offsetof(struct resolved_sdbus, member) }

static const struct dynlib_sym resolved_sdbus_syms[] = {
	SYM("sd_bus_open_system", open_system),
	SYM("sd_bus_set_method_call_timeout", set_method_call_timeout),
	SYM("sd_bus_call_method", call_method),
	SYM("sd_bus_call", call),
	SYM("sd_bus_message_new_method_call", message_new_method_call),
	SYM("sd_bus_message_append", message_append),
	SYM("sd_bus_message_append_array", message_append_array),
	SYM("sd_bus_message_open_container", message_open_container),
	SYM("sd_bus_message_close_container", message_close_container),
	SYM("sd_bus_message_read", message_read),
	SYM("sd_bus_message_unref", message_unref),
	SYM("sd_bus_flush_close_unref", flush_close_unref),
	SYM("sd_bus_error_free", error_free),
	SYM("sd_bus_error_has_name", error_has_name),
};

#undef SYM

int resolved_sdbus_open(struct resolved_sdbus *b, char *err, size_t len)
{
	return dynlib_open(resolved_sdbus_soname, resolved_sdbus_syms,
			   sizeof(resolved_sdbus_syms) /
				   sizeof(resolved_sdbus_syms[0]),
			   b, err, len);
}
