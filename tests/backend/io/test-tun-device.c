/* SPDX-License-Identifier: MIT */
/*
 * A real TUN device with offloads in a private network namespace: a kernel TCP connection is
 * routed into it, the test plays the peer.  The kernel's TSO super-packets are read and split
 * (every segment checked: checksums by an independent routine, sequence numbers, payload),
 * and the peer's data is written back coalesced into GSO super-packets that the kernel must
 * segment and deliver to the socket byte for byte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/io/tun-device.h"
#include "backend/io/tun-offload.h"
#include "tests/backend/io/packet-check.h"
#include "tests/support/test-support.h"

#define CLIENT_IP 0x0a4d0001u /* 10.77.0.1, the kernel's end */
#define PEER_IP   0x0a4d0002u /* 10.77.0.2, played by the test */
#define PEER_PORT 8080
#define MSS       1400
#define UPLOAD    60000
#define DOWNLOAD  (24 * MSS + 700)

static void link_up(const char *ifname)
{
        char cmd[256];

        snprintf(cmd, sizeof(cmd),
                 "ip link set lo up && ip addr add 10.77.0.1/24 dev %s && ip link set %s up", ifname,
                 ifname);
        g_assert_cmpint(system(cmd), ==, 0);
}

static void put16(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
        put16(p, v >> 16);
        put16(p + 2, v);
}

static uint32_t get32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A complete IPv4/TCP packet from the peer to the kernel's socket. */
static size_t peer_packet(uint8_t *p, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                          const uint8_t *payload, size_t len, bool mss_option)
{
        size_t tcp_len = mss_option ? 24 : 20, total = 20 + tcp_len + len;
        uint8_t *t = p + 20;

        memset(p, 0, 20 + tcp_len);
        p[0] = 0x45;
        put16(p + 2, (uint32_t)total);
        p[6] = 0x40;
        p[8] = 64;
        p[9] = 6;
        put32(p + 12, PEER_IP);
        put32(p + 16, CLIENT_IP);
        put16(p + 10, (uint16_t)~inet_csum_fold(inet_csum_add(0, p, 20)));
        put16(t, PEER_PORT);
        put16(t + 2, dport);
        put32(t + 4, seq);
        put32(t + 8, ack);
        t[12] = (uint8_t)((tcp_len / 4) << 4);
        t[13] = flags;
        put16(t + 14, 65535);
        if (mss_option) {
                t[20] = 2;
                t[21] = 4;
                put16(t + 22, MSS);
        }
        if (len)
                memcpy(t + tcp_len, payload, len);
        put16(t + 16, (uint16_t)~inet_csum_fold(
                          inet_csum_add(inet_pseudo_sum(p, 6, tcp_len + len), t, tcp_len + len)));
        return total;
}

static void tun_write_plain(int fd, const uint8_t *pkt, size_t len)
{
        uint8_t buf[TUN_VNET_HDR_LEN + 2048] = { 0 };

        memcpy(buf + TUN_VNET_HDR_LEN, pkt, len);
        g_assert_cmpint(write(fd, buf, TUN_VNET_HDR_LEN + len), ==, (ssize_t)(TUN_VNET_HDR_LEN + len));
}

/* Reads one TUN packet (waiting up to 2 s); its length, 0 on timeout. */
static size_t tun_read(int fd, uint8_t *buf, size_t cap)
{
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, 2000) <= 0)
                return 0;
        n = read(fd, buf, cap);
        g_assert_cmpint(n, >, 0);
        return (size_t)n;
}

static uint8_t rbuf[TUN_VNET_HDR_LEN + 65535];
static uint8_t segbuf[2 * 65536];

