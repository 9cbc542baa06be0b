/* SPDX-License-Identifier: MIT */
#include "backend/kilnd/tunnel.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib.h>
#include <sodium.h>

#include "backend/io/tun-device.h"
#include "backend/io/udp-socket.h"
#include "backend/platform/routes.h"
#include "backend/platform/tun.h"
#include "backend/tunnel/dns-message.h"

#define DNS_TIMEOUT_S                 5
#define DNS_WORKERS                   8
#define DNS_REPLY_MAX                 65535
#define KILND_TUNNEL_GOODBYE_FLUSH_US (1000 * 1000)

/*
 * What the DNS workers share with the tunnel: they may finish after the tunnel is gone, so
 * they hold a reference and find `eio` cleared then.
 */
struct dns_link {
        gatomicrefcount refs;
        GMutex lock;
        struct kiln_engine_io *eio;
};

struct kilnd_tunnel {
        struct kilnd_tunnel_config cfg;
        struct tun_device tun;
        unsigned ifindex;
        struct udp_socket udp[2];
        unsigned n_udp;
        struct kiln_client_engine *engine;
        struct kiln_engine_io *eio;
        struct io_loop *loop;
        GThread *thread;
        GThreadPool *dns_pool;
        struct dns_link *link;
};

struct dns_job {
        struct dns_link *link;
        struct kiln_dns_upstream upstream;
        bool tcp;
        size_t len;
        uint8_t data[];
};

struct dns_reply {
        struct kiln_ip_addr from;
        size_t len;
        uint8_t data[];
};

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void dns_link_unref(struct dns_link *l)
{
        if (l && g_atomic_ref_count_dec(&l->refs)) {
                g_mutex_clear(&l->lock);
                g_free(l);
        }
}

static void apply_dns_reply(void *engine, void *data, uint64_t now)
{
        struct dns_reply *r = data;

        kiln_client_engine_handle_dns_reply(engine, &r->from, r->data, r->len, now);
}

static socklen_t upstream_sockaddr(const struct kiln_dns_upstream *u, struct sockaddr_storage *ss)
{
        uint16_t port = htons(u->port ? u->port : 53);

        memset(ss, 0, sizeof(*ss));
        if (u->addr.family == 4) {
                struct sockaddr_in *in = (struct sockaddr_in *)ss;

                in->sin_family = AF_INET;
                in->sin_port = port;
                memcpy(&in->sin_addr, u->addr.bytes, 4);
                return sizeof(*in);
        }
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

        in6->sin6_family = AF_INET6;
        in6->sin6_port = port;
        memcpy(&in6->sin6_addr, u->addr.bytes, 16);
        return sizeof(*in6);
}

static bool read_full(int fd, uint8_t *buf, size_t len)
{
        size_t got = 0;

        while (got < len) {
                ssize_t n = read(fd, buf + got, len - got);

                if (n <= 0)
                        return false;
                got += (size_t)n;
        }
        return true;
}

/* One query, blocking with timeouts, from a socket marked to bypass the tunnel (spec §7.4).
 * Returns the reply length or -errno. */
