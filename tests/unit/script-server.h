/* A scripted HTTP/1.1 server in a thread, for the tests of the request path and the service
 * files: it answers each request with the next Answer of its script (keep-alive until the
 * script says close) and keeps the head and body of every request it saw, so a test can
 * assert what went on the wire. Loopback only, kernel-chosen port. */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SCRIPT 16
#define SCRIPT_HEAD_MAX 4096
#define SCRIPT_BODY_MAX 16384

typedef struct Answer {
        int status;                     /* 0: close the connection without answering */
        const char *headers;            /* extra header lines, each ending in \r\n */
        const char *body;
        /* > 0: send only this many bytes of body (Content-Length still says all of it), then
         * close: a transfer cut in the middle. */
        size_t cut;
        /* Content-Length of the answer to a HEAD (which has no body): the object's size. */
        uint64_t head_length;
} Answer;

typedef struct Server {
        int fd;
        unsigned port;
        pthread_t thread;
        Answer script[MAX_SCRIPT];
        size_t n_script, served;
        char requests[MAX_SCRIPT][SCRIPT_HEAD_MAX];     /* request head of each exchange */
        char bodies[MAX_SCRIPT][SCRIPT_BODY_MAX];       /* its body, cut to fit, NUL-ended */
} Server;

static inline ssize_t script_read_head(int c, char *buf, size_t n) {
        size_t len = 0;

        while (len + 1 < n) {
                ssize_t k = read(c, buf + len, 1);

                if (k <= 0)
                        return -1;
                len++;
                buf[len] = '\0';
                if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0)
                        return (ssize_t) len;
        }
        return -1;
}

static inline void script_read_body(int c, const char *head, char *body) {
        const char *cl = strcasestr(head, "\r\nContent-Length:");
        size_t left = cl ? strtoul(cl + 17, NULL, 10) : 0, kept = 0;
        char discard[4096];

        while (left > 0) {
                char *to = kept + 1 < SCRIPT_BODY_MAX ? body + kept : discard;
                size_t room = kept + 1 < SCRIPT_BODY_MAX ? SCRIPT_BODY_MAX - 1 - kept : sizeof(discard);
                ssize_t k = read(c, to, left < room ? left : room);

                if (k <= 0)
                        break;
                if (to != discard)
                        kept += (size_t) k;
                left -= (size_t) k;
        }
        body[kept] = '\0';
}

/* 0: keep the connection, < 0: close it. */
static inline int script_answer(int c, const char *head, const Answer *a) {
        const char *body = a->body ? a->body : "";
        size_t len = strlen(body), send_len = a->cut ? a->cut : len;
        bool is_head = strncmp(head, "HEAD ", 5) == 0;
        char out[SCRIPT_BODY_MAX + 4096];
        int n;

        if (a->status == 0)
                return -1;
        n = snprintf(out, sizeof(out), "HTTP/1.1 %d X\r\n%sContent-Length: %llu\r\n\r\n",
                     a->status, a->headers ? a->headers : "",
                     (unsigned long long) (is_head ? a->head_length : len));
        if (!is_head && send_len <= sizeof(out) - (size_t) n) {
                memcpy(out + n, body, send_len);
                n += (int) send_len;
        }
        if (write(c, out, (size_t) n) < 0)
                return -1;
        return a->cut ? -1 : 0;
}

static inline void *script_serve(void *userdata) {
        Server *s = userdata;

        while (s->served < s->n_script) {
                int c = accept(s->fd, NULL, NULL);

                if (c < 0)
                        return NULL;
                /* keep-alive: answer requests on this connection until the script says close */
                while (s->served < s->n_script) {
                        char *head = s->requests[s->served];

                        if (script_read_head(c, head, SCRIPT_HEAD_MAX) < 0)
                                break;
                        script_read_body(c, head, s->bodies[s->served]);
                        if (script_answer(c, head, &s->script[s->served++]) < 0)
                                break;
                }
                close(c);
        }
        return NULL;
}

static inline void server_start(Server *s) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);

        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s->fd >= 0);
        assert_int_equal(bind(s->fd, (struct sockaddr *) &a, sizeof(a)), 0);
        assert_int_equal(listen(s->fd, 8), 0);
        assert_int_equal(getsockname(s->fd, (struct sockaddr *) &a, &len), 0);
        s->port = ntohs(a.sin_port);
        assert_int_equal(pthread_create(&s->thread, NULL, script_serve, s), 0);
}

static inline void server_stop(Server *s) {
        shutdown(s->fd, SHUT_RDWR);
        pthread_join(s->thread, NULL);
        close(s->fd);
}

/* The value of header `name` in request head h (case-insensitive name), copied into buf;
 * NULL when absent. */
static inline const char *request_header(const char *h, const char *name, char *buf, size_t n) {
        char pat[128];
        const char *p, *end;

        snprintf(pat, sizeof(pat), "\r\n%s:", name);
        p = strcasestr(h, pat);
        if (!p)
                return NULL;
        p += strlen(pat);
        while (*p == ' ')
                p++;
        end = strstr(p, "\r\n");
        snprintf(buf, n, "%.*s", (int) (end ? end - p : (ptrdiff_t) strlen(p)), p);
        return buf;
}
