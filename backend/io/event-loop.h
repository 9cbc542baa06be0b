/* SPDX-License-Identifier: MIT */
/*
 * The IO shell's event loop: drives a sans-IO engine (kiln-wg, kilnd, kiln-gateway) from
 * UDP sockets, a TUN device, timers and a control eventfd (DESIGN.md §3).
 *
 * ------------------------------------------------------------------------------------------
 * Engine-facing API (what an integrator implements)
 * ------------------------------------------------------------------------------------------
 * The engine is a state machine behind `struct io_engine_ops`; every call happens on the
 * engine thread (the one running io_loop_run()/io_loop_tick()), never concurrently, so the
 * engine needs no locks.  `now` is the loop clock in nanoseconds (CLOCK_MONOTONIC unless the
 * config injects a fake clock).
 *
 *  Inputs, called once per packet.  A negative errno marks that one packet as failed: the loop
 *  records it in the tick's aggregate error set and carries on with the next packet — one bad
 *  packet never aborts a batch.
 *    handle_datagram(engine, now, dg)     a UDP datagram (dg->data/len, peer, local IP, ECN,
 *                                         socket index); e.g. WireGuard decapsulation
 *    handle_tun_packet(engine, now, p, n) an IP packet read from the TUN device (offload
 *                                         super-packets are already split, checksums complete)
 *    handle_timeout(engine, now)          called when now >= poll_timeout()
 *    handle_control(engine, now)          the control eventfd (io_loop_control_fd()) was
 *                                         signalled: portal messages, DNS results, config …
 *  Outputs, polled by the loop after every input (the engine keeps them until polled):
 *    poll_timeout(engine)                 next deadline (ns, loop clock) or UINT64_MAX
 *    poll_transmit(engine, &t, buf, cap)  write one UDP datagram into buf (cap >= 65535)
 *                                         and its flow (destination, optional source IP,
 *                                         ECN) into t; return its length, 0 when none
 *    peek_transmit(engine, &t)            optional: the length and flow of the datagram
 *                                         poll_transmit would return next, without taking it
 *                                         (0 when none); the loop then has poll_transmit write
 *                                         it straight into its GSO batch (cap = that length)
 *    poll_tun_packet(engine, buf, cap)    write one IP packet for the TUN device into buf
 *                                         (cap >= 65535); its length, 0 when none
 *  Aggregate errors, once per tick after everything in it was processed:
 *    handle_errors(engine, set)           every error of the tick: packet errors with source
 *                                         and index; datagrams the socket threads dropped
 *                                         through the errno table since the last tick (one
 *                                         IO_SOURCE_SEND entry per socket: count + errno);
 *                                         a stopped worker (IO_SOURCE_WORKER, fatal)
 *
 * The loop stops polling an output while the path behind it is full (GSO queue full because
 * the socket thread is blocked on a full socket buffer; TUN queue full) and, in that state,
 * reads no more UDP/TUN input either: back-pressure reaches the kernel queues instead of
 * dropping anything here.  Timers and control work are still serviced.  Nothing is dropped on
 * the hot path except through the errno table (udp_counters) or an engine's own error.
 *
 * ------------------------------------------------------------------------------------------
 * One tick (io_loop_tick)
 * ------------------------------------------------------------------------------------------
 *  1. flush: GSO batches → per-socket send queues, the TUN output batch → the TUN queue;
 *  2. gather every ready source: control eventfd, due timer, up to `udp_batches_per_tick`
 *     batches from EACH UDP socket, up to `tun_batches_per_tick` TUN batches — unless
 *     back-pressured (then only control and timer);
 *  3. process all of them: control, timer, TUN packets, UDP datagrams (polling outputs after
 *     each input), within `packet_budget` packets per tick; whatever a budget leaves stays
 *     queued for the next tick, so a flooded source cannot starve the others and control
 *     work is looked at every tick;
 *  4. flush again, report the aggregate errors, return the amount of work done.
 * io_loop_run() repeats ticks while they do work and sleeps in poll() on the loop's wake
 * eventfd, the control eventfd and the engine's deadline when they do not.
 *
 * Threads: one per UDP socket (recvmmsg + GRO split; sendmsg + UDP_SEGMENT through the errno
 * table, waiting for POLLOUT on would-block) and one for the TUN device (read + split
 * super-packets; coalesce + write).  They exchange preallocated batches with the engine
 * thread through bounded queues; no malloc per packet.
 *
 * ------------------------------------------------------------------------------------------
 * Wiring an engine (tests/backend/io/io-forward.c is a complete example)
 * ------------------------------------------------------------------------------------------
 *   struct tun_device tun;  tun_device_open("kiln0", true, &tun);          // tun-device.h
 *   struct udp_socket v4, v6;  udp_socket_open(&(struct udp_socket_config){
 *           .bind = 0.0.0.0:51820, .mark = 0xfd002021 }, &v4);  … and [::]:51820 for v6
 *   io_loop_new(&my_ops, my_engine, &(struct io_loop_config){ 0 }, &loop);
 *   io_loop_add_udp(loop, &v4, 0);  io_loop_add_udp(loop, &v6, 0);    // indexes 0, 1
 *   io_loop_set_tun(loop, tun.fd, tun.vnet_hdr, tun.offloads);
 *   io_loop_start(loop);  io_loop_run(loop);     // on the thread that owns the engine
 * Another thread (D-Bus, portal, UAPI socket) never calls the engine: it queues its message
 * in its own structure and signals io_loop_control_fd(); handle_control() then runs on the
 * engine thread.  io_loop_stop() is the only call that is safe from any thread or a signal
 * handler.  Datagram/packet pointers handed to the engine are valid during the call only.
 * handle_control, peek_transmit, poll_tun_packet and handle_errors may be NULL; the others are
 * required.
 * Outgoing datagrams pick their socket by destination family.  Source address and ECN: set
 * t->flow.src (optional) and t->flow.ecn; received ECN is in dg->ecn (merging the outer CE
 * into the inner packet is the engine's job, data-plane spec §4.5).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/io/batch.h"
#include "backend/io/errno-class.h"
#include "backend/io/gso-queue.h"
#include "backend/io/io-types.h"
#include "backend/io/udp-socket.h"

struct io_loop;

enum io_source {
        IO_SOURCE_UDP,
        IO_SOURCE_TUN,
        IO_SOURCE_TIMER,
        IO_SOURCE_CONTROL,
        IO_SOURCE_SEND,   /* the loop could not queue an engine output (e.g. no socket for it) */
        IO_SOURCE_WORKER, /* a UDP/TUN thread stopped on a fatal error */
};