static ssize_t dns_exchange(const struct dns_job *job, uint8_t *reply, size_t cap)
{
        struct timeval tv = { .tv_sec = DNS_TIMEOUT_S };
        struct sockaddr_storage ss;
        socklen_t sl = upstream_sockaddr(&job->upstream, &ss);
        ssize_t n = -EIO;
        int fd;

        fd = socket(ss.ss_family, (job->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (kiln_socket_set_mark(fd) < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
            connect(fd, (struct sockaddr *)&ss, sl) < 0) {
                n = -errno;
                goto out;
        }
        if (!job->tcp) {
                if (send(fd, job->data, job->len, 0) < 0) {
                        n = -errno;
                        goto out;
                }
                n = recv(fd, reply, cap, 0);
                if (n < 0)
                        n = -errno;
                goto out;
        }
        {
                uint8_t framed[2 + 65535];
                uint8_t hdr[2];
                ssize_t flen = kiln_dns_tcp_frame(job->data, job->len, framed, sizeof(framed));
                size_t want;

                if (flen < 0 || write(fd, framed, (size_t)flen) != flen || !read_full(fd, hdr, 2)) {
                        n = -EIO;
                        goto out;
                }
                want = (size_t)hdr[0] << 8 | hdr[1];
                if (want > cap || !read_full(fd, reply, want)) {
                        n = -EIO;
                        goto out;
                }
                n = (ssize_t)want;
        }
out:
        close(fd);
        return n;
}

static void dns_worker(gpointer data, gpointer user_data)
{
        struct dns_job *job = data;
        g_autofree uint8_t *buf = g_malloc(DNS_REPLY_MAX);
        ssize_t n = dns_exchange(job, buf, DNS_REPLY_MAX);

        /* No answer: the engine's own timeout turns the query into SERVFAIL. */
        if (n > 0) {
                struct dns_reply *r = g_malloc(sizeof(*r) + (size_t)n);

                r->from = job->upstream.addr;
                r->len = (size_t)n;
                memcpy(r->data, buf, (size_t)n);
                g_mutex_lock(&job->link->lock);
                if (!job->link->eio || kiln_engine_io_call(job->link->eio, apply_dns_reply, r, g_free) < 0)
                        g_free(r);
                g_mutex_unlock(&job->link->lock);
        }
        dns_link_unref(job->link);
        g_free(job);
}

/* Engine thread. */
static void on_output(void *userdata, const struct kiln_client_output *o)
{
        struct kilnd_tunnel *t = userdata;

        if (o->type == KILN_CLIENT_OUTPUT_DNS_QUERY) {
                struct dns_job *job;

                if (o->len == 0 || o->len > 65535)
                        return;
                job = g_malloc(sizeof(*job) + o->len);
                job->link = t->link;
                g_atomic_ref_count_inc(&t->link->refs);
                job->upstream = o->upstream;
                job->tcp = o->tcp;
                job->len = o->len;
                memcpy(job->data, o->data, o->len);
                g_thread_pool_push(t->dns_pool, job, NULL);
                return;
        }
        t->cfg.output(t->cfg.userdata, o);
}

static gpointer engine_thread(gpointer data)
{
        struct kilnd_tunnel *t = data;

        (void)io_loop_run(t->loop);
        return NULL;
}

static int open_udp(struct kilnd_tunnel *t, sa_family_t family)
{
        struct udp_socket_config cfg = { .mark = KILN_FWMARK };
        int r = -EAFNOSUPPORT;

        /* Firezone's port first; any port when another process holds it. */
        for (int attempt = 0; attempt < 2; attempt++) {
                uint16_t port = attempt == 0 ? KILND_TUNNEL_UDP_PORT : 0;

                memset(&cfg.bind, 0, sizeof(cfg.bind));
                if (family == AF_INET) {
                        cfg.bind.in.sin_family = AF_INET;
                        cfg.bind.in.sin_port = htons(port);
                } else {
                        cfg.bind.in6.sin6_family = AF_INET6;
                        cfg.bind.in6.sin6_port = htons(port);
                }
                r = udp_socket_open(&cfg, &t->udp[t->n_udp]);
                if (r == 0) {
                        t->n_udp++;
                        return 0;
                }
        }
        return r;
}

int kilnd_tunnel_new(const struct kilnd_tunnel_config *cfg, struct kilnd_tunnel **ret)
{
        struct kilnd_tunnel *t = g_new0(struct kilnd_tunnel, 1);
        uint64_t seed;
        int r;

        t->cfg = *cfg;
        t->tun.fd = -1;
        randombytes_buf(&seed, sizeof(seed));
        t->engine = kiln_client_engine_new(
            &(struct kiln_client_engine_config){ .seed = seed, .private_key = cfg->private_key }, now_ns());
        if (!t->engine) {
                r = -ENOMEM;
                goto fail;
        }
        r = tun_device_open(cfg->device, true, &t->tun);
        if (r < 0)
                goto fail;
        r = tun_set_mtu_up(t->tun.name, cfg->mtu);
        if (r < 0)
                goto fail;
        t->ifindex = if_nametoindex(t->tun.name);
        if (t->ifindex == 0) {
                r = -errno;
                goto fail;
        }
        r = open_udp(t, AF_INET);
        if (r < 0)
                goto fail;
        /* A host without IPv6 still has a working IPv4 tunnel. */
        (void)open_udp(t, AF_INET6);

        t->link = g_new0(struct dns_link, 1);
        g_atomic_ref_count_init(&t->link->refs);
        g_mutex_init(&t->link->lock);
        t->dns_pool = g_thread_pool_new(dns_worker, NULL, DNS_WORKERS, FALSE, NULL);

        {
                struct kiln_engine_io_config ecfg = {
                        .role = KILN_ENGINE_IO_CLIENT,
                        .engine = t->engine,
                        .client_output = on_output,
                        .userdata = t,
                };

                for (unsigned i = 0; i < t->n_udp; i++)
                        ecfg.local_port[i] = t->udp[i].port;
                r = kiln_engine_io_new(&ecfg, &t->eio);
                if (r < 0)
                        goto fail;
        }
        r = io_loop_new(kiln_engine_io_ops(), t->eio, &(struct io_loop_config){ 0 }, &t->loop);
        if (r < 0)
                goto fail;
        kiln_engine_io_attach(t->eio, t->loop);
        t->link->eio = t->eio;
        for (unsigned i = 0; i < t->n_udp; i++) {
                r = io_loop_add_udp(t->loop, &t->udp[i], 0);
                if (r < 0)
                        goto fail;
        }
        r = io_loop_set_tun(t->loop, t->tun.fd, t->tun.vnet_hdr, t->tun.offloads);
        if (r < 0)
                goto fail;
        r = io_loop_start(t->loop);
        if (r < 0)
                goto fail;
        t->thread = g_thread_new("kilnd-engine", engine_thread, t);
        *ret = t;
        return 0;
fail:
        kilnd_tunnel_free(t);
        return r;
}

void kilnd_tunnel_free(struct kilnd_tunnel *t)
{
        if (!t)
                return;
        if (t->thread) {
                io_loop_stop(t->loop);
                g_thread_join(t->thread);
        }
        if (t->link) {
                /* Workers still waiting on a resolver finish on their own and drop the answer. */
                g_mutex_lock(&t->link->lock);
                t->link->eio = NULL;
                g_mutex_unlock(&t->link->lock);
        }
        if (t->dns_pool)
                g_thread_pool_free(t->dns_pool, TRUE, FALSE);
        dns_link_unref(t->link);
        io_loop_free(t->loop);
        kiln_engine_io_free(t->eio);
        kiln_client_engine_free(t->engine);
        for (unsigned i = 0; i < t->n_udp; i++)
                udp_socket_close(&t->udp[i]);
        if (t->tun.fd >= 0)
                tun_device_close(&t->tun);
        g_free(t);
}

struct goodbye_wait {
        GMutex lock;
        GCond cond;
        bool done;
        size_t n;
};

static void apply_goodbye(void *engine, void *data, uint64_t now)
{
        struct goodbye_wait *w = data;
        size_t n = kiln_client_engine_goodbye(engine, now);

        g_mutex_lock(&w->lock);
        w->n = n;
        w->done = true;
        g_cond_signal(&w->cond);
        g_mutex_unlock(&w->lock);
}

static uint64_t sent_datagrams(struct kilnd_tunnel *t)
{
        uint64_t sum = 0;

        for (unsigned i = 0; i < t->n_udp; i++) {
                struct udp_counters c;

                io_loop_get_udp_counters(t->loop, i, &c);
                sum += c.sent_datagrams;
        }
        return sum;
}

size_t kilnd_tunnel_goodbye(struct kilnd_tunnel *t)
{
        /* Static, not on this stack: after a timeout the engine thread may still run the call,
         * until kilnd_tunnel_free joins it (a call queued then is dropped unrun).  Only the
         * main thread calls this, for one tunnel at a time. */
        static struct goodbye_wait w;
        gint64 deadline = g_get_monotonic_time() + KILND_TUNNEL_GOODBYE_FLUSH_US;
        uint64_t before = sent_datagrams(t);
        size_t n;

        g_mutex_init(&w.lock);
        g_cond_init(&w.cond);
        w.done = false;
        w.n = 0;
        if (kiln_engine_io_call(t->eio, apply_goodbye, &w, NULL) < 0)
                return 0;
        g_mutex_lock(&w.lock);
        while (!w.done && g_cond_wait_until(&w.cond, &w.lock, deadline))
                ;
        n = w.done ? w.n : 0;
        g_mutex_unlock(&w.lock);
        /* The datagrams leave through the socket threads: wait (bounded) until they did. */
        while (n && sent_datagrams(t) < before + n && g_get_monotonic_time() < deadline)
                g_usleep(5000);
        return n;
}

unsigned kilnd_tunnel_ifindex(const struct kilnd_tunnel *t)
{
        return t->ifindex;
}

const char *kilnd_tunnel_offloads(const struct kilnd_tunnel *t, char *buf, size_t size)
{
        return tun_offloads_describe(t->tun.offloads, buf, size);
}

static void apply_portal_message(void *engine, void *data, uint64_t now)
{
        (void)kiln_client_engine_handle_portal(engine, data, now);
}

void kilnd_tunnel_portal_message(struct kilnd_tunnel *t, KilnPortalMessage *message)
{
        if (kiln_engine_io_call(t->eio, apply_portal_message, kiln_portal_message_ref(message),
                                (void (*)(void *))kiln_portal_message_unref) < 0)
                kiln_portal_message_unref(message);
}

struct upstreams {
        size_t n;
        struct kiln_dns_upstream u[];
};

static void apply_upstreams(void *engine, void *data, uint64_t now)
{
        struct upstreams *u = data;

        (void)kiln_client_engine_set_system_upstreams(engine, u->u, u->n);
}

void kilnd_tunnel_set_system_upstreams(struct kilnd_tunnel *t, const struct kiln_dns_upstream *u, size_t n)
{
        struct upstreams *copy = g_malloc(sizeof(*copy) + n * sizeof(*u));

        copy->n = n;
        if (n)
                memcpy(copy->u, u, n * sizeof(*u));
        if (kiln_engine_io_call(t->eio, apply_upstreams, copy, g_free) < 0)
                g_free(copy);
}

static void apply_internet(void *engine, void *data, uint64_t now)
{
        kiln_client_engine_set_internet_enabled(engine, data != NULL);
}

void kilnd_tunnel_set_internet_enabled(struct kilnd_tunnel *t, bool enabled)
{
        (void)kiln_engine_io_call(t->eio, apply_internet, enabled ? t : NULL, NULL);
}

struct reset_job {
        void (*done)(void *userdata, const uint8_t *public_key);
        void *userdata;
};

static void apply_reset(void *engine, void *data, uint64_t now)
{
        struct reset_job *job = data;
        uint8_t public_key[WG_KEY_LEN];

        if (kiln_client_engine_reset(engine, now) < 0)
                return;
        kiln_client_engine_public_key(engine, public_key);
        job->done(job->userdata, public_key);
}

void kilnd_tunnel_reset(struct kilnd_tunnel *t, void (*done)(void *userdata, const uint8_t *public_key),
                        void *userdata)
{
        struct reset_job *job = g_new(struct reset_job, 1);

        job->done = done;
        job->userdata = userdata;
        if (kiln_engine_io_call(t->eio, apply_reset, job, g_free) < 0)
                g_free(job);
}
