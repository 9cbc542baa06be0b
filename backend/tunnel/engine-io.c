/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/engine-io.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/io/batch.h"

struct call {
        struct call *next;
        kiln_engine_io_fn fn;
        void *data;
        void (*free_fn)(void *);
};

struct kiln_engine_io {
        struct kiln_engine_io_config cfg;
        struct io_loop *loop;
        pthread_mutex_t lock;
        struct call *head, *tail; /* under lock */
        uint64_t errors;
        uint64_t now; /* of the last input: outputs are polled right after it */
        struct ice_transmit tx;
};

int kiln_engine_io_new(const struct kiln_engine_io_config *cfg, struct kiln_engine_io **ret)
{
        struct kiln_engine_io *eio;

        if (!cfg->engine || (cfg->role != KILN_ENGINE_IO_CLIENT && cfg->role != KILN_ENGINE_IO_GATEWAY))
                return -EINVAL;
        eio = calloc(1, sizeof(*eio));
        if (!eio)
                return -ENOMEM;
        eio->cfg = *cfg;
        pthread_mutex_init(&eio->lock, NULL);
        *ret = eio;
        return 0;
}

void kiln_engine_io_free(struct kiln_engine_io *eio)
{
        if (!eio)
                return;
        while (eio->head) {
                struct call *c = eio->head;

                eio->head = c->next;
                if (c->free_fn)
                        c->free_fn(c->data);
                free(c);
        }
        pthread_mutex_destroy(&eio->lock);
        free(eio);
}

void kiln_engine_io_attach(struct kiln_engine_io *eio, struct io_loop *loop)
{
        eio->loop = loop;
}

int kiln_engine_io_call(struct kiln_engine_io *eio, kiln_engine_io_fn fn, void *data,
                        void (*free_fn)(void *))
{
        struct call *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->fn = fn;
        c->data = data;
        c->free_fn = free_fn;
        pthread_mutex_lock(&eio->lock);
        if (eio->tail)
                eio->tail->next = c;
        else
                eio->head = c;
        eio->tail = c;
        pthread_mutex_unlock(&eio->lock);
        if (eio->loop)
                io_wake_signal(io_loop_control_fd(eio->loop));
        return 0;
}

uint64_t kiln_engine_io_error_count(const struct kiln_engine_io *eio)
{
        return eio->errors;
}

static bool is_client(const struct kiln_engine_io *eio)
{
        return eio->cfg.role == KILN_ENGINE_IO_CLIENT;
}

static void local_addr(const struct kiln_engine_io *eio, const struct io_datagram *dg, struct ice_addr *ret)
{
        memset(ret, 0, sizeof(*ret));
        if (dg->local.family == AF_INET) {
                ret->family = 4;
                memcpy(ret->ip, &dg->local.v4, 4);
        } else if (dg->local.family == AF_INET6) {
                ret->family = 6;
                memcpy(ret->ip, &dg->local.v6, 16);
        }
        if (ret->family && dg->socket < KILN_ENGINE_IO_MAX_SOCKETS)
                ret->port = eio->cfg.local_port[dg->socket];
}

static int eio_datagram(void *e, uint64_t now, const struct io_datagram *dg)
{
        struct kiln_engine_io *eio = e;
        struct ice_addr local, from;

        eio->now = now;
        if (ice_addr_from_sockaddr(&from, &dg->peer.sa, io_sockaddr_len(&dg->peer)) < 0)
                return -EAFNOSUPPORT;
        local_addr(eio, dg, &local);
        if (is_client(eio))
                kiln_client_engine_handle_datagram(eio->cfg.engine, &local, &from, dg->data, dg->len, now);
        else
                kiln_gateway_engine_handle_datagram(eio->cfg.engine, &local, &from, dg->data, dg->len, now);
        return 0;
}

static int eio_tun(void *e, uint64_t now, const uint8_t *packet, size_t len)
{
        struct kiln_engine_io *eio = e;

        eio->now = now;
        if (is_client(eio))
                kiln_client_engine_handle_tun_packet(eio->cfg.engine, packet, len, now);
        else
                kiln_gateway_engine_handle_tun_packet(eio->cfg.engine, packet, len, now);
        return 0;
}

