#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/sdnotify.h"

/* A datagram socket standing in for systemd's notify socket. */
typedef struct Manager {
        char dir[64];
        char path[96];
        int fd;
} Manager;

static int setup(void **state) {
        static Manager m;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = 2 };

        snprintf(m.dir, sizeof(m.dir), "/tmp/test-sdnotify-XXXXXX");
        if (!mkdtemp(m.dir))
                return -1;
        snprintf(m.path, sizeof(m.path), "%s/notify", m.dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m.path);
        m.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (m.fd < 0 || bind(m.fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -1;
        /* a missing datagram fails the test after 2 s instead of hanging it */
        setsockopt(m.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setenv("NOTIFY_SOCKET", m.path, 1);
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        *state = &m;
        return 0;
}

static int teardown(void **state) {
        Manager *m = *state;

        close(m->fd);
        unlink(m->path);
        rmdir(m->dir);
        unsetenv("NOTIFY_SOCKET");
        return 0;
}

static void expect_datagram(Manager *m, const char *want) {
        char buf[1024];
        ssize_t n = recv(m->fd, buf, sizeof(buf) - 1, 0);

        assert_true(n >= 0);
        buf[n] = '\0';
        assert_string_equal(buf, want);
}

static void expect_nothing(Manager *m) {
        char buf[64];

        assert_int_equal(recv(m->fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void test_ready_stopping_status(void **state) {
        Manager *m = *state;

        assert_true(sdnotify_ready(NULL) > 0);
        expect_datagram(m, "READY=1");
        assert_true(sdnotify_ready("Polling queue, 4 workers idle") > 0);
        expect_datagram(m, "READY=1\nSTATUS=Polling queue, 4 workers idle");
        assert_true(sdnotify_status("%u in flight, %u done", 2u, 17u) > 0);
        expect_datagram(m, "STATUS=2 in flight, 17 done");
        assert_true(sdnotify_stopping("Finishing 2 jobs") > 0);
        expect_datagram(m, "STOPPING=1\nSTATUS=Finishing 2 jobs");
        assert_true(sdnotify_stopping(NULL) > 0);
        expect_datagram(m, "STOPPING=1");
        assert_true(sdnotify_extend_timeout(30000000) > 0);
        expect_datagram(m, "EXTEND_TIMEOUT_USEC=30000000");
        expect_nothing(m);
}

static void test_status_cannot_inject(void **state) {
        Manager *m = *state;
        char big[2000];

        /* text from an object key or an error must not become a second assignment */
        assert_true(sdnotify_status("failed: %s", "evil\nREADY=1\nMAINPID=1") > 0);
        expect_datagram(m, "STATUS=failed: evil READY=1 MAINPID=1");
        assert_true(sdnotify_ready("a\r\nb") > 0);
        expect_datagram(m, "READY=1\nSTATUS=a  b");
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_true(sdnotify_status("%s", big) > 0);
        char buf[4096];
        ssize_t n = recv(m->fd, buf, sizeof(buf), 0);
        assert_int_equal(n, strlen("STATUS=") + 511);
}

static void test_reloading_has_monotonic_usec(void **state) {
        Manager *m = *state;
        struct timespec a, b;
        char buf[256];
        uint64_t usec, lo, hi;
        ssize_t n;

        clock_gettime(CLOCK_MONOTONIC, &a);
        assert_true(sdnotify_reloading() > 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        n = recv(m->fd, buf, sizeof(buf) - 1, 0);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%" SCNu64, &usec), 1);
        lo = (uint64_t) a.tv_sec * 1000000u + (uint64_t) a.tv_nsec / 1000u;
        hi = (uint64_t) b.tv_sec * 1000000u + (uint64_t) b.tv_nsec / 1000u;
        assert_true(usec >= lo && usec <= hi);
        /* exactly two lines, nothing else */
        assert_int_equal(strchr(buf, '\n') - buf, strlen("RELOADING=1"));
        assert_null(strchr(strchr(buf, '\n') + 1, '\n'));
}

static void test_watchdog_only_when_asked(void **state) {
        Manager *m = *state;
        char pid[32];

        assert_int_equal(sdnotify_watchdog_usec(), 0);
        assert_int_equal(sdnotify_watchdog(), 0);
        expect_nothing(m);

        setenv("WATCHDOG_USEC", "60000000", 1);
        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        setenv("WATCHDOG_PID", pid, 1);
        assert_int_equal(sdnotify_watchdog_usec(), 60000000);
        assert_true(sdnotify_watchdog() > 0);
        expect_datagram(m, "WATCHDOG=1");

        /* meant for another process (e.g. our parent): stay quiet */
        snprintf(pid, sizeof(pid), "%d", (int) getpid() + 1);
        setenv("WATCHDOG_PID", pid, 1);
        assert_int_equal(sdnotify_watchdog_usec(), 0);
        assert_int_equal(sdnotify_watchdog(), 0);
        expect_nothing(m);
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
}

static void test_noop_without_socket(void **state) {
        Manager *m = *state;
        char saved[128];

        snprintf(saved, sizeof(saved), "%s", getenv("NOTIFY_SOCKET"));
        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(sdnotify_ready("x"), 0);
        assert_int_equal(sdnotify_reloading(), 0);
        assert_int_equal(sdnotify_stopping(NULL), 0);
        assert_int_equal(sdnotify_status("y"), 0);
        assert_int_equal(sdnotify_extend_timeout(1), 0);
        expect_nothing(m);
        setenv("NOTIFY_SOCKET", saved, 1);
        /* and the environment was left alone for the next call */
        assert_true(sdnotify_ready(NULL) > 0);
        expect_datagram(m, "READY=1");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ready_stopping_status),
                cmocka_unit_test(test_status_cannot_inject),
                cmocka_unit_test(test_reloading_has_monotonic_usec),
                cmocka_unit_test(test_watchdog_only_when_asked),
                cmocka_unit_test(test_noop_without_socket),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
