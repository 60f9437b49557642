/* The s3batchd sub-commands. Each lives in its own daemon/cmd-NAME.c and returns a process
 * exit status: 0 success, 1 failure (or "file would be rejected" for validate), 2 usage. */
#pragma once

typedef struct GlobalOptions {
        const char *config_path;        /* --config, or the compiled-in default */
} GlobalOptions;

/* argv[0] is the command name; options after it belong to the command. */
typedef int (*CommandFn)(const GlobalOptions *g, int argc, char **argv);

int cmd_check_config(const GlobalOptions *g, int argc, char **argv);
int cmd_run(const GlobalOptions *g, int argc, char **argv);
int cmd_process(const GlobalOptions *g, int argc, char **argv);
int cmd_backfill(const GlobalOptions *g, int argc, char **argv);
int cmd_validate(const GlobalOptions *g, int argc, char **argv);
