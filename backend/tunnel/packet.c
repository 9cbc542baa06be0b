/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/packet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#define IPV6_MAX_EXT_HEADERS 8

static uint16_t rd16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
        wr16(p, (uint16_t)(v >> 16));
        wr16(p + 2, (uint16_t)v);
}

uint32_t kiln_csum_add(uint32_t sum, const void *data, size_t len)
{
        const uint8_t *p = data;
        uint64_t s = sum;

        for (; len >= 2; p += 2, len -= 2)
                s += rd16(p);
        if (len)
                s += (uint32_t)p[0] << 8;
        while (s >> 32)
                s = (s & 0xffffffff) + (s >> 32);
        return (uint32_t)s;
}

uint16_t kiln_csum_fold(uint32_t sum)
{
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t)~sum;
}

static bool is_icmp_error(uint8_t version, uint8_t type)
{
        if (version == 4)
                return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
        return type < 128;
}

static void fill_l4(struct kiln_packet *p, bool embedded)
{
        if (p->later_fragment)
                return;
        if (p->proto == KILN_IPPROTO_UDP || p->proto == KILN_IPPROTO_TCP) {
                if (p->l4_len < 8)
                        return;
                p->sport = rd16(p->l4);
                p->dport = rd16(p->l4 + 2);
                p->has_ports = true;
                if (p->proto == KILN_IPPROTO_TCP && p->l4_len >= 14)
                        p->tcp_flags = p->l4[13];
        } else if ((p->version == 4 && p->proto == KILN_IPPROTO_ICMP) ||
                   (p->version == 6 && p->proto == KILN_IPPROTO_ICMPV6)) {
                if (p->l4_len < 8)
                        return;
                p->is_icmp = true;
                p->icmp_type = p->l4[0];
                p->icmp_code = p->l4[1];
                p->icmp_error = is_icmp_error(p->version, p->icmp_type);
                bool echo = p->version == 4 ? (p->icmp_type == 8 || p->icmp_type == 0)
                                            : (p->icmp_type == 128 || p->icmp_type == 129);
                if (echo)
                        p->icmp_id = rd16(p->l4 + 4);
        }
        (void)embedded;
}

/* embedded: the IP length fields may exceed the bytes we have (ICMP errors carry a prefix). */
static int parse(const uint8_t *data, size_t len, bool embedded, struct kiln_packet *ret)
{
        struct kiln_packet p = { .data = data };

        if (len < 1)
                return -EBADMSG;
        p.version = data[0] >> 4;
        if (p.version == 4) {
                if (len < 20)
                        return -EBADMSG;
                size_t ihl = (size_t)(data[0] & 0x0f) * 4;
                size_t total = rd16(data + 2);
                if (ihl < 20 || ihl > len || total < ihl)
                        return -EBADMSG;
                if (!embedded) {
                        if (total > len)
                                return -EBADMSG;
                        if (kiln_csum_fold(kiln_csum_add(0, data, ihl)) != 0)
                                return -EBADMSG;
                } else if (total > len) {
                        total = len;
                }
                p.len = total;
                p.ttl = data[8];
                p.proto = data[9];
                p.src.family = p.dst.family = 4;
                memcpy(p.src.bytes, data + 12, 4);
                memcpy(p.dst.bytes, data + 16, 4);
                uint16_t frag = rd16(data + 6);
                p.fragment = (frag & 0x2000) || (frag & 0x1fff);
                p.later_fragment = (frag & 0x1fff) != 0;
                p.l3_len = ihl;
        } else if (p.version == 6) {
                if (len < 40)
                        return -EBADMSG;
                size_t total = 40 + (size_t)rd16(data + 4);
                if (!embedded) {
                        if (total > len)
                                return -EBADMSG;
                } else if (total > len) {
                        total = len;
                }
                p.len = total;
                p.ttl = data[7];
                p.src.family = p.dst.family = 6;
                memcpy(p.src.bytes, data + 8, 16);
                memcpy(p.dst.bytes, data + 24, 16);
                uint8_t next = data[6];
                size_t off = 40;
                for (int n = 0;; n++) {
                        if (next != 0 && next != 43 && next != 44 && next != 60)
                                break;
                        if (n >= IPV6_MAX_EXT_HEADERS || off + 8 > total)
                                return -EBADMSG;
                        size_t hlen;
                        if (next == 44) {
                                uint16_t fo = rd16(data + off + 2);
                                p.fragment = true;
                                p.later_fragment = (fo >> 3) != 0;
                                hlen = 8;
                        } else {
                                hlen = ((size_t)data[off + 1] + 1) * 8;
                        }
                        if (off + hlen > total)
                                return -EBADMSG;
                        next = data[off];
                        off += hlen;
                }
                p.proto = next;
                p.l3_len = off;
        } else {
                return -EBADMSG;
        }
        p.l4 = data + p.l3_len;
        p.l4_len = p.len - p.l3_len;
        if (!embedded && !p.later_fragment) {
                if (p.proto == KILN_IPPROTO_UDP) {
                        if (p.l4_len < 8)
                                return -EBADMSG;
                        size_t ulen = rd16(p.l4 + 4);
                        if (!p.fragment && ulen != p.l4_len)
                                return -EBADMSG;
                } else if (p.proto == KILN_IPPROTO_TCP) {
                        if (p.l4_len < 20)
                                return -EBADMSG;
                        size_t doff = (size_t)(p.l4[12] >> 4) * 4;
                        if (doff < 20 || doff > p.l4_len)
                                return -EBADMSG;
                } else if ((p.version == 4 && p.proto == KILN_IPPROTO_ICMP) ||
                           (p.version == 6 && p.proto == KILN_IPPROTO_ICMPV6)) {
                        if (p.l4_len < 8)
                                return -EBADMSG;
                }
        }
        fill_l4(&p, embedded);
        *ret = p;
        return 0;
}

