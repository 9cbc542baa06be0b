/* SPDX-License-Identifier: MIT */
/*
 * Runs a client or gateway engine (client-engine.h, gateway-engine.h) on backend/io's event
 * loop (event-loop.h): the loop's UDP sockets and TUN device feed the engine, the engine's
 * datagrams and TUN packets go back out through the loop's GSO and TUN queues, its deadline
 * drives the loop's timer.  Everything else the engine produces (portal messages, DNS
 * queries, user events) goes to a callback on the engine thread.
 *
 *   struct kiln_engine_io *eio;
 *   kiln_engine_io_new(&(struct kiln_engine_io_config){ .role = KILN_ENGINE_IO_CLIENT,
 *           .engine = client_engine, .local_port = { 52625, 52625 },
 *           .client_output = on_output, .userdata = session }, &eio);
 *   io_loop_new(kiln_engine_io_ops(), eio, &(struct io_loop_config){ 0 }, &loop);
 *   kiln_engine_io_attach(eio, loop);
 *   io_loop_add_udp(loop, &v4, 0); io_loop_add_udp(loop, &v6, 0); io_loop_set_tun(loop, …);
 *   io_loop_start(loop); io_loop_run(loop);            // the engine thread
 *
 * Other threads (kilnd's GLib main loop with the portal connection, kiln-gateway's resolver)
 * never touch the engine: they hand work over with kiln_engine_io_call(), which runs it on the
 * engine thread at the next tick, e.g. a parsed portal message:
 *
 *   kiln_engine_io_call(eio, apply_portal_message, kiln_portal_message_ref(msg),
 *                       (GDestroyNotify)kiln_portal_message_unref);
 *   static void apply_portal_message(void *engine, void *msg, uint64_t now)
 *   { kiln_client_engine_handle_portal(engine, msg, now); }
 *
 * The output callback runs on the engine thread: copy what it needs and pass it to its own
 * thread (g_main_context_invoke …).  Outputs are drained whenever the loop polls TUN packets,
 * i.e. after every input unless the TUN queue is back-pressured.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backend/io/event-loop.h"
#include "backend/tunnel/client-engine.h"
#include "backend/tunnel/gateway-engine.h"

#define KILN_ENGINE_IO_MAX_SOCKETS 4

enum kiln_engine_io_role {
        KILN_ENGINE_IO_CLIENT,
        KILN_ENGINE_IO_GATEWAY,
};

struct kiln_engine_io_config {
        enum kiln_engine_io_role role;
        void *engine; /* struct kiln_client_engine * or struct kiln_gateway_engine * */
        /* The port each UDP socket (by loop index) is bound to: with the datagram's
         * destination IP it is the local address ICE and TURN see. */
        uint16_t local_port[KILN_ENGINE_IO_MAX_SOCKETS];
        void (*client_output)(void *userdata, const struct kiln_client_output *o);
        void (*gateway_output)(void *userdata, const struct kiln_gateway_output *o);
        void *userdata;
};

struct kiln_engine_io;

typedef void (*kiln_engine_io_fn)(void *engine, void *data, uint64_t now);

int kiln_engine_io_new(const struct kiln_engine_io_config *cfg, struct kiln_engine_io **ret);
/* Runs nothing still queued; frees its data. */
void kiln_engine_io_free(struct kiln_engine_io *eio);
/* The vtable to give io_loop_new() together with the kiln_engine_io as its engine. */
const struct io_engine_ops *kiln_engine_io_ops(void);
/* Required before kiln_engine_io_call() can wake the loop. */
void kiln_engine_io_attach(struct kiln_engine_io *eio, struct io_loop *loop);
/* Any thread: fn(engine, data, now) runs on the engine thread at the next tick, then
 * free_fn(data) (may be NULL).  -ENOMEM leaves data to the caller. */
int kiln_engine_io_call(struct kiln_engine_io *eio, kiln_engine_io_fn fn, void *data,
                        void (*free_fn)(void *));
/* Errors the loop reported (packets the socket layer dropped, engine refusals). */
uint64_t kiln_engine_io_error_count(const struct kiln_engine_io *eio);
