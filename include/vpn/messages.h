/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard wire format and every protocol constant, grouped as the
 * protocol groups them.  Constants of the specification are kept apart from
 * the limits that are vpnd's own choice (at the end of the file).
 *
 * All multi-byte integers on the wire are little-endian.
 */
#ifndef VPN_MESSAGES_H
#define VPN_MESSAGES_H

#include <stdint.h>

/* Sizes of the Noise and cookie primitives, in bytes. */
enum noise_lengths {
	NOISE_PUBLIC_KEY_LEN = 32,
	NOISE_SYMMETRIC_KEY_LEN = 32,
	NOISE_TIMESTAMP_LEN = 12,
	NOISE_AUTHTAG_LEN = 16,
	NOISE_HASH_LEN = 32,
};

enum cookie_values {
	COOKIE_SECRET_MAX_AGE = 2 * 60,	/* seconds */
	COOKIE_SECRET_LATENCY = 5,	/* seconds */
	COOKIE_NONCE_LEN = 24,
	COOKIE_LEN = 16,
	COOKIE_MAC_LEN = 16,
	COOKIE_KEY_LEN = 32,
};

/* Timers and counters of the protocol (section 6 of the WireGuard paper). */
enum counter_values {
	COUNTER_BITS_TOTAL = 8192,
	COUNTER_REDUNDANT_BITS = 64,
	COUNTER_WINDOW_SIZE = COUNTER_BITS_TOTAL - COUNTER_REDUNDANT_BITS,
};

#define REKEY_AFTER_MESSAGES (UINT64_C(1) << 60)
#define REJECT_AFTER_MESSAGES (UINT64_MAX - COUNTER_WINDOW_SIZE - 1)

enum limits {
	REKEY_TIMEOUT = 5,		/* seconds */
	REKEY_TIMEOUT_JITTER_MAX_MS = 334,
	REKEY_AFTER_TIME = 120,		/* seconds */
	REJECT_AFTER_TIME = 180,	/* seconds */
	REKEY_ATTEMPT_TIME = 90,	/* seconds */
	KEEPALIVE_TIMEOUT = 10,		/* seconds */
	INITIATIONS_PER_SECOND = 50,
	MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT,
	MAX_PEERS = 1 << 20,
	MAX_QUEUED_PACKETS = 1024,
	MAX_QUEUED_INCOMING_HANDSHAKES = 4096,
};

/* The four messages. */
enum message_type {
	MESSAGE_INVALID = 0,
	MESSAGE_HANDSHAKE_INITIATION = 1,
	MESSAGE_HANDSHAKE_RESPONSE = 2,
	MESSAGE_HANDSHAKE_COOKIE = 3,
	MESSAGE_DATA = 4,
};

/* Byte offsets and lengths of the fields of each message. */
enum message_initiation_layout {
	INITIATION_OFF_TYPE = 0,
	INITIATION_OFF_SENDER = 4,
	INITIATION_OFF_EPHEMERAL = 8,
	INITIATION_OFF_STATIC = 40,	/* encrypted static, 32 + 16 */
	INITIATION_OFF_TIMESTAMP = 88,	/* encrypted timestamp, 12 + 16 */
	INITIATION_OFF_MAC1 = 116,
	INITIATION_OFF_MAC2 = 132,
	MESSAGE_INITIATION_LEN = 148,
};

enum message_response_layout {
	RESPONSE_OFF_TYPE = 0,
	RESPONSE_OFF_SENDER = 4,
	RESPONSE_OFF_RECEIVER = 8,
	RESPONSE_OFF_EPHEMERAL = 12,
	RESPONSE_OFF_EMPTY = 44,	/* encrypted nothing: the tag alone */
	RESPONSE_OFF_MAC1 = 60,
	RESPONSE_OFF_MAC2 = 76,
	MESSAGE_RESPONSE_LEN = 92,
};

enum message_cookie_layout {
	COOKIE_OFF_TYPE = 0,
	COOKIE_OFF_RECEIVER = 4,
	COOKIE_OFF_NONCE = 8,
	COOKIE_OFF_COOKIE = 32,		/* encrypted cookie, 16 + 16 */
	MESSAGE_COOKIE_LEN = 64,
};

enum message_data_layout {
	DATA_OFF_TYPE = 0,
	DATA_OFF_RECEIVER = 4,
	DATA_OFF_COUNTER = 8,
	DATA_OFF_PAYLOAD = 16,
	MESSAGE_DATA_HEADER_LEN = 16,
	MESSAGE_DATA_MIN_LEN = MESSAGE_DATA_HEADER_LEN + NOISE_AUTHTAG_LEN,
	MESSAGE_PADDING_MULTIPLE = 16,
};

/*
 * Every handshake message ends in the two MACs; these are the distances from
 * the end, which lets cookie.c handle all three message kinds alike.
 */
enum message_macs_layout {
	MACS_LEN = 2 * COOKIE_MAC_LEN,
};

/* vpnd's own limits, not the protocol's. */
enum vpnd_limits {
	VPND_MAX_ALLOWEDIPS_BITS = 128,
};

#endif /* VPN_MESSAGES_H */
