/* SPDX-License-Identifier: MIT */
/*
 * The part of libsystemd's sd-bus that resolved.c uses, opened at the
 * first call (dynlib.h says why not at exec: only a client on a desktop
 * with systemd-resolved talks to it).  Only the types come from sd-bus.h.
 */
#ifndef VPND_RESOLVED_SDBUS_H
#define VPND_RESOLVED_SDBUS_H

#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

struct resolved_sdbus {
	int (*open_system)(sd_bus **bus);
	int (*set_method_call_timeout)(sd_bus *bus, uint64_t usec);
	int (*call_method)(sd_bus *bus, const char *destination,
			   const char *path, const char *interface,
			   const char *member, sd_bus_error *err,
			   sd_bus_message **reply, const char *types, ...);
	int (*call)(sd_bus *bus, sd_bus_message *m, uint64_t usec,
		    sd_bus_error *err, sd_bus_message **reply);
	int (*message_new_method_call)(sd_bus *bus, sd_bus_message **m,
				       const char *destination,
				       const char *path,
				       const char *interface,
				       const char *member);
	int (*message_append)(sd_bus_message *m, const char *types, ...);
	int (*message_append_array)(sd_bus_message *m, char type,
				    const void *ptr, size_t size);
	int (*message_open_container)(sd_bus_message *m, char type,
				      const char *contents);
	int (*message_close_container)(sd_bus_message *m);
	int (*message_read)(sd_bus_message *m, const char *types, ...);
	sd_bus_message *(*message_unref)(sd_bus_message *m);
	sd_bus *(*flush_close_unref)(sd_bus *bus);
	void (*error_free)(sd_bus_error *e);
	int (*error_has_name)(const sd_bus_error *e, const char *name);
};

/* Fills b from libsystemd.so.0: 0, or -errno with err saying what. */
int resolved_sdbus_open(struct resolved_sdbus *b, char *err, size_t len);

#endif /* VPND_RESOLVED_SDBUS_H */
