/* csvbench: parse + validate + marshal one file through ingest, exactly as a worker does with
 * an S3 download, and discard the items. Prints one line of figures for bench/run:
 *   impl bytes rows valid rejected seconds MB/s rows/s peak_rss_kb
 * The pipeline comes from a real config file, so the benchmark measures the shipped schema. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/ingest.h"
#include "conf/config.h"

typedef struct Sink {
        uint64_t json_bytes;    /* touched so the items cannot be optimised away */
        uint64_t key_bytes;
        bool digest;            /* CSVBENCH_DIGEST set: hash every item and key */
        uint64_t hash;
} Sink;

/* FNV-1a over the items' JSON and keys, in order: two builds that print the same digest wrote
 * the same items (a check that a speed-up changed nothing). */
static uint64_t fnv(uint64_t h, const char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char) p[i]) * 0x100000001b3ull;
        return h;
}

static int on_item(void *userdata, const IngestItem *it) {
        Sink *s = userdata;

        s->json_bytes += it->json_len;
        s->key_bytes += it->key_len;
        if (s->digest)
                s->hash = fnv(fnv(fnv(fnv(s->hash, it->json, it->json_len), "", 1), it->key, it->key_len), "", 1);
        return 0;
}

static int on_reject(void *userdata, const IngestReject *r) {
        return 0;
}

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Peak RSS in KiB: VmHWM. Not getrusage's ru_maxrss, which Linux carries over from the
 * parent across fork and exec: a small process started by a large one reports the large one's
 * peak. -1 when /proc is not there. */
static long peak_rss_kb(void) {
        char line[256];
        long kb = -1;
        FILE *f = fopen("/proc/self/status", "re");

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
                        break;
        fclose(f);
        return kb;
}

int main(int argc, char **argv) {
        static const IngestCallbacks cb = { .on_item = on_item, .on_reject = on_reject };
        _cleanup_(config_unrefp) Config *cfg = NULL;
        _cleanup_(ingest_freep) Ingest *in = NULL;
        _cleanup_close_ int fd = -1;
        ConfigDiag diag = {};
        const PipelineSpec *p;
        size_t chunk_size = 64 * 1024;
        IngestStats st;
        S3bError err = {};
        Sink sink = { .digest = getenv("CSVBENCH_DIGEST") != NULL, .hash = 0xcbf29ce484222325ull };
        char *chunk;
        double t0, t;
        int r;

        if (argc < 4) {
                fprintf(stderr, "usage: csvbench CONFIG PIPELINE FILE [CHUNK_BYTES]\n");
                return 2;
        }
        if (argc > 4)
                chunk_size = strtoul(argv[4], NULL, 10);
        r = config_load(argv[1], &cfg, &diag);
        for (size_t i = 0; i < diag.n_lines; i++)
                fprintf(stderr, "%s\n", diag.lines[i]);
        config_diag_done(&diag);
        if (r < 0)
                return 1;
        p = config_find_pipeline_by_name(cfg, argv[2]);
        if (!p) {
                fprintf(stderr, "no pipeline '%s'\n", argv[2]);
                return 1;
        }
        fd = open(argv[3], O_RDONLY | O_CLOEXEC);
        chunk = malloc(chunk_size ? chunk_size : 1);
        if (fd < 0 || !chunk || chunk_size == 0) {
                fprintf(stderr, "%s: %s\n", argv[3], strerror(errno));
                return 1;
        }

        t0 = now();
        r = ingest_new(p, NULL, argv[3], &cb, &sink, &in, &err);
        while (r >= 0) {
                ssize_t n = read(fd, chunk, chunk_size);

                if (n <= 0) {
                        r = n < 0 ? -errno : ingest_finish(in, &st, &err);
                        break;
                }
                r = ingest_feed(in, chunk, (size_t) n, &err);
        }
        t = now() - t0;
        free(chunk);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", argv[3], err.message);
                return 1;
        }
        printf("c %llu %llu %llu %llu %.3f %.1f %.0f %ld\n", (unsigned long long) st.bytes_in,
               (unsigned long long) st.rows_total, (unsigned long long) st.rows_valid,
               (unsigned long long) st.rows_rejected, t, (double) st.bytes_in / 1e6 / t,
               (double) st.rows_total / t, peak_rss_kb());
        if (sink.digest)
                fprintf(stderr, "items digest %016llx\n", (unsigned long long) sink.hash);
        return sink.json_bytes > 0 ? 0 : 1;
}
