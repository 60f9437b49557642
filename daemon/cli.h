/* The one command-line parser of s3batchd.
 *
 * Every option is parsed in one pass over the whole argv, so an option means the same before
 * and after the command: `s3batchd -c F process s3://b/k` and `s3batchd process s3://b/k -c F`
 * are one command line. Global options (-c/--config, --check-config, -h/--help, --version)
 * apply to every command; the others only to the commands that declare them, and anywhere
 * else are a usage error (exit 2) naming the option and the command. */
#pragma once

#include <stdio.h>

#include "daemon/commands.h"

enum {
        CLI_OPT_PIPELINE = 1u << 0,     /* -p, --pipeline NAME */
        CLI_OPT_QUIET = 1u << 1,        /* -q, --quiet */
        CLI_OPT_DUMP = 1u << 2,         /* --dump */
        CLI_OPT_FORMAT = 1u << 3,       /* --format csv|jsonl */
        CLI_OPT_ROWS = 1u << 4,         /* --rows N */
        CLI_OPT_LAST = CLI_OPT_ROWS,
};

typedef struct CliCommand {
        const char *name;
        CommandFn *fn;
        unsigned options;               /* CLI_OPT_* accepted on top of the global options */
        int min_operands, max_operands;
        const char *synopsis;           /* what follows the name: "[-p NAME] s3://BUCKET/KEY" */
        const char *expects;            /* operands, for "expected ...": "one s3://BUCKET/KEY" */
        const char *summary;            /* one line for the command list */
        const char *help;               /* description; the options are listed from `options` */
} CliCommand;

enum {
        CLI_DONE = 0,                   /* help or version printed: nothing more to do */
        CLI_RUN = 1,                    /* a command to run */
};

/* Parses argv against commands[0..n) (commands[0] is the default when none is named).
 * Returns CLI_RUN with *ret_cmd and *ret_args set (ret_args->operands point into argv, which
 * getopt permutes), CLI_DONE, or COMMAND_USAGE with the usage error printed on stderr. */
int cli_parse(const CliCommand *commands, size_t n_commands, int argc, char **argv,
              const CliCommand **ret_cmd, CommandArgs *ret_args);

/* The general usage (commands == the table) or one command's help (cmd != NULL). */
void cli_usage(FILE *out, const CliCommand *commands, size_t n_commands);
void cli_command_help(FILE *out, const CliCommand *cmd);
