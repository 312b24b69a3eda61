/* SPDX-License-Identifier: MIT */
/*
 * Telling systemd how the daemon is doing (a Type=notify unit): READY=1
 * once it serves, STATUS= lines as its state changes, STOPPING=1 when it
 * begins to shut down, and WATCHDOG=1 from the event loop when the unit
 * sets WatchdogSec=.  The protocol is one datagram per message to the
 * AF_UNIX socket named by $NOTIFY_SOCKET (sd_notify(3)); outside systemd
 * there is no such variable and every call does nothing.
 *
 * Status text is seen by anyone who may run `systemctl status`: callers
 * put no key and no peer address in it.
 */
#ifndef VPND_NOTIFY_H
#define VPND_NOTIFY_H

#include <ev.h>
#include <stdint.h>

/* Sends the newline-separated assignments in @state; 0 when sent or when
 * there is no one to tell, else -errno. */
int notify_send(const char *state);
/* READY=1 with a STATUS= line from @fmt. */
int notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A STATUS= line alone. */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* STOPPING=1: the daemon is undoing what it set up. */
int notify_stopping(void);

/*
 * The watchdog interval systemd asks for, in microseconds, or 0 when it
 * asks for none (or asks another process: $WATCHDOG_PID).
 */
uint64_t notify_watchdog_usec(void);
/* Pings the watchdog from @loop at half its interval, with @w (kept by the
 * caller, stopped with ev_timer_stop); nothing when none is asked for. */
void notify_watchdog_start(struct ev_loop *loop, ev_timer *w);

#endif /* VPND_NOTIFY_H */
