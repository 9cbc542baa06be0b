/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/dns-message.h"

#include <errno.h>
#include <string.h>

#define MAX_POINTER_JUMPS 64

static uint16_t rd16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
        return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

/* Reads the name at *off; advances *off past it in the original position (a pointer counts
 * two bytes).  A pointer must go strictly before the label that contains it. */
static int read_name(const uint8_t *msg, size_t len, size_t *off, char out[static KILN_DNS_NAME_MAX + 1])
{
        size_t pos = *off, out_len = 0, wire_len = 1, end = 0;
        int jumps = 0;

        for (;;) {
                if (pos >= len)
                        return -EBADMSG;
                uint8_t l = msg[pos];
                if ((l & 0xc0) == 0xc0) {
                        if (pos + 1 >= len || ++jumps > MAX_POINTER_JUMPS)
                                return -EBADMSG;
                        size_t target = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
                        if (target >= pos)
                                return -EBADMSG;
                        if (!end)
                                end = pos + 2;
                        pos = target;
                        continue;
                }
                if (l & 0xc0)
                        return -EBADMSG; /* 0x40/0x80: extended label types are not used */
                if (l == 0) {
                        if (!end)
                                end = pos + 1;
                        break;
                }
                if (pos + 1 + l > len)
                        return -EBADMSG;
                wire_len += 1 + (size_t)l;
                if (wire_len > 255)
                        return -EBADMSG;
                if (out_len)
                        out[out_len++] = '.';
                for (size_t i = 0; i < l; i++) {
                        char c = (char)msg[pos + 1 + i];
                        /* Dots and NULs inside a label cannot be represented in our text form. */
                        if (c == '.' || c == '\0')
                                return -EBADMSG;
                        out[out_len++] = c;
                }
                pos += 1 + (size_t)l;
        }
        out[out_len] = 0;
        *off = end;
        return 0;
}

static int read_rr(const uint8_t *msg, size_t len, size_t *off, struct kiln_dns_rr *rr)
{
        int r = read_name(msg, len, off, rr->name);
        if (r < 0)
                return r;
        if (*off + 10 > len)
                return -EBADMSG;
        const uint8_t *p = msg + *off;
        rr->type = rd16(p);
        rr->rclass = rd16(p + 2);
        rr->ttl = rd32(p + 4);
        rr->rdlength = rd16(p + 8);
        *off += 10;
        if (*off + rr->rdlength > len)
                return -EBADMSG;
        rr->rdata = msg + *off;
        size_t rd = *off, rd_end = *off + rr->rdlength;
        rr->target[0] = 0;
        switch (rr->type) {
        case KILN_DNS_TYPE_A:
                if (rr->rdlength != 4)
                        return -EBADMSG;
                memcpy(rr->addr, rr->rdata, 4);
                break;
        case KILN_DNS_TYPE_AAAA:
                if (rr->rdlength != 16)
                        return -EBADMSG;
                memcpy(rr->addr, rr->rdata, 16);
                break;
        case KILN_DNS_TYPE_CNAME:
        case KILN_DNS_TYPE_PTR:
                r = read_name(msg, rd_end, &rd, rr->target);
                if (r < 0 || rd != rd_end)
                        return -EBADMSG;
                break;
        case KILN_DNS_TYPE_SRV:
                if (rr->rdlength < 7)
                        return -EBADMSG;
                rr->priority = rd16(rr->rdata);
                rr->weight = rd16(rr->rdata + 2);
                rr->port = rd16(rr->rdata + 4);
                rd += 6;
                r = read_name(msg, rd_end, &rd, rr->target);
                if (r < 0 || rd != rd_end)
                        return -EBADMSG;
                break;
        case KILN_DNS_TYPE_TXT: {
                /* One or more character-strings that exactly fill the rdata. */
                if (rr->rdlength == 0)
                        return -EBADMSG;
                size_t i = 0;
                while (i < rr->rdlength)
                        i += 1 + (size_t)rr->rdata[i];
                if (i != rr->rdlength)
                        return -EBADMSG;
                break;
        }
        case KILN_DNS_TYPE_HTTPS: {
                /* SvcPriority, uncompressed TargetName (RFC 9460 §2.2), then SvcParams we keep raw. */
                if (rr->rdlength < 3)
                        return -EBADMSG;
                rr->priority = rd16(rr->rdata);
                size_t i = 2;
                while (i < rr->rdlength && rr->rdata[i] != 0) {
                        if (rr->rdata[i] & 0xc0)
                                return -EBADMSG;
                        i += 1 + (size_t)rr->rdata[i];
                }
                if (i >= rr->rdlength)
                        return -EBADMSG;
                rd += 2;
                r = read_name(msg, rd_end, &rd, rr->target);
                if (r < 0)
                        return -EBADMSG;
                break;
        }
        default:
                break;
        }
        *off = rd_end;
        return 0;
}

