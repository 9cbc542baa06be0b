/* SPDX-License-Identifier: MIT */
#include "backend/wireguard/allowedips.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

struct wg_allowedips_node {
        struct wg_allowedips_node *child[2];
        void *peer;
};

static int bit_at(const uint8_t *addr, unsigned bit)
{
        return (addr[bit / 8] >> (7 - bit % 8)) & 1;
}

static struct wg_allowedips_node **root_of(struct wg_allowedips *t, int family, unsigned *bits)
{
        if (family == AF_INET) {
                *bits = 32;
                return &t->root4;
        }
        if (family == AF_INET6) {
                *bits = 128;
                return &t->root6;
        }
        return NULL;
}

void wg_allowedips_init(struct wg_allowedips *t)
{
        t->root4 = t->root6 = NULL;
}

static void free_tree(struct wg_allowedips_node *n)
{
        if (!n)
                return;
        free_tree(n->child[0]);
        free_tree(n->child[1]);
        free(n);
}

void wg_allowedips_free(struct wg_allowedips *t)
{
        if (!t)
                return;
        free_tree(t->root4);
        free_tree(t->root6);
        t->root4 = t->root6 = NULL;
}

/* Drops nodes that own nothing and lead nowhere; returns the (possibly freed) subtree. */
static struct wg_allowedips_node *prune(struct wg_allowedips_node *n)
{
        if (n && !n->peer && !n->child[0] && !n->child[1]) {
                free(n);
                return NULL;
        }
        return n;
}

int wg_allowedips_insert(struct wg_allowedips *t, const struct wg_allowed_ip *ip, void *peer)
{
        struct wg_allowedips_node **root, **slot, *created[129];
        unsigned bits, n_created = 0;

        root = root_of(t, ip->family, &bits);
        if (!root || ip->cidr > bits || !peer)
                return -EINVAL;
        slot = root;
        for (unsigned depth = 0;; depth++) {
                if (!*slot) {
                        *slot = calloc(1, sizeof(**slot));
                        if (!*slot)
                                goto fail;
                        created[n_created++] = *slot;
                }
                if (depth == ip->cidr)
                        break;
                slot = &(*slot)->child[bit_at(ip->addr, depth)];
        }
        (*slot)->peer = peer;
        return 0;
fail:
        /* Unlink the partial path: the first created node hangs off an existing one (or the root). */
        if (n_created > 0) {
                struct wg_allowedips_node **p = root;

                for (unsigned depth = 0; *p != created[0]; depth++)
                        p = &(*p)->child[bit_at(ip->addr, depth)];
                *p = NULL;
                for (unsigned i = 0; i < n_created; i++)
                        free(created[i]);
        }
        return -ENOMEM;
}

static struct wg_allowedips_node *remove_peer(struct wg_allowedips_node *n, const void *peer)
{
        if (!n)
                return NULL;
        n->child[0] = remove_peer(n->child[0], peer);
        n->child[1] = remove_peer(n->child[1], peer);
        if (n->peer == peer)
                n->peer = NULL;
        return prune(n);
}

void wg_allowedips_remove_peer(struct wg_allowedips *t, const void *peer)
{
        t->root4 = remove_peer(t->root4, peer);
        t->root6 = remove_peer(t->root6, peer);
}

void *wg_allowedips_lookup(const struct wg_allowedips *t, int family, const uint8_t *addr)
{
        const struct wg_allowedips_node *n;
        unsigned bits;
        void *best = NULL;

        if (family == AF_INET) {
                n = t->root4;
                bits = 32;
        } else if (family == AF_INET6) {
                n = t->root6;
                bits = 128;
        } else {
                return NULL;
        }
        for (unsigned depth = 0; n; depth++) {
                if (n->peer)
                        best = n->peer;
                if (depth == bits)
                        break;
                n = n->child[bit_at(addr, depth)];
        }
        return best;
}

static int walk(const struct wg_allowedips_node *n, struct wg_allowed_ip *ip, unsigned depth, unsigned bits,
                const void *peer, int (*fn)(const struct wg_allowed_ip *ip, void *userdata), void *userdata)
{
        int r;

        if (!n)
                return 0;
        if (n->peer == peer) {
                ip->cidr = depth;
                r = fn(ip, userdata);
                if (r != 0)
                        return r;
        }
        if (depth == bits)
                return 0;
        for (int b = 0; b < 2; b++) {
                if (!n->child[b])
                        continue;
                if (b)
                        ip->addr[depth / 8] |= 1 << (7 - depth % 8);
                else
                        ip->addr[depth / 8] &= ~(1 << (7 - depth % 8));
                r = walk(n->child[b], ip, depth + 1, bits, peer, fn, userdata);
                ip->addr[depth / 8] &= ~(1 << (7 - depth % 8));
                if (r != 0)
                        return r;
        }
        return 0;
}

int wg_allowedips_foreach_peer(const struct wg_allowedips *t, const void *peer,
                               int (*fn)(const struct wg_allowed_ip *ip, void *userdata), void *userdata)
{
        struct wg_allowed_ip ip = { .family = AF_INET };
        int r;

        r = walk(t->root4, &ip, 0, 32, peer, fn, userdata);
        if (r != 0)
                return r;
        memset(&ip, 0, sizeof(ip));
        ip.family = AF_INET6;
        return walk(t->root6, &ip, 0, 128, peer, fn, userdata);
}
