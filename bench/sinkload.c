/* sinkload: measures bench/sink's own ceiling. N connections (one thread each, blocking
 * sockets, keep-alive) send the same prebuilt 25-item BatchWriteItem — items shaped like the
 * reference table's rows — as fast as the answers come back, for S seconds.
 *
 *   sinkload PORT [CONNECTIONS=4] [SECONDS=5]
 *
 * Prints: connections seconds requests items items/s. As cheap a client as can be (no
 * signing, no JSON): whatever it costs is CPU the sink did not get on a shared machine, so
 * the figure is a floor of the sink's capacity, not a ceiling. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char request[16384];
static size_t request_len;
static unsigned port;
static atomic_bool stop;
static atomic_uint_fast64_t done;

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void build_request(void) {
        char body[12000];
        size_t n = 0;

        n += (size_t) snprintf(body + n, sizeof(body) - n, "{\"RequestItems\":{\"PRELIM_STUDENT_DATA\":[");
        for (int i = 0; i < 25; i++)
                n += (size_t) snprintf(body + n, sizeof(body) - n,
                                       "%s{\"PutRequest\":{\"Item\":{\"student_id\":{\"S\":\"A%05d\"},"
                                       "\"first_name\":{\"S\":\"First%d\"},\"last_name\":{\"S\":\"Last%d\"},"
                                       "\"course\":{\"S\":\"C0\"}}}}",
                                       i ? "," : "", i, i, i);
        n += (size_t) snprintf(body + n, sizeof(body) - n, "]}}");
        request_len = (size_t) snprintf(request, sizeof(request),
                                        "POST / HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                                        "Content-Type: application/x-amz-json-1.0\r\n"
                                        "X-Amz-Target: DynamoDB_20120810.BatchWriteItem\r\n"
                                        "Authorization: AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\n"
                                        "Content-Length: %zu\r\n\r\n%s",
                                        port, n, body);
}

static void *client(void *arg) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        char buf[65536];

        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0) {
                perror("sinkload: connect");
                exit(1);
        }
        while (!atomic_load(&stop)) {
                size_t have = 0, need = 0;

                if (write(fd, request, request_len) != (ssize_t) request_len) {
                        perror("sinkload: write");
                        exit(1);
                }
                for (;;) {
                        ssize_t n = read(fd, buf + have, sizeof(buf) - have - 1);
                        char *end, *cl;

                        if (n <= 0) {
                                fprintf(stderr, "sinkload: connection closed\n");
                                exit(1);
                        }
                        have += (size_t) n;
                        buf[have] = '\0';
                        end = strstr(buf, "\r\n\r\n");
                        if (!end)
                                continue;
                        if (!need) {
                                if (strncmp(buf, "HTTP/1.1 200", 12) != 0) {
                                        fprintf(stderr, "sinkload: %.*s\n", (int) have, buf);
                                        exit(1);
                                }
                                cl = strcasestr(buf, "Content-Length:");
                                need = (size_t) (end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
                        }
                        if (have >= need)
                                break;
                }
                atomic_fetch_add(&done, 1);
        }
        close(fd);
        return NULL;
}

int main(int argc, char **argv) {
        unsigned conns = argc > 2 ? (unsigned) atoi(argv[2]) : 4;
        double secs = argc > 3 ? atof(argv[3]) : 5, t0, t1;
        pthread_t th[256];
        uint64_t n;

        if (argc < 2 || conns < 1 || conns > 256) {
                fprintf(stderr, "usage: sinkload PORT [CONNECTIONS] [SECONDS]\n");
                return 2;
        }
        port = (unsigned) atoi(argv[1]);
        build_request();
        t0 = now();
        for (unsigned i = 0; i < conns; i++)
                pthread_create(&th[i], NULL, client, NULL);
        while (now() - t0 < secs)
                usleep(10000);
        atomic_store(&stop, true);
        for (unsigned i = 0; i < conns; i++)
                pthread_join(th[i], NULL);
        t1 = now();
        n = atomic_load(&done);
        printf("%u %.2f %lu %lu %.0f\n", conns, t1 - t0, (unsigned long) n, (unsigned long) n * 25,
               (double) n * 25 / (t1 - t0));
        return 0;
}
