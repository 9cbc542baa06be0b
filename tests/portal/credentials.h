/* SPDX-License-Identifier: MIT */
/* The secrets the test portal derives for peers: coturn REST-API TURN credentials, the WireGuard
 * PSK and ICE credentials of a client–gateway pair (specs/firezone-control-plane.md §5), and
 * name-based UUIDs so that ids stay stable across restarts and reloads. */
#pragma once

#include <glib.h>
#include <stdint.h>

enum {
        TP_PSK_BASE_LEN = 32,
        TP_ICE_UFRAG_LEN = 4,
        TP_ICE_PWD_LEN = 22,
};

/* The salt the portal puts in a TURN username: base64 without padding of SHA-256 of the peer's
 * base64 public key, so the credentials change with the WireGuard key. */
char *tp_turn_salt(const char *public_key_b64);

/* coturn `use-auth-secret`: username "<expires>:<salt>", password base64(HMAC-SHA1(secret, username))
 * with padding, exactly what turnserver recomputes. */
void tp_turn_credentials(const char *static_auth_secret, gint64 expires, const char *salt,
                         char **ret_username, char **ret_password);

/* PBKDF2-HMAC-SHA256(password = client_base ‖ gateway_base, salt, 1 iteration, 32 bytes), base64. */
char *tp_psk(const uint8_t client_base[static TP_PSK_BASE_LEN],
             const uint8_t gateway_base[static TP_PSK_BASE_LEN], const char *client_id,
             const char *gateway_id, const char *client_public_key, const char *gateway_public_key);

typedef struct {
        char initiator_username[TP_ICE_UFRAG_LEN + 1];
        char initiator_password[TP_ICE_PWD_LEN + 1];
        char receiver_username[TP_ICE_UFRAG_LEN + 1];
        char receiver_password[TP_ICE_PWD_LEN + 1];
} TpIceCredentials;

/* Lowercase base32 of SHA-256("<initiator_id>:<initiator_pk>:<receiver_id>:<receiver_pk>"), cut 4/22/4/22. */
void tp_ice_credentials(TpIceCredentials *ret, const char *initiator_id, const char *initiator_public_key,
                        const char *receiver_id, const char *receiver_public_key);

/* Lowercase RFC 4648 base32 without padding. */
char *tp_base32_lower(const uint8_t *data, size_t len);

/* A lowercase hyphenated UUID (version 8 layout) from SHA-256 of "<kind>:<name>". */
char *tp_uuid_from_name(const char *kind, const char *name);

/* base64url without padding, and its inverse (NULL on malformed input). */
char *tp_base64url_encode(const uint8_t *data, size_t len);
GBytes *tp_base64url_decode(const char *text);