int kiln_dns_parse(const uint8_t *msg, size_t len, struct kiln_dns_message *ret)
{
        struct kiln_dns_rr scratch; /* records we validate but do not keep */
        struct kiln_dns_message *m = ret;
        size_t off = 12;
        int r;

        if (len < 12 || len > KILN_DNS_MESSAGE_MAX)
                return -EBADMSG;
        uint16_t id = rd16(msg), flags = rd16(msg + 2);
        uint16_t qd = rd16(msg + 4), an = rd16(msg + 6), ns = rd16(msg + 8), ar = rd16(msg + 10);
        if (qd > KILN_DNS_MAX_QUESTIONS || (size_t)an + ns + ar > KILN_DNS_MAX_RECORDS)
                return -E2BIG;
        /* Parse into a local copy so a reject leaves *ret untouched. */
        struct kiln_dns_message tmp;
        memset(&tmp.questions, 0, sizeof(tmp.questions));
        for (unsigned i = 0; i < qd; i++) {
                struct kiln_dns_question *q = &tmp.questions[i];
                r = read_name(msg, len, &off, q->name);
                if (r < 0)
                        return r;
                if (off + 4 > len)
                        return -EBADMSG;
                q->qtype = rd16(msg + off);
                q->qclass = rd16(msg + off + 2);
                off += 4;
        }
        tmp.n_answers = 0;
        for (unsigned i = 0; i < (unsigned)an + ns + ar; i++) {
                struct kiln_dns_rr *rr = &scratch;
                if (i < an && i < KILN_DNS_MAX_ANSWERS)
                        rr = &tmp.answers[tmp.n_answers++];
                r = read_rr(msg, len, &off, rr);
                if (r < 0)
                        return r;
        }
        if (off != len)
                return -EBADMSG;
        tmp.id = id;
        tmp.flags = flags;
        tmp.qdcount = qd;
        tmp.ancount = an;
        tmp.nscount = ns;
        tmp.arcount = ar;
        *m = tmp;
        return 0;
}

bool kiln_dns_name_equal(const char *a, const char *b)
{
        for (;; a++, b++) {
                char x = *a, y = *b;
                if (x >= 'A' && x <= 'Z')
                        x = (char)(x - 'A' + 'a');
                if (y >= 'A' && y <= 'Z')
                        y = (char)(y - 'A' + 'a');
                if (x != y)
                        return false;
                if (!x)
                        return true;
        }
}

static void put(struct kiln_dns_builder *b, const void *data, size_t len)
{
        if (b->error)
                return;
        if (len > b->cap - b->len) {
                b->error = -ENOBUFS;
                return;
        }
        memcpy(b->buf + b->len, data, len);
        b->len += len;
}

static void put16(struct kiln_dns_builder *b, uint16_t v)
{
        uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };
        put(b, x, 2);
}

static void put32(struct kiln_dns_builder *b, uint32_t v)
{
        put16(b, (uint16_t)(v >> 16));
        put16(b, (uint16_t)v);
}

static void put_name(struct kiln_dns_builder *b, const char *name)
{
        size_t total = 1;
        while (*name) {
                const char *dot = strchr(name, '.');
                size_t l = dot ? (size_t)(dot - name) : strlen(name);
                total += l + 1;
                if (l == 0 || l > 63 || total > 255) {
                        if (!b->error)
                                b->error = -EINVAL;
                        return;
                }
                uint8_t lb = (uint8_t)l;
                put(b, &lb, 1);
                put(b, name, l);
                name += l;
                if (*name == '.')
                        name++;
        }
        put(b, "", 1);
}

