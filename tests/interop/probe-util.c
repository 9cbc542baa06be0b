/* SPDX-License-Identifier: MIT */
#include "tests/interop/probe-util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

uint64_t probe_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int probe_parse_hostport(struct ice_addr *ret, const char *s)
{
        char ip[64];
        const char *colon = strrchr(s, ':');
        size_t n;

        if (!colon)
                return -EINVAL;
        n = (size_t)(colon - s);
        if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {
                s++;
                n -= 2;
        }
        if (n >= sizeof(ip))
                return -EINVAL;
        memcpy(ip, s, n);
        ip[n] = '\0';
        return ice_addr_from_ip_string(ret, ip, (uint16_t)atoi(colon + 1));
}

int probe_open_socket(const struct ice_addr *bind_addr)
{
        struct sockaddr_storage ss;
        socklen_t len = ice_addr_to_sockaddr(bind_addr, &ss);
        int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
                perror("socket/bind");
                exit(1);
        }
        return fd;
}

void probe_send(int fd, const struct ice_transmit *t)
{
        struct sockaddr_storage ss;
        socklen_t len = ice_addr_to_sockaddr(&t->dst, &ss);

        if (sendto(fd, t->data, t->len, 0, (struct sockaddr *)&ss, len) < 0 && errno != EAGAIN)
                fprintf(stderr, "sendto: %s\n", strerror(errno));
}

ssize_t probe_recv(int fd, uint8_t *buf, size_t cap, struct ice_addr *from)
{
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&ss, &len);

        if (n >= 0 && ice_addr_from_sockaddr(from, (struct sockaddr *)&ss, len) < 0)
                return -1;
        return n;
}

int probe_poll_ms(uint64_t deadline, uint64_t now)
{
        if (deadline <= now)
                return 0;
        if (deadline - now > ICE_S(1))
                return 1000;
        return (int)((deadline - now + 999999) / 1000000);
}

void probe_read_candidates(const char *path, long *offset,
                           void (*fn)(void *userdata, const char *sdp, bool withdraw), void *userdata)
{
        FILE *f = fopen(path, "r");
        char line[512];

        if (!f)
                return;
        if (fseek(f, *offset, SEEK_SET) == 0)
                while (fgets(line, sizeof(line), f)) {
                        size_t n = strlen(line);
                        const char *sdp = line;
                        bool withdraw = false;

                        if (n == 0 || line[n - 1] != '\n')
                                break;
                        *offset += (long)n;
                        line[--n] = '\0';
                        if (n > 0 && line[n - 1] == '\r')
                                line[--n] = '\0';
                        if (sdp[0] == '-') {
                                withdraw = true;
                                sdp++;
                        }
                        if (strncmp(sdp, "a=", 2) == 0)
                                sdp += 2;
                        fn(userdata, sdp, withdraw);
                }
        fclose(f);
}
