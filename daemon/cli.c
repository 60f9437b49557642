/* The one command-line parser. See cli.h.
 *
 * getopt_long in its default (GNU, permuting) mode sees every option wherever it stands and
 * leaves the operands, the command name first, at the end of argv in their order. It parses
 * with the union of every command's options; which of them the chosen command accepts is
 * checked afterwards, so the message can say "--dump does not apply to process" rather than
 * a bare "unrecognized option". Under POSIXLY_CORRECT getopt stops at the first operand;
 * options then belong before the command, as POSIX utilities expect. */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "daemon/cli.h"
#include "version.h"

enum { OPT_VERSION = 0x100, OPT_CHECK, OPT_DUMP, OPT_FORMAT, OPT_ROWS };

static const struct option long_options[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, OPT_CHECK },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { "pipeline", required_argument, NULL, 'p' },
        { "quiet", no_argument, NULL, 'q' },
        { "dump", no_argument, NULL, OPT_DUMP },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "rows", required_argument, NULL, OPT_ROWS },
        {}
};
/* ':' first: a missing argument is reported as ':' rather than '?' */
static const char short_options[] = ":c:hp:q";

static const char global_help[] =
        "Global options (before or after the command):\n"
        "  -c, --config PATH   configuration file (default " S3BATCHD_DEFAULT_CONFIG ")\n"
        "      --check-config  validate the configuration, print every error, and exit\n"
        "  -h, --help          show this help and exit\n"
        "      --version       show the version and exit\n";

void cli_usage(FILE *out, const CliCommand *commands, size_t n_commands) {
        fprintf(out,
                "Usage: s3batchd [OPTIONS] [COMMAND [ARGS...]]\n"
                "\n"
                "Load CSV files dropped in S3 into DynamoDB, driven by S3 event notifications on SQS.\n"
                "\n"
                "%s"
                "\n"
                "Commands:\n", global_help);
        for (size_t i = 0; i < n_commands; i++)
                fprintf(out, "  %-14s %s%s\n", commands[i].name, commands[i].summary,
                        i == 0 ? " (default)" : "");
        fprintf(out, "\nRun `s3batchd COMMAND --help` for a command's options.\n"
                     "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

/* Each option's help, once: a command's help lists those it accepts. */
static const struct {
        unsigned flag;
        const char *text;
} option_help[] = {
        { CLI_OPT_PIPELINE, "  -p, --pipeline NAME use this pipeline instead of the first whose match accepts\n"
                            "                      the key (FILE.csv.gz also matches suffix .csv unless\n"
                            "                      compression is none)\n" },
        { CLI_OPT_QUIET, "  -q, --quiet         print only the verdict: nothing for a valid configuration,\n"
                         "                      only the summary of a validated file\n" },
        { CLI_OPT_DUMP, "      --dump          print the effective configuration (defaults filled in)\n"
                        "                      as YAML on stdout when the file is valid\n" },
        { CLI_OPT_FORMAT, "      --format FORMAT csv (default, delimiter sniffed) or jsonl\n" },
        { CLI_OPT_ROWS, "      --rows N        rows to sample (default 1000, at most 1000000)\n" },
};

void cli_command_help(FILE *out, const CliCommand *cmd) {
        fprintf(out, "Usage: s3batchd [OPTIONS] %s%s%s\n\n%s", cmd->name,
                cmd->synopsis[0] ? " " : "", cmd->synopsis, cmd->help);
        if (cmd->options)
                fputs("\nOptions:\n", out);
        for (size_t i = 0; i < ELEMENTSOF(option_help); i++)
                if (cmd->options & option_help[i].flag)
                        fputs(option_help[i].text, out);
        fprintf(out, "\n%s", global_help);
}

static unsigned option_flag(int c) {
        switch (c) {
        case 'p':
                return CLI_OPT_PIPELINE;
        case 'q':
                return CLI_OPT_QUIET;
        case OPT_DUMP:
                return CLI_OPT_DUMP;
        case OPT_FORMAT:
                return CLI_OPT_FORMAT;
        case OPT_ROWS:
                return CLI_OPT_ROWS;
        default:
                return 0;
        }
}

static const char *option_name(unsigned flag) {
        switch (flag) {
        case CLI_OPT_PIPELINE:
                return "--pipeline";
        case CLI_OPT_QUIET:
                return "--quiet";
        case CLI_OPT_FORMAT:
                return "--format";
        case CLI_OPT_ROWS:
                return "--rows";
        default:
                return "--dump";
        }
}

static const CliCommand *find_command(const CliCommand *commands, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        return NULL;
}

_printf_(2, 3)
static int usage_error(const CliCommand *cmd, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "s3batchd%s%s: ", cmd ? " " : "", cmd ? cmd->name : "");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 's3batchd %s%s--help'.\n", cmd ? cmd->name : "", cmd ? " " : "");
        return COMMAND_USAGE;
}

/* The option getopt_long refused, as the user wrote it. */
static void bad_option_text(int c, int argc, char **argv, char buf[static 64]) {
        if (c == '?' && optopt > 0 && optopt < 0x100)
                snprintf(buf, 64, "-%c", optopt);
        else if (optind > 0 && optind <= argc)
                snprintf(buf, 64, "%.60s", argv[optind - 1]);
        else
                snprintf(buf, 64, "?");
}

/* The command: --check-config, else the first operand, else the default. */
static int pick_command(const CliCommand *commands, size_t n, bool check, int argc, char **argv,
                        const CliCommand **ret, bool *ret_named) {
        const CliCommand *named = optind < argc ? find_command(commands, n, argv[optind]) : NULL;

        *ret_named = named || check;

        if (check) {
                *ret = find_command(commands, n, "check-config");
                if (named && named != *ret)
                        return usage_error(NULL, "--check-config cannot be combined with the command '%s'",
                                           named->name);
        } else if (optind >= argc)
                *ret = &commands[0];
        else if (!named)
                return usage_error(NULL, "unknown command '%s'", argv[optind]);
        else
                *ret = named;
        if (named)
                optind++;
        return CLI_RUN;
}

/* What getopt_long saw in the whole argv. */
typedef struct Seen {
        CommandArgs args;
        unsigned options;               /* CLI_OPT_* given */
        bool help, version, check;
        int bad_kind;                   /* the first refused option: '?' or ':', or 0 */
        char bad[64];                   /* ... as written */
} Seen;

static void scan(int argc, char **argv, Seen *ret) {
        Seen s = { .args = { .config_path = S3BATCHD_DEFAULT_CONFIG } };
        int c;

        opterr = 0;             /* the messages name the command and the way out */
        optind = 0;             /* 0: a full reset of GNU getopt's state */
        while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        s.args.config_path = optarg;
                        break;
                case 'p':
                        s.args.pipeline = optarg;
                        break;
                case 'q':
                        s.args.quiet = true;
                        break;
                case OPT_DUMP:
                        s.args.dump = true;
                        break;
                case OPT_FORMAT:
                        s.args.format = optarg;
                        break;
                case OPT_ROWS:
                        s.args.rows = optarg;
                        break;
                case OPT_CHECK:
                        s.check = true;
                        break;
                case 'h':
                        s.help = true;
                        break;
                case OPT_VERSION:
                        s.version = true;
                        break;
                default:        /* '?' or ':': reported once the command is known */
                        if (!s.bad_kind) {
                                s.bad_kind = c;
                                bad_option_text(c, argc, argv, s.bad);
                        }
                        continue;
                }
                s.options |= option_flag(c);
        }
        *ret = s;
}

