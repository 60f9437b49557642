/* The bench servers' (sink, s3synth) one way to listen: TCP on 127.0.0.1 only, the port the
 * kernel chose written to a ports file atomically (written to F.tmp, renamed), so a bench that
 * waits for the file never reads half a number. Header-only: bench/ has no library. */
#pragma once

#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

/* A listening socket on 127.0.0.1:port (0: any), its flags added to SOCK_STREAM
 * (SOCK_NONBLOCK…); *ret_port is the port it got. -1 with a message on stderr. */
static inline int bench_listen(const char *who, unsigned port, int flags, int backlog, unsigned *ret_port) {
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                    .sin_port = htons((uint16_t) port) };
        socklen_t alen = sizeof(addr);
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);

        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 || listen(fd, backlog) < 0 ||
            getsockname(fd, (struct sockaddr *) &addr, &alen) < 0) {
                fprintf(stderr, "%s: listen: %m\n", who);
                return -1;
        }
        *ret_port = ntohs(addr.sin_port);
        return fd;
}

/* Writes port to path (NULL: nothing to do). -1 with a message on stderr. */
static inline int bench_write_ports_file(const char *who, const char *path, unsigned port) {
        char tmp[4096];
        FILE *f;

        if (!path)
                return 0;
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        f = fopen(tmp, "w");
        if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
                fprintf(stderr, "%s: ports file: %m\n", who);
                return -1;
        }
        return 0;
}