int kiln_packet_parse(const uint8_t *data, size_t len, struct kiln_packet *ret)
{
        return parse(data, len, false, ret);
}

int kiln_packet_parse_embedded(const uint8_t *data, size_t len, struct kiln_packet *ret)
{
        return parse(data, len, true, ret);
}

static uint32_t pseudo_header(const struct kiln_packet *p, size_t l4_len)
{
        uint8_t tail[8] = { 0 };
        uint32_t sum;

        if (p->version == 4) {
                sum = kiln_csum_add(0, p->src.bytes, 4);
                sum = kiln_csum_add(sum, p->dst.bytes, 4);
                tail[1] = p->proto;
                wr16(tail + 2, (uint16_t)l4_len);
                return kiln_csum_add(sum, tail, 4);
        }
        sum = kiln_csum_add(0, p->src.bytes, 16);
        sum = kiln_csum_add(sum, p->dst.bytes, 16);
        wr32(tail, (uint32_t)l4_len);
        tail[7] = p->proto;
        return kiln_csum_add(sum, tail, 8);
}

/* Offset of the checksum field inside the L4 header, or -1 for protocols we do not know. */
static int l4_csum_offset(const struct kiln_packet *p)
{
        switch (p->proto) {
        case KILN_IPPROTO_TCP:
                return 16;
        case KILN_IPPROTO_UDP:
                return 6;
        case KILN_IPPROTO_ICMP:
                return p->version == 4 ? 2 : -1;
        case KILN_IPPROTO_ICMPV6:
                return p->version == 6 ? 2 : -1;
        default:
                return -1;
        }
}

static uint32_t l4_sum(const struct kiln_packet *p)
{
        uint32_t sum = 0;
        if (!(p->version == 4 && p->proto == KILN_IPPROTO_ICMP))
                sum = pseudo_header(p, p->l4_len);
        return kiln_csum_add(sum, p->l4, p->l4_len);
}

int kiln_packet_fix_checksums(uint8_t *data, size_t len)
{
        struct kiln_packet p;
        int r = kiln_packet_parse_embedded(data, len, &p);
        if (r < 0)
                return r;
        if (p.fragment || p.len != len)
                return -EINVAL;
        if (p.version == 4) {
                data[10] = data[11] = 0;
                wr16(data + 10, kiln_csum_fold(kiln_csum_add(0, data, p.l3_len)));
        }
        int off = l4_csum_offset(&p);
        if (off < 0 || p.l4_len < (size_t)off + 2)
                return 0;
        uint8_t *l4 = data + p.l3_len;
        l4[off] = l4[off + 1] = 0;
        uint16_t c = kiln_csum_fold(l4_sum(&p));
        if (c == 0 && p.proto == KILN_IPPROTO_UDP)
                c = 0xffff;
        wr16(l4 + off, c);
        return 0;
}

