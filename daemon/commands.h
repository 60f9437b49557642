/* The s3batchd sub-commands. Each lives in its own daemon/cmd-NAME.c and returns a process
 * exit status: 0 success, 1 failure (or "file would be rejected" for validate), 2 usage.
 * daemon/cli.c parses the whole command line once, for all of them: a command receives its
 * options and operands already checked against what it accepts. */
#pragma once

#include <stdbool.h>

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

typedef int (*CommandFn)(const CommandArgs *a);

int cmd_check_config(const CommandArgs *a);
int cmd_run(const CommandArgs *a);
int cmd_process(const CommandArgs *a);
int cmd_backfill(const CommandArgs *a);
int cmd_validate(const CommandArgs *a);
int cmd_infer_schema(const CommandArgs *a);
