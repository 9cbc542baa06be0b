/* SPDX-License-Identifier: MIT */
/*
 * Cryptokey routing: a binary trie per address family mapping prefixes to peers, queried by
 * longest-prefix match for outgoing packets (destination → peer) and for incoming ones (does
 * the inner source belong to the peer that sent it?).  Prefixes are stored with host bits
 * cleared; inserting a prefix another peer owns moves it, as in wg(8).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wg_allowedips_node;

struct wg_allowedips {
        struct wg_allowedips_node *root4;
        struct wg_allowedips_node *root6;
};

/* family is AF_INET or AF_INET6; addr holds 4 or 16 bytes. */
struct wg_allowed_ip {
        int family;
        uint8_t addr[16];
        uint8_t cidr;
};

void wg_allowedips_init(struct wg_allowedips *t);
void wg_allowedips_free(struct wg_allowedips *t);
/* 0, -EINVAL (bad family or cidr) or -ENOMEM (nothing changed). */
int wg_allowedips_insert(struct wg_allowedips *t, const struct wg_allowed_ip *ip, void *peer);
/* Removes every prefix owned by peer. */
void wg_allowedips_remove_peer(struct wg_allowedips *t, const void *peer);
/* The owner of the longest prefix containing addr, or NULL. */
void *wg_allowedips_lookup(const struct wg_allowedips *t, int family, const uint8_t *addr);
/* Calls fn for each prefix owned by peer (v4 first), in address order; stops when fn returns non-zero. */
int wg_allowedips_foreach_peer(const struct wg_allowedips *t, const void *peer,
                               int (*fn)(const struct wg_allowed_ip *ip, void *userdata), void *userdata);
