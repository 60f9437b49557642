/* Log sink: journald with structured fields under systemd, one leveled line per entry otherwise.
 *
 * An entry is formatted completely into a bounded stack buffer before anything is written, so
 * a failing or slow sink never leaves half an entry, and the stderr path needs one write()
 * under the mutex. Entries longer than LINE_MAX_BYTES are cut with "…" rather than split:
 * one entry must stay one line for anyone grepping the logs. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
/* our own CODE_FILE/LINE/FUNC are the caller's, not this file's */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "common/log.h"

#define MESSAGE_MAX 4096u
#define LINE_MAX_BYTES 8192u
#define FIELDS_MAX 32u
#define FIELD_VALUE_MAX 2048u
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

struct Logger {
        char *ident;
        int fd;
        bool journal;
        atomic_int max_level;
        pthread_mutex_t write_lock;     /* one line = one write(), never interleaved */
};

/* True when fd is the stream journald gave us: $JOURNAL_STREAM is "DEV:INO" of it
 * (systemd.exec(5)). Checking the fd, not just the variable, keeps a child that inherited the
 * variable but writes to a terminal or a pipe from logging into the journal. */
bool log_fd_is_journal_stream(int fd) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        int n = 0;

        if (!e || sscanf(e, "%llu:%llu%n", &dev, &ino, &n) != 2 || e[n] != '\0')
                return false;
        if (fstat(fd, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

int logger_new(const char *ident, LogTarget target, int fd, int max_level, Logger **ret) {
        Logger *l;

        if (!ret || max_level < LOG_EMERG || max_level > LOG_DEBUG)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->ident = strdup(ident ? ident : "s3batchd");
        if (!l->ident) {
                free(l);
                return -ENOMEM;
        }
        l->fd = fd >= 0 ? fd : STDERR_FILENO;
        /* sd_journal_sendv() reports success when journald's socket is missing (it drops
         * the entry on purpose), so without the socket we must not choose the journal. */
        l->journal = (target == LOG_TARGET_JOURNAL ||
                      (target == LOG_TARGET_AUTO && log_fd_is_journal_stream(l->fd))) &&
                     access(JOURNAL_SOCKET, W_OK) == 0;
        atomic_init(&l->max_level, max_level);
        pthread_mutex_init(&l->write_lock, NULL);
        *ret = l;
        return 0;
}

Logger *logger_free(Logger *l) {
        if (!l)
                return NULL;
        pthread_mutex_destroy(&l->write_lock);
        free(l->ident);
        free(l);
        return NULL;
}

void logger_set_max_level(Logger *l, int level) {
        if (level < LOG_EMERG)
                level = LOG_EMERG;
        if (level > LOG_DEBUG)
                level = LOG_DEBUG;
        atomic_store_explicit(&l->max_level, level, memory_order_relaxed);
}

int logger_get_max_level(const Logger *l) {
        return atomic_load_explicit(&((Logger *) l)->max_level, memory_order_relaxed);
}

bool logger_is_enabled(const Logger *l, int level) {
        return l && level <= logger_get_max_level(l);
}

bool logger_uses_journal(const Logger *l) {
        return l->journal;
}

static const char *const level_names[] = {
        [LOG_EMERG] = "EMERG", [LOG_ALERT] = "ALERT", [LOG_CRIT] = "CRIT",
        [LOG_ERR] = "ERROR", [LOG_WARNING] = "WARNING", [LOG_NOTICE] = "NOTICE",
        [LOG_INFO] = "INFO", [LOG_DEBUG] = "DEBUG",
};

const char *log_level_to_string(int level) {
        if (level < 0 || (size_t) level >= ELEMENTSOF(level_names))
                return NULL;
        return level_names[level];
}

int log_level_from_string(const char *s) {
        static const struct {
                const char *name;
                int level;
        } map[] = {
                { "error", LOG_ERR }, { "err", LOG_ERR }, { "warning", LOG_WARNING },
                { "warn", LOG_WARNING }, { "notice", LOG_NOTICE }, { "info", LOG_INFO },
                { "debug", LOG_DEBUG },
        };

        for (size_t i = 0; s && i < ELEMENTSOF(map); i++)
                if (strcasecmp(s, map[i].name) == 0)
                        return map[i].level;
        return -EINVAL;
}

/* Journal field names: uppercase letters, digits and '_', not starting with '_' (reserved
 * for trusted fields) or a digit, at most 64 characters (sd_journal_print(3)). */
static bool field_key_is_valid(const char *k) {
        size_t n = k ? strlen(k) : 0;

        if (n == 0 || n > 64 || k[0] == '_' || (k[0] >= '0' && k[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
                        return false;
        return true;
}

/* The value of a field as text, in buf when it is a number. NULL drops the field. */
static const char *field_value(const LogField *f, char *buf, size_t bufsz) {
        switch (f->type) {
        case LOG_FIELD_STR:
                return f->s;
        case LOG_FIELD_U64:
                snprintf(buf, bufsz, "%llu", (unsigned long long) f->u);
                return buf;
        case LOG_FIELD_I64:
                snprintf(buf, bufsz, "%lld", (long long) f->i);
                return buf;
        }
        return NULL;
}

/* A bounded string builder over a caller's array; marks truncation instead of failing. */
typedef struct Line {
        char *p;
        size_t len, cap;
        bool truncated;
} Line;

static void line_putc(Line *ln, char c) {
        if (ln->len + 1 < ln->cap)
                ln->p[ln->len++] = c;
        else
                ln->truncated = true;
}

static void line_puts(Line *ln, const char *s) {
        for (; *s; s++)
                line_putc(ln, *s);
}

/* Writes s so the entry stays on one line: newlines and other control characters become
 * escapes. When quote is set the value is wrapped in double quotes with '"' and '\' escaped. */
static void line_put_escaped(Line *ln, const char *s, bool quote) {
        if (quote)
                line_putc(ln, '"');
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '\n')
                        line_puts(ln, "\\n");
                else if (c == '\r')
                        line_puts(ln, "\\r");
                else if (c == '\t')
                        line_puts(ln, "\\t");
                else if (c < 0x20 || c == 0x7f) {
                        char hex[5];

                        snprintf(hex, sizeof(hex), "\\x%02x", c);
                        line_puts(ln, hex);
                } else if (quote && (c == '"' || c == '\\')) {
                        line_putc(ln, '\\');
                        line_putc(ln, (char) c);
                } else
                        line_putc(ln, (char) c);
        }
        if (quote)
                line_putc(ln, '"');
}

static bool value_needs_quotes(const char *v) {
        if (!*v)
                return true;
        for (; *v; v++)
                if ((unsigned char) *v <= ' ' || *v == '"' || *v == '=' || *v == '\\' || *v == 0x7f)
                        return true;
        return false;
}

static void write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return;         /* nowhere else to report it */
                p += k;
                n -= (size_t) k;
        }
}

static void log_to_fd(Logger *l, int level, const char *message, const LogField *fields, size_t n_fields,
                      int error) {
        char buf[LINE_MAX_BYTES], num[32];
        Line ln = { .p = buf, .cap = sizeof(buf) - 4 };     /* room for "…\n" */
        const char *name = log_level_to_string(level);

        line_puts(&ln, name ? name : "LOG");
        line_putc(&ln, ' ');
        line_put_escaped(&ln, message, false);
        for (size_t i = 0; i < n_fields; i++) {
                const char *v = field_value(&fields[i], num, sizeof(num));

                if (!v || !field_key_is_valid(fields[i].key))
                        continue;
                line_putc(&ln, ' ');
                line_puts(&ln, fields[i].key);
                line_putc(&ln, '=');
                line_put_escaped(&ln, v, value_needs_quotes(v));
        }
        if (error != 0) {
                snprintf(num, sizeof(num), " ERRNO=%d", error);
                line_puts(&ln, num);
        }
        if (ln.truncated) {
                memcpy(ln.p + ln.len, "\xe2\x80\xa6", 3);
                ln.len += 3;
        }
        ln.p[ln.len++] = '\n';

        pthread_mutex_lock(&l->write_lock);
        write_all(l->fd, ln.p, ln.len);
        pthread_mutex_unlock(&l->write_lock);
}

/* Returns 0 or sd_journal_sendv()'s negative errno, so the caller can fall back to a line. */
static int log_to_journal(Logger *l, int level, const char *message, const char *file, int line,
                          const char *func, const LogField *fields, size_t n_fields, int error) {
        /* Each iovec points at its own "KEY=value" string; numbers and the fixed fields are
         * formatted into these arrays, string fields into one shared bounded area. */
        char fixed[6][128], fieldbuf[FIELDS_MAX][96], num[32];
        _cleanup_free_ char *values = NULL;
        struct iovec iov[6 + FIELDS_MAX + 1];
        size_t n = 0, used = 0, values_cap = 0;
        _cleanup_free_ char *msg = NULL;

        if (asprintf(&msg, "MESSAGE=%s", message) < 0)
                return -ENOMEM;
        iov[n++] = (struct iovec) { msg, strlen(msg) };
        snprintf(fixed[0], sizeof(fixed[0]), "PRIORITY=%d", level);
        snprintf(fixed[1], sizeof(fixed[1]), "SYSLOG_IDENTIFIER=%s", l->ident);
        snprintf(fixed[2], sizeof(fixed[2]), "CODE_FILE=%s", file ? file : "");
        snprintf(fixed[3], sizeof(fixed[3]), "CODE_LINE=%d", line);
        snprintf(fixed[4], sizeof(fixed[4]), "CODE_FUNC=%s", func ? func : "");
        for (size_t i = 0; i < 5; i++)
                iov[n++] = (struct iovec) { fixed[i], strlen(fixed[i]) };
        if (error != 0) {
                snprintf(fixed[5], sizeof(fixed[5]), "ERRNO=%d", error);
                iov[n++] = (struct iovec) { fixed[5], strlen(fixed[5]) };
        }

        for (size_t i = 0; i < n_fields; i++)
                if (fields[i].type == LOG_FIELD_STR && fields[i].s && fields[i].key)
                        values_cap += strlen(fields[i].key) + 1 + strnlen(fields[i].s, FIELD_VALUE_MAX);
        values = malloc(values_cap + 1);
        if (!values)
                return -ENOMEM;
        for (size_t i = 0, k = 0; i < n_fields && k < FIELDS_MAX; i++) {
                const char *v = field_value(&fields[i], num, sizeof(num));
                size_t kl, vl;

                if (!v || !field_key_is_valid(fields[i].key))
                        continue;
                kl = strlen(fields[i].key);
                vl = strnlen(v, FIELD_VALUE_MAX);
                if (fields[i].type != LOG_FIELD_STR) {
                        /* numbers and short keys: a cut is impossible in practice and harmless */
                        if (snprintf(fieldbuf[k], sizeof(fieldbuf[k]), "%s=%s", fields[i].key, v) < 0)
                                continue;
                        iov[n++] = (struct iovec) { fieldbuf[k], strlen(fieldbuf[k]) };
                } else {
                        char *p = values + used;

                        memcpy(p, fields[i].key, kl);
                        p[kl] = '=';
                        memcpy(p + kl + 1, v, vl);
                        iov[n++] = (struct iovec) { p, kl + 1 + vl };
                        used += kl + 1 + vl;
                }
                k++;
        }
        return sd_journal_sendv(iov, (int) n);
}

int logger_log(Logger *l, int level, int error, const char *file, int line, const char *func,
               const LogField *fields, size_t n_fields, const char *fmt, ...) {
        char message[MESSAGE_MAX];
        int saved_errno = errno, abs_error = error < 0 ? -error : error;
        va_list ap;
        size_t n;

        if (!logger_is_enabled(l, level))
                return -abs_error;

        /* %m in fmt means the errno at the call, whatever the caller did to it meanwhile */
        errno = abs_error ? abs_error : saved_errno;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        if (abs_error) {
                n = strlen(message);
                snprintf(message + n, sizeof(message) - n, ": %s", strerror(abs_error));
        }
        if (!fields)
                n_fields = 0;

        if (!l->journal ||
            log_to_journal(l, level, message, file, line, func, fields, n_fields, abs_error) < 0)
                log_to_fd(l, level, message, fields, n_fields, abs_error);
        errno = saved_errno;
        return -abs_error;
}