int cli_parse(const CliCommand *commands, size_t n_commands, int argc, char **argv,
              const CliCommand **ret_cmd, CommandArgs *ret_args) {
        const CliCommand *cmd = NULL;
        bool named = false;
        Seen s;
        int r;

        scan(argc, argv, &s);
        if (s.bad_kind) {
                /* name the command when there is one, so the hint leads to its options */
                const CliCommand *in = optind < argc ? find_command(commands, n_commands, argv[optind]) : NULL;

                return usage_error(in, s.bad_kind == ':' ? "option '%s' needs an argument"
                                                            : "unrecognized option '%s'", s.bad);
        }
        if (s.version) {
                printf("s3batchd %s\n", S3BATCHD_VERSION);
                return CLI_DONE;
        }
        r = pick_command(commands, n_commands, s.check, argc, argv, &cmd, &named);
        if (r != CLI_RUN)
                return r;
        if (s.help) {
                /* a named command (or --check-config) gets its own help */
                if (named)
                        cli_command_help(stdout, cmd);
                else
                        cli_usage(stdout, commands, n_commands);
                return CLI_DONE;
        }
        for (unsigned f = 1; f <= CLI_OPT_LAST; f <<= 1)
                if ((s.options & f) && !(cmd->options & f))
                        return usage_error(cmd, "option '%s' does not apply to this command", option_name(f));
        if (argc - optind < cmd->min_operands || argc - optind > cmd->max_operands) {
                if (argc - optind > cmd->max_operands)
                        return usage_error(cmd, "unexpected argument '%s'", argv[optind + cmd->max_operands]);
                return usage_error(cmd, "expected %s", cmd->expects);
        }
        s.args.name = cmd->name;
        s.args.operands = argv + optind;
        s.args.n_operands = argc - optind;
        *ret_cmd = cmd;
        *ret_args = s.args;
        return CLI_RUN;
}
