/* SPDX-License-Identifier: MIT */
/*
 * kilnd's data plane: the client engine (backend/tunnel/client-engine.h) on backend/io's event
 * loop (engine-io.h) in a thread of its own, with the TUN device tun-kiln (IFF_VNET_HDR
 * offloads, MTU 1280) and one UDP socket per family (port 52625, else any), both marked with
 * KILN_FWMARK so that they bypass Kiln's routes.
 *
 * Threads: kilnd_tunnel_new/_free and every other call here run on kilnd's main thread; the
 * engine only ever runs on the engine thread (calls are queued with kiln_engine_io_call).
 * The output callback runs on the engine thread and gets every engine output except TUN
 * packets (the loop writes those) and DNS_QUERY, which the tunnel answers itself: the query
 * goes to the upstream resolver from a marked socket on a worker thread (UDP, or TCP framed
 * as RFC 1035 §4.2.2, 5 s timeout) and the reply back into the engine.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backend/tunnel/client-engine.h"
#include "backend/tunnel/engine-io.h"

#define KILND_TUNNEL_UDP_PORT 52625

typedef void (*kilnd_tunnel_output_fn)(void *userdata, const struct kiln_client_output *o);

struct kilnd_tunnel_config {
        const char *device;            /* "tun-kiln" */
        unsigned mtu;                  /* 1280 */
        const uint8_t *private_key;    /* WG_KEY_LEN bytes: the key whose public half the portal has */
        kilnd_tunnel_output_fn output; /* engine thread */
        void *userdata;
};

struct kilnd_tunnel;

/* Opens the device and sockets and starts the engine thread; 0 or -errno (nothing left open). */
int kilnd_tunnel_new(const struct kilnd_tunnel_config *cfg, struct kilnd_tunnel **ret);
/* Before free on a clean stop: a GOODBYE to every connected gateway, waiting (≤ 1 s) until
 * the datagrams left.  Returns how many gateways were told. */
size_t kilnd_tunnel_goodbye(struct kilnd_tunnel *t);
/* Stops the engine thread and closes everything: the device and its routes go.  NULL is fine. */
void kilnd_tunnel_free(struct kilnd_tunnel *t);

unsigned kilnd_tunnel_ifindex(const struct kilnd_tunnel *t);
/* The TUN offloads the kernel accepted, for logs ("csum tso4 …" or "none"). */
const char *kilnd_tunnel_offloads(const struct kilnd_tunnel *t, char *buf, size_t size);

/* Queued for the engine thread. */
void kilnd_tunnel_portal_message(struct kilnd_tunnel *t, KilnPortalMessage *message);
void kilnd_tunnel_set_system_upstreams(struct kilnd_tunnel *t, const struct kiln_dns_upstream *u, size_t n);
void kilnd_tunnel_set_internet_enabled(struct kilnd_tunnel *t, bool enabled);
/* Network change: the engine drops its connections and takes a new key; done(userdata,
 * public_key) then runs on the engine thread. */
void kilnd_tunnel_reset(struct kilnd_tunnel *t, void (*done)(void *userdata, const uint8_t *public_key),
                        void *userdata);
