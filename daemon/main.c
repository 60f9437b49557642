/* s3batchd entry point: the command table and dispatch. daemon/cli.c parses the command line
 * (one parser for every command); daemon/cmd-*.c do the work. The only file allowed to hold
 * process-wide mutable state. */
#include <stdlib.h>

#include "common/util.h"
#include "daemon/cli.h"
#include "daemon/commands.h"

/* Add a command here and its file to daemon/meson.build. The first is the default. */
static const CliCommand commands[] = {
        {
                .name = "run", .fn = cmd_run,
                .synopsis = "", .expects = "no argument",
                .summary = "run the service: poll the queue and load files until SIGTERM",
                .help = "Run the service: poll the queue and load every matching file until SIGTERM.\n",
        },
        {
                .name = "process", .fn = cmd_process, .options = CLI_OPT_PIPELINE,
                .min_operands = 1, .max_operands = 1,
                .synopsis = "[--pipeline NAME] s3://BUCKET/KEY", .expects = "one s3://BUCKET/KEY",
                .summary = "load one object now: process s3://BUCKET/KEY",
                .help = "Load one object now, as the service would, and print its summary.\n"
                        "Exit 0 for success or partial (or a file found already processed), 1 otherwise.\n",
        },
        {
                .name = "backfill", .fn = cmd_backfill,
                .min_operands = 1, .max_operands = 1,
                .synopsis = "s3://BUCKET[/PREFIX]", .expects = "one s3://BUCKET[/PREFIX]",
                .summary = "load every matching object under s3://BUCKET/PREFIX",
                .help = "Load every object under the prefix that a pipeline matches, with the worker\n"
                        "pool, and print a summary. Exit 0 when no file failed.\n",
        },
        {
                .name = "check-config", .fn = cmd_check_config, .options = CLI_OPT_QUIET | CLI_OPT_DUMP,
                .synopsis = "[--quiet | --dump]", .expects = "no argument",
                .summary = "validate the configuration and exit (same as --check-config)",
                .help = "Validate the configuration file and exit: 0 when valid, 1 when not, with\n"
                        "every problem printed as FILE:LINE:COLUMN: message. Warnings (legal, but\n"
                        "probably not meant) are printed too and do not fail the check. Works\n"
                        "offline: nothing is sent to AWS.\n",
        },
        {
                .name = "validate", .fn = cmd_validate, .options = CLI_OPT_PIPELINE | CLI_OPT_QUIET,
                .min_operands = 1, .max_operands = 1,
                .synopsis = "[--pipeline NAME] [--quiet] FILE.csv[.gz]", .expects = "exactly one FILE",
                .summary = "check a local CSV file against a pipeline's schema, offline",
                .help = "Check a CSV file against a pipeline's schema as the daemon would, without\n"
                        "touching AWS. Prints each rejected row (line, column, reason) and a summary.\n"
                        "Exit 0 when the file would be accepted, 1 when not, 2 on usage errors.\n"
                        "FILE may be - for standard input.\n",
        },
        {
                .name = "infer-schema", .fn = cmd_infer_schema, .options = CLI_OPT_FORMAT | CLI_OPT_ROWS,
                .min_operands = 1, .max_operands = 1,
                .synopsis = "[--format csv|jsonl] [--rows N] FILE", .expects = "exactly one FILE",
                .summary = "draft a pipeline's csv:, columns: and key: from a sample file",
                .help = "Read a sample of FILE (CSV or JSON Lines, gzip or not; - for standard input)\n"
                        "and print the csv:, columns: and a suggested key: of a pipeline that accepts it,\n"
                        "as YAML to paste (indented) under a pipeline. Types are the narrowest every\n"
                        "sampled value fits; review them, later rows may need wider ones. Offline.\n",
        },
};

/* The one place a result becomes an exit status (commands.h; s3batchd(8), EXIT STATUS). */
static int exit_status(int r) {
        if (r == 0)
                return EXIT_SUCCESS;
        if (r == COMMAND_USAGE)
                return 2;
        return EXIT_FAILURE;    /* COMMAND_REJECTED, or a negative errno */
}

int main(int argc, char **argv) {
        const CliCommand *cmd = NULL;
        CommandArgs args;
        int r;

        r = cli_parse(commands, ELEMENTSOF(commands), argc, argv, &cmd, &args);
        if (r == CLI_RUN)
                r = cmd->fn(&args);
        return exit_status(r);
}
