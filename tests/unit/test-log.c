#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"

/* A Logger writing lines into an anonymous temporary file we can read back. */
typedef struct Sink {
        Logger *log;
        FILE *f;
} Sink;

static void sink_open(Sink *s, LogTarget target, int level) {
        s->f = tmpfile();
        assert_non_null(s->f);
        assert_int_equal(logger_new("test-log", target, fileno(s->f), level, &s->log), 0);
}

/* Everything written since the last call, as one string (caller frees). */
static char *sink_read(Sink *s) {
        int fd = fileno(s->f);
        off_t n = lseek(fd, 0, SEEK_CUR);
        char *buf;

        assert_true(n >= 0);
        buf = calloc(1, (size_t) n + 1);
        assert_non_null(buf);
        assert_int_equal(pread(fd, buf, (size_t) n, 0), n);
        assert_int_equal(ftruncate(fd, 0), 0);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return buf;
}

static void sink_close(Sink *s) {
        logger_free(s->log);
        fclose(s->f);
}

static void test_line_format(void **state) {
        _cleanup_free_ char *out = NULL;
        Sink s;

        unsetenv("JOURNAL_STREAM");
        sink_open(&s, LOG_TARGET_AUTO, LOG_DEBUG);
        assert_false(logger_uses_journal(s.log));
        log_info(s.log, "Processed %d rows", 4);
        log_warning_f(s.log, LOG_FIELDS(LOG_STR("BUCKET", "landing"),
                                        LOG_STR("OBJECT_KEY", "grades/2024 spring/class A+B.csv"),
                                        LOG_U64("ROWS_WRITTEN", 4), LOG_I64("DELTA", -2),
                                        LOG_STR("PIPELINE", NULL), LOG_STR("EMPTY", "")),
                      "File done");
        out = sink_read(&s);
        assert_string_equal(out,
                            "INFO Processed 4 rows\n"
                            "WARNING File done BUCKET=landing OBJECT_KEY=\"grades/2024 spring/class A+B.csv\" "
                            "ROWS_WRITTEN=4 DELTA=-2 EMPTY=\"\"\n");
        sink_close(&s);
}

static void test_quoting_and_escaping(void **state) {
        _cleanup_free_ char *out = NULL;
        Sink s;

        sink_open(&s, LOG_TARGET_STDERR, LOG_INFO);
        log_error_f(s.log, LOG_FIELDS(LOG_STR("REASON", "say \"hi\"\\now"), LOG_STR("EQ", "a=b"),
                                      LOG_STR("NL", "two\nlines"), LOG_STR("bad_key", "dropped"),
                                      LOG_STR("_TRUSTED", "dropped"), LOG_STR("UTF8", "café")),
                    "line one\nline two\tend\x01");
        out = sink_read(&s);
        assert_string_equal(out,
                            "ERROR line one\\nline two\\tend\\x01 REASON=\"say \\\"hi\\\"\\\\now\" EQ=\"a=b\" "
                            "NL=\"two\\nlines\" UTF8=café\n");
        sink_close(&s);
}

static void test_threshold(void **state) {
        _cleanup_free_ char *out = NULL;
        Sink s;

        sink_open(&s, LOG_TARGET_STDERR, LOG_NOTICE);
        assert_int_equal(logger_get_max_level(s.log), LOG_NOTICE);
        assert_false(logger_is_enabled(s.log, LOG_INFO));
        assert_true(logger_is_enabled(s.log, LOG_NOTICE));
        log_info(s.log, "hidden");
        log_debug(s.log, "hidden");
        log_notice(s.log, "shown");
        logger_set_max_level(s.log, LOG_DEBUG);
        log_debug(s.log, "now shown");
        logger_set_max_level(s.log, LOG_ERR);
        log_warning(s.log, "hidden again");
        log_error(s.log, "error shown");
        out = sink_read(&s);
        assert_string_equal(out, "NOTICE shown\nDEBUG now shown\nERROR error shown\n");
        sink_close(&s);
}

