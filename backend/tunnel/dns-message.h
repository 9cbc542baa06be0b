/* SPDX-License-Identifier: MIT */
/*
 * DNS messages (RFC 1035): a strict parser that follows name compression (pointers must point
 * backwards, at most 64 jumps and 255 bytes per name, so a pointer loop ends in a reject) and a builder without
 * compression.  Plain C: the stub resolver runs on the packet path.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KILN_DNS_TYPE_A         1
#define KILN_DNS_TYPE_CNAME     5
#define KILN_DNS_TYPE_PTR       12
#define KILN_DNS_TYPE_TXT       16
#define KILN_DNS_TYPE_AAAA      28
#define KILN_DNS_TYPE_SRV       33
#define KILN_DNS_TYPE_HTTPS     65
#define KILN_DNS_CLASS_IN       1

#define KILN_DNS_FLAG_QR        0x8000
#define KILN_DNS_FLAG_AA        0x0400
#define KILN_DNS_FLAG_TC        0x0200
#define KILN_DNS_FLAG_RD        0x0100
#define KILN_DNS_FLAG_RA        0x0080
#define KILN_DNS_RCODE_NOERROR  0
#define KILN_DNS_RCODE_FORMERR  1
#define KILN_DNS_RCODE_SERVFAIL 2
#define KILN_DNS_RCODE_NXDOMAIN 3
#define KILN_DNS_RCODE_REFUSED  5

/* Presentation form without the final dot, e.g. "www.example.com"; the root is "". */
#define KILN_DNS_NAME_MAX      254
#define KILN_DNS_MAX_QUESTIONS 4
#define KILN_DNS_MAX_ANSWERS   32
#define KILN_DNS_MAX_RECORDS   256 /* answers + authority + additional */
#define KILN_DNS_MESSAGE_MAX   65535

struct kiln_dns_question {
        char name[KILN_DNS_NAME_MAX + 1];
        uint16_t qtype, qclass;
};

struct kiln_dns_rr {
        char name[KILN_DNS_NAME_MAX + 1];
        uint16_t type, rclass;
        uint32_t ttl;
        const uint8_t *rdata; /* points into the parsed message */
        uint16_t rdlength;
        /* Decoded for the types we understand: */
        uint8_t addr[16];                   /* A (4 bytes), AAAA */
        char target[KILN_DNS_NAME_MAX + 1]; /* CNAME, PTR, SRV target, HTTPS target */
        uint16_t priority, weight, port;    /* SRV; HTTPS uses priority */
};

struct kiln_dns_message {
        uint16_t id, flags;
        uint16_t qdcount, ancount, nscount, arcount;
        struct kiln_dns_question questions[KILN_DNS_MAX_QUESTIONS];
        struct kiln_dns_rr answers[KILN_DNS_MAX_ANSWERS]; /* the first ones of the answer section */
        unsigned n_answers;
};

static inline uint8_t kiln_dns_rcode(const struct kiln_dns_message *m)
{
        return m->flags & 0x0f;
}

/* Parses msg[0..len); every record in every section is validated.  -EBADMSG on anything
 * malformed, -E2BIG over the limits above.  The message must outlive *ret (rdata pointers). */
int kiln_dns_parse(const uint8_t *msg, size_t len, struct kiln_dns_message *ret);

/* Case-insensitive comparison of two presentation names. */
bool kiln_dns_name_equal(const char *a, const char *b);

struct kiln_dns_builder {
        uint8_t *buf;
        size_t cap, len;
        uint16_t counts[4];
        int error; /* sticky: the first failure */
};

void kiln_dns_builder_init(struct kiln_dns_builder *b, uint8_t *buf, size_t cap, uint16_t id,
                           uint16_t flags);
void kiln_dns_add_question(struct kiln_dns_builder *b, const char *name, uint16_t qtype, uint16_t qclass);
/* Answer-section records; rdata is raw bytes. */
void kiln_dns_add_rr(struct kiln_dns_builder *b, const char *name, uint16_t type, uint32_t ttl,
                     const uint8_t *rdata, size_t rdlength);
/* A record whose rdata is a single domain name (CNAME, PTR). */
void kiln_dns_add_name_rr(struct kiln_dns_builder *b, const char *name, uint16_t type, uint32_t ttl,
                          const char *target);
/* Writes the counts; returns the message length or the sticky error. */
ssize_t kiln_dns_builder_finish(struct kiln_dns_builder *b);

/* A response to a query: same id and questions, QR|RA set, RD copied, the given rcode. */
void kiln_dns_builder_reply(struct kiln_dns_builder *b, uint8_t *buf, size_t cap,
                            const struct kiln_dns_message *q, uint8_t rcode);

/* DNS over TCP (RFC 1035 §4.2.2): a 2-byte big-endian length before every message. */
ssize_t kiln_dns_tcp_frame(const uint8_t *msg, size_t len, uint8_t *buf, size_t cap);
/* Given stream bytes, the length of the first complete framed message (without its prefix) in
 * *ret_len and its start in *ret_msg; returns the bytes consumed, 0 when more are needed. */
size_t kiln_dns_tcp_unframe(const uint8_t *stream, size_t len, const uint8_t **ret_msg, size_t *ret_len);