struct io_error {
        uint8_t source; /* enum io_source */
        uint8_t socket;
        uint32_t index; /* the packet's position in its batch; IO_SOURCE_SEND: datagrams dropped */
        int err;        /* negative errno (IO_SOURCE_SEND: the last one the socket met) */
};

struct io_error_set {
        uint32_t count;
        struct io_error *errors; /* sized for a whole tick: every error is reported */
};

/* An outgoing datagram's addressing, filled by poll_transmit. */
struct io_transmit {
        struct io_flow flow;
};

struct io_engine_ops {
        int (*handle_datagram)(void *engine, uint64_t now, const struct io_datagram *dg);
        int (*handle_tun_packet)(void *engine, uint64_t now, const uint8_t *packet, size_t len);
        void (*handle_timeout)(void *engine, uint64_t now);
        int (*handle_control)(void *engine, uint64_t now);
        uint64_t (*poll_timeout)(void *engine);
        size_t (*poll_transmit)(void *engine, struct io_transmit *t, uint8_t *buf, size_t cap);
        size_t (*peek_transmit)(void *engine, struct io_transmit *t);
        size_t (*poll_tun_packet)(void *engine, uint8_t *buf, size_t cap);
        void (*handle_errors)(void *engine, const struct io_error_set *errors);
};

