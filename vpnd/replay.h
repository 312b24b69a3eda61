/* SPDX-License-Identifier: MIT */
/*
 * The anti-replay window of one receiving keypair: it decides whether the
 * counter (nonce) of an authenticated data message is fresh, and remembers
 * it when it is.  It accepts exactly what WireGuard accepts: every counter
 * below REJECT_AFTER_MESSAGES that has not been seen before and that is no
 * more than COUNTER_WINDOW_SIZE below the greatest counter accepted so far.
 *
 * The structure is plain data so that it can be embedded in a keypair.  It
 * allocates nothing and takes no lock: the caller serialises the calls made
 * on one counter (one keypair), and calls for different keypairs may run in
 * parallel.
 */
#ifndef VPND_REPLAY_H
#define VPND_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include <vpn/messages.h>

enum replay_layout {
	REPLAY_WORD_BITS = 8 * sizeof(unsigned long),
	REPLAY_RING_WORDS = COUNTER_BITS_TOTAL / REPLAY_WORD_BITS,
};

struct replay_counter {
	/*
	 * One more than the greatest counter accepted so far, so that zero can
	 * mean that nothing has been accepted yet.
	 */
	uint64_t next;
	/*
	 * Counter n is remembered by bit (n mod COUNTER_BITS_TOTAL) of this
	 * ring of words.
	 */
	unsigned long ring[REPLAY_RING_WORDS];
};

/* Empties the window; a zero-filled structure is equally valid. */
void replay_counter_init(struct replay_counter *c);

/*
 * Returns true when @counter is fresh, and marks it seen; returns false for
 * a replay, a counter that has fallen out of the window, or a counter at or
 * beyond REJECT_AFTER_MESSAGES.  Only call it on messages whose
 * authentication tag has been verified, or a forger could move the window.
 */
bool replay_counter_validate(struct replay_counter *c, uint64_t counter);

#endif /* VPND_REPLAY_H */
