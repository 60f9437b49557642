/* Log: the one sink the daemon writes through. common/ code never calls it; daemon/ does.
 *
 * A Logger is created in main and passed down — there is no global logger. Each entry has a
 * syslog priority, a message and optional structured fields (BUCKET=, OBJECT_KEY=, PIPELINE=,
 * ROWS_WRITTEN=, SQS_MESSAGE_ID=, ...).
 *
 * Under systemd (stderr is the stream named by $JOURNAL_STREAM, or LOG_TARGET_JOURNAL) an
 * entry goes to journald with sd_journal_sendv(): PRIORITY, MESSAGE, CODE_FILE/LINE/FUNC,
 * SYSLOG_IDENTIFIER and each field as its own journal field, so `journalctl OBJECT_KEY=...`
 * finds a file's history. Otherwise it is one line on the fd (stderr):
 *     INFO message text KEY=value KEY2="value with spaces"
 * with values quoted when they hold spaces, quotes, '=' or control characters, and the
 * message's own newlines escaped, so one entry is always one line. Without journald's socket
 * the Logger writes lines from the start, and an entry journald refuses is written as a line
 * instead (sd_journal_sendv() itself drops entries silently if the socket vanishes later).
 *
 * Thread-safe: a line is assembled first and written with one write() under a mutex, so lines
 * from workers never interleave. The threshold can be changed at any time (SIGHUP) from any
 * thread. Field values are copied; nothing passed in is kept. Never pass secrets. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>     /* LOG_ERR ... LOG_DEBUG: the levels used here and in conf/ LogLevel */

#include "common/util.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,        /* journal if the fd is $JOURNAL_STREAM, else lines on the fd */
        LOG_TARGET_STDERR,      /* always lines on the fd */
        LOG_TARGET_JOURNAL,     /* journald whenever its socket exists, else lines */
} LogTarget;

typedef enum LogFieldType {
        LOG_FIELD_STR,
        LOG_FIELD_U64,
        LOG_FIELD_I64,
} LogFieldType;

/* A borrowed key/value pair. Keys are journal field names: [A-Z0-9_], not starting with '_',
 * at most 64 characters; an entry with an invalid key drops that field. A NULL string value
 * drops the field too, so optional values can be passed as they are. */
typedef struct LogField {
        const char *key;
        LogFieldType type;
        union {
                const char *s;
                uint64_t u;
                int64_t i;
        };
} LogField;

#define LOG_STR(k, v) ((LogField) { .key = (k), .type = LOG_FIELD_STR, .s = (v) })
#define LOG_U64(k, v) ((LogField) { .key = (k), .type = LOG_FIELD_U64, .u = (uint64_t) (v) })
#define LOG_I64(k, v) ((LogField) { .key = (k), .type = LOG_FIELD_I64, .i = (int64_t) (v) })
/* LOG_FIELDS(LOG_STR("BUCKET", b), LOG_U64("ROWS_WRITTEN", n)) expands to "array, count". */
#define LOG_FIELDS(...)                                                                            \
        ((const LogField[]) { __VA_ARGS__ }),                                                      \
                (sizeof((const LogField[]) { __VA_ARGS__ }) / sizeof(LogField))

typedef struct Logger Logger;

/* ident: SYSLOG_IDENTIFIER and nothing else (copied; NULL = "s3batchd"). fd: where lines go,
 * -1 for stderr; the Logger does not own it. max_level: LOG_ERR..LOG_DEBUG; entries above it
 * are dropped. Returns 0 or -ENOMEM / -EINVAL: a code only, since the sink cannot report its
 * own failure; main() prints it on stderr. */
int logger_new(const char *ident, LogTarget target, int fd, int max_level, Logger **ret);
Logger *logger_free(Logger *l);
DEFINE_CLEANUP_FUNC(Logger *, logger_free);

void logger_set_max_level(Logger *l, int level);
int logger_get_max_level(const Logger *l);
bool logger_is_enabled(const Logger *l, int level);
bool logger_uses_journal(const Logger *l);

/* True when fd is the stream journald connected us to: $JOURNAL_STREAM is its "DEV:INO". */
bool log_fd_is_journal_stream(int fd);

/* The one entry point behind the macros. error: an errno value (either sign) or 0; when
 * non-zero, ERRNO= is added and the message gets ": <strerror>" appended. Returns -|error|,
 * so `return log_error_errno(l, r, "...")` forwards r. %m works. fields may be NULL. */
int logger_log(Logger *l, int level, int error, const char *file, int line, const char *func,
               const LogField *fields, size_t n_fields, const char *fmt, ...) _printf_(9, 10);

/* Level names as written on stderr: "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG" (and
 * "EMERG", "ALERT", "CRIT"); NULL for anything else. */
const char *log_level_to_string(int level);
/* "error"/"err", "warning"/"warn", "notice", "info", "debug" (case-insensitive) → level, or -EINVAL. */
int log_level_from_string(const char *s);

#define log_full_errno(l, level, error, ...)                                                      \
        logger_log((l), (level), (error), __FILE__, __LINE__, __func__, NULL, 0, __VA_ARGS__)
#define log_error(l, ...) log_full_errno(l, LOG_ERR, 0, __VA_ARGS__)
#define log_warning(l, ...) log_full_errno(l, LOG_WARNING, 0, __VA_ARGS__)
#define log_notice(l, ...) log_full_errno(l, LOG_NOTICE, 0, __VA_ARGS__)
#define log_info(l, ...) log_full_errno(l, LOG_INFO, 0, __VA_ARGS__)
#define log_debug(l, ...) log_full_errno(l, LOG_DEBUG, 0, __VA_ARGS__)
#define log_error_errno(l, error, ...) log_full_errno(l, LOG_ERR, error, __VA_ARGS__)
#define log_warning_errno(l, error, ...) log_full_errno(l, LOG_WARNING, error, __VA_ARGS__)

/* With fields: log_info_f(l, LOG_FIELDS(LOG_STR("BUCKET", b)), "Loaded %s", key); */
#define log_full_f(l, level, error, fields, ...)                                                  \
        logger_log((l), (level), (error), __FILE__, __LINE__, __func__, fields, __VA_ARGS__)
#define log_error_f(l, fields, ...) log_full_f(l, LOG_ERR, 0, fields, __VA_ARGS__)
#define log_warning_f(l, fields, ...) log_full_f(l, LOG_WARNING, 0, fields, __VA_ARGS__)
#define log_notice_f(l, fields, ...) log_full_f(l, LOG_NOTICE, 0, fields, __VA_ARGS__)
#define log_info_f(l, fields, ...) log_full_f(l, LOG_INFO, 0, fields, __VA_ARGS__)
#define log_debug_f(l, fields, ...) log_full_f(l, LOG_DEBUG, 0, fields, __VA_ARGS__)
#define log_error_errno_f(l, error, fields, ...) log_full_f(l, LOG_ERR, error, fields, __VA_ARGS__)
#define log_warning_errno_f(l, error, fields, ...) log_full_f(l, LOG_WARNING, error, fields, __VA_ARGS__)