typedef uint64_t (*io_clock_fn)(void *ctx);

struct io_loop_config {
        io_clock_fn clock; /* NULL: CLOCK_MONOTONIC */
        void *clock_ctx;
        unsigned udp_batches_per_tick; /* per socket; 0: 8 */
        unsigned tun_batches_per_tick; /* 0: 1 */
        unsigned packet_budget;        /* packets per tick over all sources; 0: 4096 */
        unsigned udp_queue_batches;    /* per socket and direction; 0: 8 in, 64 out */
        unsigned tun_queue_batches;    /* per direction; 0: 16 */
        unsigned gso_batches;          /* GSO queue depth; 0: 64 */
};

struct io_stats {
        uint64_t ticks;
        uint64_t control, timers;
        uint64_t udp_datagrams[4], udp_batches[4];
        uint64_t tun_packets, tun_batches;
        uint64_t backpressure_ticks;
        uint64_t errors;
        uint64_t tun_malformed;     /* TUN reads tun_split() rejected */
        uint64_t tun_write_dropped; /* TUN writes that failed (other than EAGAIN/EINTR) */
};

#define IO_LOOP_MAX_UDP 4

int io_loop_new(const struct io_engine_ops *ops, void *engine, const struct io_loop_config *cfg,
                struct io_loop **ret);
/* Stops the threads, closes nothing it did not open (sockets and TUN stay the caller's). */
void io_loop_free(struct io_loop *loop);

/* A UDP source; socket NULL makes a source without a thread that io_loop_feed_udp() fills and
 * io_loop_take_udp_out() empties (tests, simulations).  Returns the socket index. */
int io_loop_add_udp(struct io_loop *loop, struct udp_socket *socket, sa_family_t family);
/* Puts a new socket of the same family behind a running source (a listen-port change): its file
 * takes the old one's fd number (dup3), so the worker never sees a closed fd, and the worker is
 * woken to poll it.  s->fd is closed; the source keeps using its original struct udp_socket. */
int io_loop_replace_udp(struct io_loop *loop, unsigned index, struct udp_socket *s);
/* The TUN device: fd, vnet_hdr and offloads from tun_device_open(), or fd -1 for a fake. */
int io_loop_set_tun(struct io_loop *loop, int fd, bool vnet_hdr, unsigned offloads);

/* Writable eventfd: signal it (io_wake_signal) to have handle_control() called next tick. */
int io_loop_control_fd(struct io_loop *loop);

int io_loop_start(struct io_loop *loop); /* starts the worker threads */
/* One tick as described above: >0 work done, 0 idle, <0 fatal (a worker stopped). */
int io_loop_tick(struct io_loop *loop);
/* Ticks until io_loop_stop() (0) or a fatal error (<0). */
int io_loop_run(struct io_loop *loop);
void io_loop_stop(struct io_loop *loop); /* thread-safe */

void io_loop_get_stats(struct io_loop *loop, struct io_stats *ret);
/* Sum of the UDP sockets' counters (sent, dropped …), read from the workers. */
void io_loop_get_udp_counters(struct io_loop *loop, unsigned socket, struct udp_counters *ret);

/* Fake sources and sinks (no thread behind them). */
int io_loop_feed_udp(struct io_loop *loop, unsigned socket, const struct io_datagram *dgs, size_t n);
int io_loop_feed_tun(struct io_loop *loop, const uint8_t *const *packets, const size_t *lens, size_t n);
/* The next batch queued for a fake socket / the fake TUN; give it back with the release. */
struct gso_batch *io_loop_take_udp_out(struct io_loop *loop, unsigned socket);
void io_loop_release_udp_out(struct io_loop *loop, struct gso_batch *b);
struct io_batch *io_loop_take_tun_out(struct io_loop *loop);
void io_loop_release_tun_out(struct io_loop *loop, struct io_batch *b);
