/* Fuzz target: the whole config path (YAML tree with positions, every check, diagnostics
 * formatting) on arbitrary bytes. Must never crash, leak or run long; a valid config must
 * answer lookups. */
#include <stdint.h>
#include <stddef.h>

#include "conf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_unrefp) Config *c = NULL;
        ConfigDiag d = {};

        if (config_load_from_string("fuzz.yaml", (const char *) data, size, &c, &d) >= 0) {
                (void) config_find_pipeline(c, "inbound-file-drop", "a/b.csv");
                (void) config_find_pipeline_by_name(c, c->pipelines[0].name);
        }
        config_diag_done(&d);
        return 0;
}
