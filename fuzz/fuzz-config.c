/* Fuzz target: the whole config path (YAML tree with positions, every check, diagnostics
 * formatting) on arbitrary bytes. Must never crash, leak or run long. A config that loads
 * must also survive its own dump: config_dump() output loads back and dumps identically. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dump(const Config *c, size_t *len) {
        char *s = NULL;
        FILE *f = open_memstream(&s, len);

        if (!f)
                return NULL;
        config_dump(c, f);
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

static void round_trip(const Config *c) {
        _cleanup_(config_unrefp) Config *again = NULL;
        _cleanup_free_ char *first = NULL, *second = NULL;
        ConfigDiag d = {};
        size_t n1 = 0, n2 = 0;

        first = dump(c, &n1);
        if (!first)
                return;
        if (config_load_from_string("fuzz.yaml", first, n1, &again, &d) < 0) {
                for (size_t i = 0; i < d.n_lines; i++)
                        fprintf(stderr, "%s\n", d.lines[i]);
                fprintf(stderr, "dump does not load back:\n%s", first);
                abort();
        }
        config_diag_done(&d);
        second = dump(again, &n2);
        if (second && (n1 != n2 || memcmp(first, second, n1) != 0)) {
                fprintf(stderr, "dump differs after reload:\n%s\n---\n%s", first, second);
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_unrefp) Config *c = NULL;
        ConfigDiag d = {};

        if (config_load_from_string("fuzz.yaml", (const char *) data, size, &c, &d) >= 0) {
                (void) config_find_pipeline(c, "inbound-file-drop", "a/b.csv");
                (void) config_find_pipeline_by_name(c, c->pipelines[0].name);
                round_trip(c);
        }
        config_diag_done(&d);
        return 0;
}