static void test_errno(void **state) {
        _cleanup_free_ char *out = NULL;
        Sink s;

        sink_open(&s, LOG_TARGET_STDERR, LOG_INFO);
        assert_int_equal(log_error_errno(s.log, -ENOENT, "Failed to open %s", "x.yaml"), -ENOENT);
        assert_int_equal(log_warning_errno(s.log, EACCES, "Denied"), -EACCES);
        /* a filtered entry still returns the error, so `return log_debug_errno(...)` forwards it */
        assert_int_equal(log_full_errno(s.log, LOG_DEBUG, -EIO, "quiet"), -EIO);
        errno = EPIPE;
        log_error(s.log, "percent m: %m");
        assert_int_equal(errno, EPIPE);
        out = sink_read(&s);
        assert_string_equal(out,
                            "ERROR Failed to open x.yaml: No such file or directory ERRNO=2\n"
                            "WARNING Denied: Permission denied ERRNO=13\n"
                            "ERROR percent m: Broken pipe\n");
        sink_close(&s);
}

static void test_long_entry_is_one_line(void **state) {
        _cleanup_free_ char *out = NULL, *big = malloc(20000);
        Sink s;

        assert_non_null(big);
        memset(big, 'x', 19999);
        big[19999] = '\0';
        sink_open(&s, LOG_TARGET_STDERR, LOG_INFO);
        log_info_f(s.log, LOG_FIELDS(LOG_STR("BIG", big)), "%s", big);
        out = sink_read(&s);
        assert_true(strlen(out) <= 8192);
        assert_int_equal(strchr(out, '\n') - out, (long) strlen(out) - 1);
        assert_non_null(strstr(out, "\xe2\x80\xa6\n"));
        sink_close(&s);
}

static void test_journal_stream_detection(void **state) {
        char env[64];
        struct stat st;
        FILE *f = tmpfile();
        Logger *l = NULL;

        assert_non_null(f);
        assert_int_equal(fstat(fileno(f), &st), 0);
        snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
        unsetenv("JOURNAL_STREAM");
        assert_false(log_fd_is_journal_stream(fileno(f)));
        setenv("JOURNAL_STREAM", env, 1);
        assert_true(log_fd_is_journal_stream(fileno(f)));
        /* same variable, another fd (a child writing to a terminal or pipe): not the journal */
        assert_false(log_fd_is_journal_stream(STDOUT_FILENO));
        setenv("JOURNAL_STREAM", "garbage", 1);
        assert_false(log_fd_is_journal_stream(fileno(f)));
        strcat(env, "x");
        setenv("JOURNAL_STREAM", env, 1);
        assert_false(log_fd_is_journal_stream(fileno(f)));
        /* an explicit stderr target wins over the variable */
        env[strlen(env) - 1] = '\0';
        setenv("JOURNAL_STREAM", env, 1);
        assert_int_equal(logger_new(NULL, LOG_TARGET_STDERR, fileno(f), LOG_INFO, &l), 0);
        assert_false(logger_uses_journal(l));
        logger_free(l);
        unsetenv("JOURNAL_STREAM");
        fclose(f);
}