void kiln_dns_builder_init(struct kiln_dns_builder *b, uint8_t *buf, size_t cap, uint16_t id, uint16_t flags)
{
        *b = (struct kiln_dns_builder){ .buf = buf, .cap = cap };
        put16(b, id);
        put16(b, flags);
        put(b, "\0\0\0\0\0\0\0\0", 8);
}

static void count(struct kiln_dns_builder *b, unsigned section)
{
        if (b->counts[section] == UINT16_MAX && !b->error)
                b->error = -E2BIG;
        b->counts[section]++;
}

void kiln_dns_add_question(struct kiln_dns_builder *b, const char *name, uint16_t qtype, uint16_t qclass)
{
        if (b->counts[1] && !b->error)
                b->error = -EINVAL; /* questions come first */
        put_name(b, name);
        put16(b, qtype);
        put16(b, qclass);
        count(b, 0);
}

void kiln_dns_add_rr(struct kiln_dns_builder *b, const char *name, uint16_t type, uint32_t ttl,
                     const uint8_t *rdata, size_t rdlength)
{
        if (rdlength > UINT16_MAX && !b->error)
                b->error = -EINVAL;
        put_name(b, name);
        put16(b, type);
        put16(b, KILN_DNS_CLASS_IN);
        put32(b, ttl);
        put16(b, (uint16_t)rdlength);
        put(b, rdata, rdlength);
        count(b, 1);
}

void kiln_dns_add_name_rr(struct kiln_dns_builder *b, const char *name, uint16_t type, uint32_t ttl,
                          const char *target)
{
        put_name(b, name);
        put16(b, type);
        put16(b, KILN_DNS_CLASS_IN);
        put32(b, ttl);
        size_t at = b->len;
        put16(b, 0);
        put_name(b, target);
        if (!b->error) {
                size_t rdlen = b->len - at - 2;
                b->buf[at] = (uint8_t)(rdlen >> 8);
                b->buf[at + 1] = (uint8_t)rdlen;
        }
        count(b, 1);
}

ssize_t kiln_dns_builder_finish(struct kiln_dns_builder *b)
{
        if (b->error)
                return b->error;
        for (unsigned i = 0; i < 4; i++) {
                b->buf[4 + 2 * i] = (uint8_t)(b->counts[i] >> 8);
                b->buf[5 + 2 * i] = (uint8_t)b->counts[i];
        }
        return (ssize_t)b->len;
}

void kiln_dns_builder_reply(struct kiln_dns_builder *b, uint8_t *buf, size_t cap,
                            const struct kiln_dns_message *q, uint8_t rcode)
{
        uint16_t flags =
            KILN_DNS_FLAG_QR | KILN_DNS_FLAG_RA | (q->flags & (KILN_DNS_FLAG_RD | 0x7800)) | (rcode & 0x0f);
        kiln_dns_builder_init(b, buf, cap, q->id, flags);
        for (unsigned i = 0; i < q->qdcount; i++)
                kiln_dns_add_question(b, q->questions[i].name, q->questions[i].qtype,
                                      q->questions[i].qclass);
}

ssize_t kiln_dns_tcp_frame(const uint8_t *msg, size_t len, uint8_t *buf, size_t cap)
{
        if (len > UINT16_MAX)
                return -EINVAL;
        if (len + 2 > cap)
                return -ENOBUFS;
        memmove(buf + 2, msg, len);
        buf[0] = (uint8_t)(len >> 8);
        buf[1] = (uint8_t)len;
        return (ssize_t)(len + 2);
}

size_t kiln_dns_tcp_unframe(const uint8_t *stream, size_t len, const uint8_t **ret_msg, size_t *ret_len)
{
        if (len < 2)
                return 0;
        size_t l = rd16(stream);
        if (len < 2 + l)
                return 0;
        *ret_msg = stream + 2;
        *ret_len = l;
        return 2 + l;
}
