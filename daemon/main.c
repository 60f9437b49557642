/* s3batchd entry point: global options and dispatch to daemon/cmd-*.c. The only file allowed
 * to hold process-wide mutable state. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "daemon/commands.h"
#include "version.h"

typedef struct Command {
        const char *name;
        CommandFn fn;
        const char *help;
} Command;

/* Add a command here and its file to daemon/meson.build. */
static const Command commands[] = {
        { "run", cmd_run, "run the service: poll the queue and load files until SIGTERM (default)" },
        { "process", cmd_process, "load one object now: process s3://BUCKET/KEY" },
        { "backfill", cmd_backfill, "load every matching object under s3://BUCKET/PREFIX" },
        { "check-config", cmd_check_config, "validate the configuration and exit (same as --check-config)" },
        { "validate", cmd_validate, "check a local CSV file against a pipeline's schema, offline" },
};

static void usage(FILE *out) {
        fprintf(out,
                "Usage: s3batchd [OPTIONS] [COMMAND [ARGS...]]\n"
                "\n"
                "Load CSV files dropped in S3 into DynamoDB, driven by S3 event notifications on SQS.\n"
                "\n"
                "Options:\n"
                "  -c, --config PATH   configuration file (default " S3BATCHD_DEFAULT_CONFIG ")\n"
                "      --check-config  validate the configuration, print every error, and exit\n"
                "  -h, --help          show this help and exit\n"
                "      --version       show the version and exit\n"
                "\n"
                "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].help);
        fprintf(out, "\nRun `s3batchd COMMAND --help` for a command's options.\n");
}

static const Command *find_command(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        return NULL;
}

int main(int argc, char **argv) {
        enum { OPT_VERSION = 0x100, OPT_CHECK };
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, OPT_CHECK },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {}
        };
        GlobalOptions g = { .config_path = S3BATCHD_DEFAULT_CONFIG };
        const char *name = "run";
        const Command *cmd;
        int c;

        /* "+": stop at the first non-option, so a command's own options reach it untouched */
        while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        g.config_path = optarg;
                        break;
                case OPT_CHECK:
                        name = "check-config";
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case OPT_VERSION:
                        printf("s3batchd %s\n", S3BATCHD_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc)
                name = argv[optind];
        cmd = find_command(name);
        if (!cmd) {
                fprintf(stderr, "s3batchd: unknown command '%s'\n", name);
                usage(stderr);
                return 2;
        }
        if (optind < argc)
                return cmd->fn(&g, argc - optind, argv + optind);
        return cmd->fn(&g, 1, (char *[]) { (char *) name, NULL });
}
