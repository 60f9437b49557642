/* `s3batchd --check-config` / `s3batchd check-config`: load the configuration with every check
 * the daemon would run and report the verdict, like `nginx -t`. Exit 0 and one line on stdout
 * when valid; every diagnostic on stderr and exit 1 otherwise, so it can gate a deploy or an
 * ExecReload. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "conf/config.h"
#include "daemon/commands.h"

static const char *plural(size_t n) {
        return n == 1 ? "" : "s";
}

int cmd_check_config(const CommandArgs *a) {
        _cleanup_(config_unrefp) Config *cfg = NULL;
        _cleanup_(config_diag_done) ConfigDiag diag = {};
        const char *path = a->config_path;
        bool quiet = a->quiet, dump = a->dump;
        int r;

        r = config_load(path, &cfg, &diag);
        for (size_t i = 0; i < diag.n_lines; i++)
                fprintf(stderr, "%s\n", diag.lines[i]);
        for (size_t i = 0; i < diag.n_warnings; i++)
                fprintf(stderr, "%s\n", diag.warnings[i]);
        if (r == -ENOMEM)
                fprintf(stderr, "%s: out of memory while checking\n", path);
        if (r < 0) {
                fprintf(stderr, "%s: configuration is NOT valid (%zu problem%s)\n", path,
                        diag.n_lines, plural(diag.n_lines));
                return COMMAND_REJECTED;
        }
        if (dump)
                config_dump(cfg, stdout);
        if (quiet || dump)
                return 0;
        if (diag.n_warnings > 0)
                printf("%s: OK (%zu pipeline%s, %zu warning%s)\n", path, cfg->n_pipelines,
                       plural(cfg->n_pipelines), diag.n_warnings, plural(diag.n_warnings));
        else
                printf("%s: OK (%zu pipeline%s)\n", path, cfg->n_pipelines,
                       plural(cfg->n_pipelines));
        return 0;
}
