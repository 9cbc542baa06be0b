/* SPDX-License-Identifier: MIT */
/*
 * The cross-platform WireGuard userspace API (wireguard.com/xplatform): the text protocol that
 * wg(8) speaks over /var/run/wireguard/IFNAME.sock.  Sans-IO: the server hands in the bytes it
 * read and writes out the bytes it gets back.  A `set` is parsed and validated completely before
 * anything is applied, so a bad request (errno=22) changes nothing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/wireguard/device.h"

enum {
        /* Larger requests are refused: wg(8) sends a few hundred bytes per peer. */
        UAPI_MAX_REQUEST = 4 * 1024 * 1024,
};

enum uapi_op {
        UAPI_OP_GET,
        UAPI_OP_SET,
};

struct uapi_peer_change {
        uint8_t public_key[WG_KEY_LEN];
        bool remove;
        bool update_only;
        bool has_preshared_key;
        uint8_t preshared_key[WG_KEY_LEN];
        bool has_endpoint;
        struct wg_endpoint endpoint;
        bool has_persistent_keepalive;
        uint16_t persistent_keepalive;
        bool replace_allowed_ips;
        struct wg_allowed_ip *allowed_ips;
        size_t n_allowed_ips;
};

struct uapi_set {
        bool has_private_key;
        uint8_t private_key[WG_KEY_LEN];
        bool has_listen_port;
        uint16_t listen_port;
        bool has_fwmark;
        uint32_t fwmark;
        bool replace_peers;
        struct uapi_peer_change *peers;
        size_t n_peers;
};

/*
 * The length of the first complete request in buf (through its terminating blank line), 0 when
 * more bytes are needed, or -E2BIG when it would exceed UAPI_MAX_REQUEST.
 */
long uapi_request_length(const char *buf, size_t len);

/*
 * Parses one complete request.  For UAPI_OP_SET, *ret_set receives the validated changes (free
 * with uapi_set_free()).  Returns 0 or -EINVAL (malformed, unknown key, bad value), with a
 * reason in *ret_reason (static string) for the log.
 */
int uapi_parse_request(const char *buf, size_t len, enum uapi_op *ret_op, struct uapi_set **ret_set,
                       const char **ret_reason);
void uapi_set_free(struct uapi_set *set);

/* Applies the device and peer parts of a validated set (listen port and fwmark are the server's).
 * Returns 0 or -ENOMEM. */
int uapi_apply(struct wg_device *dev, uint64_t now, const struct uapi_set *set);

/* The reply to `get`, "errno=0\n\n" included; NULL on ENOMEM.  Free with free(). */
char *uapi_format_get(const struct wg_device *dev, uint16_t listen_port, uint32_t fwmark, size_t *ret_len);

/* Endpoint text as wg(8) writes it: "192.0.2.1:51820" or "[2001:db8::1]:51820". */
int uapi_parse_endpoint(const char *text, struct wg_endpoint *ret);
void uapi_format_endpoint(const struct wg_endpoint *e, char *buf, size_t size);
