/* The s3batchd sub-commands. Each lives in its own daemon/cmd-NAME.c. daemon/cli.c parses
 * the whole command line once, for all of them: a command receives its options and operands
 * already checked against what it accepts.
 *
 * A command returns 0 (done, and the answer is yes), a documented positive outcome below, or
 * a negative errno (it could not do its work: configuration, AWS setup, memory; logged where
 * it happened). main() alone turns that into the exit status, the table of s3batchd(8),
 * EXIT STATUS: 0 → 0; COMMAND_REJECTED or < 0 → 1; COMMAND_USAGE → 2. */
#pragma once

#include <stdbool.h>

enum {
        /* Done, and the answer is no: the configuration is not valid (check-config), the
         * file would be rejected (validate), the object did not load (process), a file did
         * not load (backfill), the sample has no shape (infer-schema). */
        COMMAND_REJECTED = 1,
        /* The operands make no sense for the command (the message is printed). */
        COMMAND_USAGE = 2,
};

typedef struct CommandArgs {
        const char *name;               /* the command, for messages */
        const char *config_path;        /* -c/--config, or the compiled-in default */
        const char *pipeline;           /* -p/--pipeline NAME, or NULL (process, validate) */
        bool quiet;                     /* -q/--quiet (check-config, validate) */
        bool dump;                      /* --dump (check-config) */
        const char *format;             /* --format (infer-schema), or NULL */
        const char *rows;               /* --rows (infer-schema), as given, or NULL */
        char **operands;                /* what follows the command, options taken out */
        int n_operands;                 /* within the command's declared bounds */
} CommandArgs;

/* What every command is: one signature, one result contract (above). */
typedef int CommandFn(const CommandArgs *a);

CommandFn cmd_run, cmd_process, cmd_backfill, cmd_check_config, cmd_validate, cmd_infer_schema;