static void test_journal_fallback(void **state) {
        _cleanup_free_ char *out = NULL;
        struct stat st;
        Sink s;

        /* sd_journal_sendv() drops entries silently when journald is not there; the
         * Logger must notice and write lines instead. */
        if (stat("/run/systemd/journal/socket", &st) == 0)
                skip();
        sink_open(&s, LOG_TARGET_JOURNAL, LOG_INFO);
        assert_false(logger_uses_journal(s.log));
        log_info_f(s.log, LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", "m-1")), "kept");
        out = sink_read(&s);
        assert_string_equal(out, "INFO kept SQS_MESSAGE_ID=m-1\n");
        sink_close(&s);
}

/* In a private mount namespace, a tmpfs over /run gets a socket where journald's would be;
 * the child logs through it and checks the datagram field by field. Needs CAP_SYS_ADMIN;
 * skipped without it. Nothing is visible outside the child. */
static int journal_child(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = 2 };
        Logger *l = NULL;
        char buf[8192];
        ssize_t n;
        int fd;

        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
                return 77;
        if (mkdir("/run/systemd", 0755) < 0 || mkdir("/run/systemd/journal", 0755) < 0)
                return 10;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/run/systemd/journal/socket");
        fd = socket(AF_UNIX, SOCK_DGRAM, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return 11;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (logger_new("test-log", LOG_TARGET_JOURNAL, STDERR_FILENO, LOG_INFO, &l) < 0 ||
            !logger_uses_journal(l))
                return 12;
        log_warning_errno_f(l, -EIO, LOG_FIELDS(LOG_STR("BUCKET", "landing"), LOG_U64("ROWS_WRITTEN", 4),
                                                LOG_STR("bad", "dropped")),
                            "Copy of %s failed", "x.csv");
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return 13;
        buf[n] = '\0';
        static const char *const want[] = {
                "MESSAGE=Copy of x.csv failed: Input/output error\n", "PRIORITY=4\n",
                "SYSLOG_IDENTIFIER=test-log\n", "CODE_FUNC=journal_child\n", "ERRNO=5\n",
                "BUCKET=landing\n", "ROWS_WRITTEN=4\n", "CODE_FILE=",
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                if (!strstr(buf, want[i])) {
                        fprintf(stderr, "missing %s in:\n%s\n", want[i], buf);
                        return 20 + (int) i;
                }
        if (strstr(buf, "dropped") || strstr(buf, "CODE_FUNC=log_to_journal"))
                return 30;
        /* a multi-line value travels binary-safe (length-prefixed), not cut at the newline */
        log_info_f(l, LOG_FIELDS(LOG_STR("OBJECT_KEY", "a\nb")), "two");
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0 || !memmem(buf, (size_t) n, "OBJECT_KEY\n\x03\0\0\0\0\0\0\0a\nb\n", 23))
                return 31;
        logger_free(l);
        return 0;
}

static void test_journal_fields(void **state) {
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0)
                _exit(journal_child());
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
                skip();
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_level_names(void **state) {
        assert_string_equal(log_level_to_string(LOG_ERR), "ERROR");
        assert_string_equal(log_level_to_string(LOG_DEBUG), "DEBUG");
        assert_null(log_level_to_string(8));
        assert_null(log_level_to_string(-1));
        assert_int_equal(log_level_from_string("Warning"), LOG_WARNING);
        assert_int_equal(log_level_from_string("warn"), LOG_WARNING);
        assert_int_equal(log_level_from_string("debug"), LOG_DEBUG);
        assert_int_equal(log_level_from_string("verbose"), -EINVAL);
        assert_int_equal(log_level_from_string(NULL), -EINVAL);
        Logger *l = (Logger *) 0x1;
        assert_int_equal(logger_new(NULL, LOG_TARGET_STDERR, -1, 9, &l), -EINVAL);
        assert_ptr_equal(l, (Logger *) 0x1);
}

#define THREADS 4
#define LINES 2000

static void *writer_thread(void *arg) {
        Logger *l = arg;
        char pad[301];

        memset(pad, 'p', 300);
        pad[300] = '\0';
        for (int i = 0; i < LINES; i++)
                log_info_f(l, LOG_FIELDS(LOG_U64("N", i), LOG_STR("PAD", pad)), "thread %p", (void *) pthread_self());
        return NULL;
}

static void test_threads_never_interleave(void **state) {
        _cleanup_free_ char *out = NULL;
        pthread_t t[THREADS];
        size_t lines = 0;
        Sink s;

        sink_open(&s, LOG_TARGET_STDERR, LOG_INFO);
        for (int i = 0; i < THREADS; i++)
                assert_int_equal(pthread_create(&t[i], NULL, writer_thread, s.log), 0);
        /* the threshold may change while they write */
        logger_set_max_level(s.log, LOG_DEBUG);
        for (int i = 0; i < THREADS; i++)
                pthread_join(t[i], NULL);
        out = sink_read(&s);
        for (char *p = out, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
                *nl = '\0';
                if (strncmp(p, "INFO thread ", 12) != 0 || !strstr(p, " PAD=pppp") ||
                    strlen(strstr(p, "PAD=")) != 304)
                        fail_msg("mangled line: %.80s", p);
                lines++;
        }
        assert_int_equal(lines, THREADS * LINES);
        sink_close(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_line_format),
                cmocka_unit_test(test_quoting_and_escaping),
                cmocka_unit_test(test_threshold),
                cmocka_unit_test(test_errno),
                cmocka_unit_test(test_long_entry_is_one_line),
                cmocka_unit_test(test_journal_stream_detection),
                cmocka_unit_test(test_journal_fallback),
                cmocka_unit_test(test_journal_fields),
                cmocka_unit_test(test_level_names),
                cmocka_unit_test(test_threads_never_interleave),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