bool kiln_packet_checksums_ok(const uint8_t *data, size_t len)
{
        struct kiln_packet p;
        if (kiln_packet_parse(data, len, &p) < 0 || p.fragment)
                return false;
        int off = l4_csum_offset(&p);
        if (off < 0)
                return true;
        if (p.proto == KILN_IPPROTO_UDP && p.version == 4 && rd16(p.l4 + 6) == 0)
                return true; /* checksum disabled (IPv4 only) */
        return kiln_csum_fold(l4_sum(&p)) == 0;
}

static size_t ip_header_len(uint8_t family)
{
        return family == 4 ? 20 : 40;
}

static void write_ip_header(uint8_t *buf, const struct kiln_ip_addr *src, const struct kiln_ip_addr *dst,
                            uint8_t proto, uint8_t ttl, size_t l4_len)
{
        if (src->family == 4) {
                memset(buf, 0, 20);
                buf[0] = 0x45;
                wr16(buf + 2, (uint16_t)(20 + l4_len));
                wr16(buf + 6, 0x4000); /* DF */
                buf[8] = ttl;
                buf[9] = proto;
                memcpy(buf + 12, src->bytes, 4);
                memcpy(buf + 16, dst->bytes, 4);
        } else {
                memset(buf, 0, 40);
                buf[0] = 0x60;
                wr16(buf + 4, (uint16_t)l4_len);
                buf[6] = proto;
                buf[7] = ttl;
                memcpy(buf + 8, src->bytes, 16);
                memcpy(buf + 24, dst->bytes, 16);
        }
}

ssize_t kiln_packet_build(const struct kiln_packet_spec *s, uint8_t *buf, size_t cap)
{
        size_t hdr;

        if ((s->src.family != 4 && s->src.family != 6) || s->src.family != s->dst.family)
                return -EINVAL;
        switch (s->proto) {
        case KILN_IPPROTO_TCP:
                hdr = 20;
                break;
        case KILN_IPPROTO_UDP:
        case KILN_IPPROTO_ICMP:
        case KILN_IPPROTO_ICMPV6:
                hdr = 8;
                break;
        default:
                return -EINVAL;
        }
        if ((s->proto == KILN_IPPROTO_ICMP && s->src.family != 4) ||
            (s->proto == KILN_IPPROTO_ICMPV6 && s->src.family != 6))
                return -EINVAL;
        size_t l3 = ip_header_len(s->src.family);
        size_t l4_len = hdr + s->payload_len;
        if (l3 + l4_len > 65535 || (s->src.family == 6 && l4_len > 65535) || l3 + l4_len > cap)
                return -ENOBUFS;
        write_ip_header(buf, &s->src, &s->dst, s->proto, s->ttl ? s->ttl : 64, l4_len);
        uint8_t *l4 = buf + l3;
        memset(l4, 0, hdr);
        if (s->proto == KILN_IPPROTO_TCP) {
                wr16(l4, s->sport);
                wr16(l4 + 2, s->dport);
                wr32(l4 + 4, s->tcp_seq);
                wr32(l4 + 8, s->tcp_ack);
                l4[12] = 5 << 4;
                l4[13] = s->tcp_flags;
                wr16(l4 + 14, 65535);
        } else if (s->proto == KILN_IPPROTO_UDP) {
                wr16(l4, s->sport);
                wr16(l4 + 2, s->dport);
                wr16(l4 + 4, (uint16_t)l4_len);
        } else {
                l4[0] = s->icmp_type;
                l4[1] = s->icmp_code;
                wr16(l4 + 4, s->icmp_id);
                wr16(l4 + 6, s->icmp_seq);
        }
        if (s->payload_len)
                memcpy(l4 + hdr, s->payload, s->payload_len);
        size_t total = l3 + l4_len;
        int r = kiln_packet_fix_checksums(buf, total);
        if (r < 0)
                return r;
        return (ssize_t)total;
}

ssize_t kiln_packet_icmp_unreachable(const uint8_t *orig, size_t orig_len, enum kiln_icmp_unreachable kind,
                                     uint8_t *buf, size_t cap)
{
        struct kiln_packet p;
        int r = kiln_packet_parse(orig, orig_len, &p);
        if (r < 0)
                return r;
        if (p.icmp_error)
                return -EINVAL;
        size_t quote = p.l3_len + 8;
        if (quote > p.len)
                quote = p.len;
        struct kiln_packet_spec s = {
                .src = p.dst,
                .dst = p.src,
                .ttl = 20,
                .payload = orig,
                .payload_len = quote,
        };
        if (p.version == 4) {
                s.proto = KILN_IPPROTO_ICMP;
                s.icmp_type = 3;
                s.icmp_code = kind == KILN_ICMP_PROHIBITED ? 13 : 0;
        } else {
                s.proto = KILN_IPPROTO_ICMPV6;
                s.icmp_type = 1;
                s.icmp_code = kind == KILN_ICMP_PROHIBITED ? 1 : 3;
        }
        return kiln_packet_build(&s, buf, cap);
}

