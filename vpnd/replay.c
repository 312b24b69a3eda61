/* SPDX-License-Identifier: MIT */
/*
 * The sliding anti-replay window of a receiving keypair (RFC 6479's scheme,
 * with WireGuard's sizes).  It owns the bitmap of recently seen counters and
 * the rule that decides whether a counter is fresh; the keypair that embeds
 * it owns its lifetime and the serialisation of calls.
 */
#include <string.h>

#include "replay.h"

/*
 * Every counter within COUNTER_WINDOW_SIZE below the greatest one must still
 * have its bit in the ring, and the word holding the greatest counter is
 * shared with counters above it, so the ring needs a whole spare word beyond
 * the window.  A power-of-two number of words lets the compiler turn the
 * modulo of the ring into a mask.
 */
_Static_assert(COUNTER_WINDOW_SIZE <= (REPLAY_RING_WORDS - 1) * REPLAY_WORD_BITS,
	       "the replay ring is too small for the window");
_Static_assert((REPLAY_RING_WORDS & (REPLAY_RING_WORDS - 1)) == 0,
	       "the replay ring must have a power-of-two number of words");

void replay_counter_init(struct replay_counter *c)
{
	memset(c, 0, sizeof(*c));
}

static uint64_t word_index(uint64_t counter)
{
	return counter / REPLAY_WORD_BITS;
}

static unsigned long *ring_word(struct replay_counter *c, uint64_t index)
{
	return &c->ring[index % REPLAY_RING_WORDS];
}

static unsigned long word_bit(uint64_t counter)
{
	return 1UL << (counter % REPLAY_WORD_BITS);
}

/*
 * Makes @counter, greater than any counter accepted so far, the top of the
 * window.  The words between the old top's word (exclusive) and the new
 * top's word (inclusive) still hold bits of counters one lap of the ring
 * older; they are cleared so that those stale bits cannot pass for the new
 * counters that now map onto them.  A jump of a full lap or more clears the
 * whole ring, which bounds the work per message.
 */
static void window_advance(struct replay_counter *c, uint64_t counter)
{
	uint64_t first, last, i, n;

	if (c->next != 0) {
		first = word_index(c->next - 1) + 1;
		last = word_index(counter);
		if (last >= first) {
			n = last - first + 1;
			if (n > REPLAY_RING_WORDS)
				n = REPLAY_RING_WORDS;
			for (i = 0; i < n; i++)
				*ring_word(c, first + i) = 0;
		}
	}
	/* Cannot wrap: the caller has rejected counters this large. */
	c->next = counter + 1;
}

/*
 * True when @counter, not above the greatest counter accepted, lies so far
 * below it that its bit may already have been reused.
 */
static bool window_too_old(const struct replay_counter *c, uint64_t counter)
{
	return c->next - 1 - counter > COUNTER_WINDOW_SIZE;
}

bool replay_counter_validate(struct replay_counter *c, uint64_t counter)
{
	unsigned long *word, bit;

	/*
	 * The sender never uses these counters; accepting them would let the
	 * window's arithmetic come close to wrapping.
	 */
	if (counter >= REJECT_AFTER_MESSAGES)
		return false;

	if (counter >= c->next)
		window_advance(c, counter);
	else if (window_too_old(c, counter))
		return false;

	word = ring_word(c, word_index(counter));
	bit = word_bit(counter);
	if (*word & bit)
		return false;
	*word |= bit;
	return true;
}
