/* `s3batchd --check-config` / `s3batchd check-config`: load the configuration with every check
 * the daemon would run and report the verdict, like `nginx -t`. Exit 0 and one line on stdout
 * when valid; every diagnostic on stderr and exit 1 otherwise, so it can gate a deploy or an
 * ExecReload. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "conf/config.h"
#include "daemon/commands.h"

static void help(FILE *out) {
        fprintf(out,
                "Usage: s3batchd [--config PATH] check-config [OPTIONS]\n"
                "       s3batchd --check-config [--config PATH]\n"
                "\n"
                "Validate the configuration file and exit: 0 when valid, 1 when not, with\n"
                "every problem printed as FILE:LINE:COLUMN: message. Warnings (legal, but\n"
                "probably not meant) are printed too and do not fail the check.\n"
                "\n"
                "Options:\n"
                "  -c, --config PATH   the file to check (default: the daemon's)\n"
                "  -q, --quiet         print nothing when the file is valid\n"
                "      --dump          print the effective configuration (defaults filled in)\n"
                "                      as YAML on stdout when the file is valid\n"
                "  -h, --help          show this help and exit\n");
}

static int parse_args(int argc, char **argv, const char **path, int *quiet, int *dump) {
        enum { OPT_DUMP = 0x100 };
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "quiet", no_argument, NULL, 'q' },
                { "dump", no_argument, NULL, OPT_DUMP },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        optind = 0;     /* 0, not 1: also resets getopt's state from main()'s pass */
        while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        *path = optarg;
                        break;
                case 'q':
                        *quiet = 1;
                        break;
                case OPT_DUMP:
                        *dump = 1;
                        break;
                case 'h':
                        help(stdout);
                        return 0;
                default:
                        help(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "check-config: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        return -1;
}

static const char *plural(size_t n) {
        return n == 1 ? "" : "s";
}

int cmd_check_config(const GlobalOptions *g, int argc, char **argv) {
        _cleanup_(config_unrefp) Config *cfg = NULL;
        _cleanup_(config_diag_done) ConfigDiag diag = {};
        const char *path = g->config_path;
        int quiet = 0, dump = 0, r;

        r = parse_args(argc, argv, &path, &quiet, &dump);
        if (r >= 0)
                return r;
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
                return 1;
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