int kiln_packet_rewrite(uint8_t *data, size_t len, const struct kiln_ip_addr *src,
                        const struct kiln_ip_addr *dst, int sport, int dport)
{
        struct kiln_packet p;
        int r = kiln_packet_parse_embedded(data, len, &p);
        if (r < 0)
                return r;
        if (p.fragment || p.len != len)
                return -EINVAL;
        if ((src && src->family != p.version) || (dst && dst->family != p.version))
                return -EINVAL;
        size_t alen = p.version == 4 ? 4 : 16;
        size_t soff = p.version == 4 ? 12 : 8;
        size_t doff = p.version == 4 ? 16 : 24;
        if (src)
                memcpy(data + soff, src->bytes, alen);
        if (dst)
                memcpy(data + doff, dst->bytes, alen);
        uint8_t *l4 = data + p.l3_len;
        if (p.has_ports) {
                if (sport >= 0)
                        wr16(l4, (uint16_t)sport);
                if (dport >= 0)
                        wr16(l4 + 2, (uint16_t)dport);
        } else if (p.is_icmp && !p.icmp_error) {
                /* Echo: the identifier plays the port on both sides. */
                int id = sport >= 0 ? sport : dport;
                if (id >= 0)
                        wr16(l4 + 4, (uint16_t)id);
        }
        return kiln_packet_fix_checksums(data, len);
}

void kiln_ip_addr_v4(struct kiln_ip_addr *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
        memset(a, 0, sizeof(*a));
        a->family = 4;
        a->bytes[0] = b0;
        a->bytes[1] = b1;
        a->bytes[2] = b2;
        a->bytes[3] = b3;
}

int kiln_ip_addr_parse(const char *s, struct kiln_ip_addr *ret)
{
        struct kiln_ip_addr a = { 0 };
        if (inet_pton(AF_INET, s, a.bytes) == 1) {
                a.family = 4;
        } else if (inet_pton(AF_INET6, s, a.bytes) == 1) {
                a.family = 6;
        } else {
                return -EINVAL;
        }
        *ret = a;
        return 0;
}

const char *kiln_ip_addr_format(const struct kiln_ip_addr *a, char *buf, size_t cap)
{
        if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->bytes, buf, (socklen_t)cap))
                return "?";
        return buf;
}

bool kiln_ip_addr_equal(const struct kiln_ip_addr *a, const struct kiln_ip_addr *b)
{
        return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

bool kiln_ip_addr_in_prefix(const struct kiln_ip_addr *a, const struct kiln_ip_addr *net, unsigned prefix)
{
        if (a->family != net->family)
                return false;
        unsigned full = prefix / 8, rest = prefix % 8;
        if (memcmp(a->bytes, net->bytes, full) != 0)
                return false;
        if (rest == 0)
                return true;
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        return (a->bytes[full] & mask) == (net->bytes[full] & mask);
}

int kiln_ip_prefix_parse(const char *s, struct kiln_ip_addr *ret_net, unsigned *ret_prefix)
{
        char tmp[64];
        const char *slash = strchr(s, '/');
        size_t alen = slash ? (size_t)(slash - s) : strlen(s);
        struct kiln_ip_addr a;

        if (alen == 0 || alen >= sizeof(tmp))
                return -EINVAL;
        memcpy(tmp, s, alen);
        tmp[alen] = 0;
        if (kiln_ip_addr_parse(tmp, &a) < 0)
                return -EINVAL;
        unsigned max = a.family == 4 ? 32 : 128, prefix = max;
        if (slash) {
                const char *d = slash + 1;
                if (!*d || strlen(d) > 3)
                        return -EINVAL;
                prefix = 0;
                for (; *d; d++) {
                        if (*d < '0' || *d > '9')
                                return -EINVAL;
                        prefix = prefix * 10 + (unsigned)(*d - '0');
                }
                if (prefix > max)
                        return -EINVAL;
        }
        for (unsigned bit = prefix; bit < max; bit++)
                if (a.bytes[bit / 8] & (0x80 >> (bit % 8)))
                        return -EINVAL;
        *ret_net = a;
        *ret_prefix = prefix;
        return 0;
}