static void eio_timeout(void *e, uint64_t now)
{
        struct kiln_engine_io *eio = e;

        eio->now = now;
        if (is_client(eio))
                kiln_client_engine_handle_timeout(eio->cfg.engine, now);
        else
                kiln_gateway_engine_handle_timeout(eio->cfg.engine, now);
}

static int eio_control(void *e, uint64_t now)
{
        struct kiln_engine_io *eio = e;
        struct call *c;

        eio->now = now;
        pthread_mutex_lock(&eio->lock);
        c = eio->head;
        eio->head = eio->tail = NULL;
        pthread_mutex_unlock(&eio->lock);
        while (c) {
                struct call *next = c->next;

                c->fn(eio->cfg.engine, c->data, now);
                if (c->free_fn)
                        c->free_fn(c->data);
                free(c);
                c = next;
        }
        return 0;
}

static uint64_t eio_poll_timeout(void *e)
{
        struct kiln_engine_io *eio = e;

        return is_client(eio) ? kiln_client_engine_poll_timeout(eio->cfg.engine)
                              : kiln_gateway_engine_poll_timeout(eio->cfg.engine);
}

static size_t eio_transmit(void *e, struct io_transmit *t, uint8_t *buf, size_t cap)
{
        struct kiln_engine_io *eio = e;
        struct ice_transmit *tx = &eio->tx;
        struct sockaddr_storage ss;
        socklen_t n;

        for (;;) {
                bool more = is_client(eio)
                                ? kiln_client_engine_poll_transmit(eio->cfg.engine, tx, eio->now)
                                : kiln_gateway_engine_poll_transmit(eio->cfg.engine, tx, eio->now);

                if (!more)
                        return 0;
                n = ice_addr_to_sockaddr(&tx->dst, &ss);
                if (n == 0 || n > sizeof(t->flow.dst) || tx->len > cap) {
                        eio->errors++;
                        continue;
                }
                break;
        }
        memset(&t->flow, 0, sizeof(t->flow));
        memcpy(&t->flow.dst, &ss, n);
        if (tx->src.family == 4) {
                t->flow.src.family = AF_INET;
                memcpy(&t->flow.src.v4, tx->src.ip, 4);
        } else if (tx->src.family == 6) {
                t->flow.src.family = AF_INET6;
                memcpy(&t->flow.src.v6, tx->src.ip, 16);
        }
        memcpy(buf, tx->data, tx->len);
        return tx->len;
}

static size_t eio_tun_packet(void *e, uint8_t *buf, size_t cap)
{
        struct kiln_engine_io *eio = e;

        if (is_client(eio)) {
                struct kiln_client_output o;

                while (kiln_client_engine_poll_output(eio->cfg.engine, &o)) {
                        if (o.type != KILN_CLIENT_OUTPUT_TUN) {
                                if (eio->cfg.client_output)
                                        eio->cfg.client_output(eio->cfg.userdata, &o);
                                continue;
                        }
                        if (o.len > cap) {
                                eio->errors++;
                                continue;
                        }
                        memcpy(buf, o.data, o.len);
                        return o.len;
                }
        } else {
                struct kiln_gateway_output o;

                while (kiln_gateway_engine_poll_output(eio->cfg.engine, &o)) {
                        if (o.type != KILN_GATEWAY_OUTPUT_TUN) {
                                if (eio->cfg.gateway_output)
                                        eio->cfg.gateway_output(eio->cfg.userdata, &o);
                                continue;
                        }
                        if (o.len > cap) {
                                eio->errors++;
                                continue;
                        }
                        memcpy(buf, o.data, o.len);
                        return o.len;
                }
        }
        return 0;
}

static void eio_errors(void *e, const struct io_error_set *set)
{
        ((struct kiln_engine_io *)e)->errors += set->count;
}

static const struct io_engine_ops engine_io_ops = {
        .handle_datagram = eio_datagram,
        .handle_tun_packet = eio_tun,
        .handle_timeout = eio_timeout,
        .handle_control = eio_control,
        .poll_timeout = eio_poll_timeout,
        .poll_transmit = eio_transmit,
        .poll_tun_packet = eio_tun_packet,
        .handle_errors = eio_errors,
};

const struct io_engine_ops *kiln_engine_io_ops(void)
{
        return &engine_io_ops;
}
