/* Starts a python test server that prints its port on its first stdout line, for the unit
 * tests of the HTTP client and the metadata credential providers. Debian's python3 only. */
#pragma once

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct PyServer {
        pid_t pid;
        int port;
        char url[64];           /* "http://127.0.0.1:PORT" */
} PyServer;

/* extra: NULL or a NULL-terminated list of arguments for the script */
static inline int pyserver_start(PyServer *s, const char *script, const char *const *extra) {
        char line[32] = "";
        int fds[2];
        FILE *f;

        if (pipe(fds) < 0)
                return -1;
        s->pid = fork();
        if (s->pid < 0)
                return -1;
        if (s->pid == 0) {
                dup2(fds[1], STDOUT_FILENO);
                close(fds[0]);
                close(fds[1]);
                const char *argv[16] = { "python3", script };
                size_t n = 2;

                for (; extra && *extra && n < 15; extra++)
                        argv[n++] = *extra;
                argv[n] = NULL;
                execv("/usr/bin/python3", (char *const *) argv);
                _exit(127);
        }
        close(fds[1]);
        f = fdopen(fds[0], "r");
        if (!f || !fgets(line, sizeof(line), f)) {
                if (f)
                        fclose(f);
                return -1;
        }
        fclose(f);
        s->port = atoi(line);
        snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
        return s->port > 0 ? 0 : -1;
}

static inline void pyserver_stop(PyServer *s) {
        if (s->pid > 0) {
                kill(s->pid, SIGTERM);
                waitpid(s->pid, NULL, 0);
                s->pid = 0;
        }
}