static void test_tun_tcp(void)
{
        struct tun_segment segs[TUN_SPLIT_MAX_SEGMENTS];
        struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(PEER_PORT) };
        struct tun_device dev;
        char offl[64];
        uint8_t pkt[2048];
        static uint8_t upload[UPLOAD], download[DOWNLOAD], got[DOWNLOAD];
        uint16_t cport = 0;
        uint32_t cseq = 0, expect, pseq = 1000;
        size_t total = 0, super_reads = 0, writes = 0, n;
        int s, err = 0;
        socklen_t elen = sizeof(err);

        if (kiln_test_skip_unless_root())
                return;
        g_assert_cmpint(unshare(CLONE_NEWNET), ==, 0);
        g_assert_cmpint(tun_device_open("kio%d", true, &dev), ==, 0);
        g_test_message("TUN %s offloads accepted: %s", dev.name,
                       tun_offloads_describe(dev.offloads, offl, sizeof(offl)));
        link_up(dev.name);
        /* (sysfs shows the host's namespace here, so ask the kernel directly) */
        struct ifreq ifr = { 0 };
        int ctl = socket(AF_INET, SOCK_DGRAM, 0);
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev.name);
        g_assert_cmpint(ioctl(ctl, SIOCGIFTXQLEN, &ifr), ==, 0);
        g_assert_cmpint(ifr.ifr_qlen, ==, TUN_TXQUEUELEN);
        close(ctl);

        /* The kernel connects to the peer: its SYN comes out of the TUN. */
        s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        peer.sin_addr.s_addr = htonl(PEER_IP);
        g_assert_cmpint(connect(s, (struct sockaddr *)&peer, sizeof(peer)), ==, -1);
        g_assert_cmpint(errno, ==, EINPROGRESS);
        while (!cport) {
                int m;

                n = tun_read(dev.fd, rbuf, sizeof(rbuf));
                g_assert_cmpuint(n, >, 0);
                m = tun_split(rbuf, n, true, segbuf, sizeof(segbuf), segs, G_N_ELEMENTS(segs), NULL);
                if (m == 1 && segbuf[0] == 0x45 && segbuf[9] == 6 && (segbuf[33] & 0x02)) {
                        g_assert_true(packet_checksums_ok(segbuf, segs[0].len));
                        cport = (uint16_t)(segbuf[20] << 8 | segbuf[21]);
                        cseq = get32(segbuf + 24) + 1;
                }
        }
        n = peer_packet(pkt, cport, pseq, cseq, 0x12, NULL, 0, true); /* SYN|ACK with MSS */
        tun_write_plain(dev.fd, pkt, n);
        pseq++;
        struct pollfd spfd = { .fd = s, .events = POLLOUT };
        g_assert_cmpint(poll(&spfd, 1, 2000), ==, 1);
        g_assert_cmpint(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &elen), ==, 0);
        g_assert_cmpint(err, ==, 0);

        /* Upload: read, split, check, acknowledge, until every byte arrived. */
        for (size_t i = 0; i < UPLOAD; i++)
                upload[i] = (uint8_t)(i * 7 + 3);
        g_assert_cmpint(send(s, upload, UPLOAD, 0), >, 0);
        expect = cseq;
        while (total < UPLOAD) {
                int m;

                n = tun_read(dev.fd, rbuf, sizeof(rbuf));
                g_assert_cmpuint(n, >, 0);
                if (rbuf[1] != 0)
                        super_reads++;
                m = tun_split(rbuf, n, true, segbuf, sizeof(segbuf), segs, G_N_ELEMENTS(segs), NULL);
                g_assert_cmpint(m, >, 0);
                for (int i = 0; i < m; i++) {
                        const uint8_t *sg = segbuf + segs[i].off;
                        size_t hl = 20 + (size_t)(sg[32] >> 4) * 4, pl = segs[i].len - hl;

                        if (sg[0] != 0x45 || sg[9] != 6)
                                continue;
                        g_assert_true(packet_checksums_ok(sg, segs[i].len));
                        g_assert_cmpuint((size_t)(sg[2] << 8 | sg[3]), ==, segs[i].len);
                        if (pl == 0)
                                continue;
                        g_assert_cmpuint(pl, <=, MSS);
                        g_assert_cmpuint(get32(sg + 24), ==, expect);
                        g_assert_cmpmem(sg + hl, pl, upload + (expect - cseq), pl);
                        if (i + 1 < m)
                                g_assert_cmpuint(sg[33] & 0x09, ==, 0); /* no FIN/PSH before the last */
                        expect += (uint32_t)pl;
                        total += pl;
                }
                n = peer_packet(pkt, cport, pseq, expect, 0x10, NULL, 0, false);
                tun_write_plain(dev.fd, pkt, n);
        }
        g_assert_cmpuint(total, ==, UPLOAD);
        g_test_message("upload: %zu bytes, %zu TSO super-packets read and split", total, super_reads);
        if (dev.offloads & TUN_OFFLOAD_TSO4)
                g_assert_cmpuint(super_reads, >, 0);

        /* Download: the peer's segments are coalesced into GSO writes; the kernel segments
         * them (or takes them whole) and the socket must read every byte in order. */
        static uint8_t seg_store[32][2048];
        const uint8_t *pkts[32];
        size_t lens[32], count = 0, done = 0, off = 0;

        for (size_t i = 0; i < DOWNLOAD; i++)
                download[i] = (uint8_t)(i * 13 + 1);
        for (size_t o = 0; o < DOWNLOAD; o += MSS, count++) {
                size_t len = DOWNLOAD - o < MSS ? DOWNLOAD - o : MSS;

                lens[count] = peer_packet(seg_store[count], cport, pseq + (uint32_t)o, expect, 0x10,
                                          download + o, len, false);
                pkts[count] = seg_store[count];
        }
        while (done < count) {
                size_t len, used = tun_coalesce(pkts + done, lens + done, count - done, dev.offloads, rbuf,
                                                sizeof(rbuf), &len);

                g_assert_cmpuint(used, >, 0);
                g_assert_cmpint(write(dev.fd, rbuf, len), ==, (ssize_t)len);
                done += used;
                writes++;
        }
        g_test_message("download: %zu segments in %zu TUN writes", count, writes);
        if (dev.offloads & TUN_OFFLOAD_TSO4)
                g_assert_cmpuint(writes, <, count);
        while (off < DOWNLOAD) {
                struct pollfd rp = { .fd = s, .events = POLLIN };
                ssize_t r;

                g_assert_cmpint(poll(&rp, 1, 2000), ==, 1);
                r = recv(s, got + off, DOWNLOAD - off, 0);
                g_assert_cmpint(r, >, 0);
                off += (size_t)r;
        }
        g_assert_cmpmem(got, DOWNLOAD, download, DOWNLOAD);
        close(s);
        tun_device_close(&dev);
}

/* Without offloads the device still carries the virtio header, always GSO_NONE. */
static void test_tun_no_offloads(void)
{
        struct tun_device dev;

        if (kiln_test_skip_unless_root())
                return;
        g_assert_cmpint(unshare(CLONE_NEWNET), ==, 0);
        g_assert_cmpint(tun_device_open("kio%d", false, &dev), ==, 0);
        g_assert_true(dev.vnet_hdr);
        g_assert_cmpuint(dev.offloads, ==, 0);
        tun_device_close(&dev);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/io/tun-device/tcp-tso-split-and-gso-write", test_tun_tcp);
        g_test_add_func("/io/tun-device/no-offloads", test_tun_no_offloads);
        return g_test_run();
}
