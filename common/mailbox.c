/* Mailbox: a singly linked list of small nodes under one mutex; a condition variable for
 * threads that wait, an eventfd for an owner that polls. See mailbox.h.
 *
 * Wake-ups are what a hand-off costs here (a system call each, and a context switch), so a
 * post makes only the ones that can matter: it signals the condition variable only when a
 * thread waits on it, and writes the eventfd only when it is not readable already (fd_armed:
 * written since the last ack). Both happen after the unlock, so the woken thread does not
 * block again on the mutex the poster still holds. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/mailbox.h"
#include "common/time-util.h"

typedef struct Node {
        struct Node *next;
        void *item;
} Node;

struct Mailbox {
        int efd;
        struct {
                pthread_mutex_t lock;
                pthread_cond_t cond;    /* an item posted, a kick, or closed */
                Node *head, *tail;
                size_t n;
                uint64_t kicks;
                unsigned waiters;       /* threads in mailbox_wait() */
                bool fd_armed;          /* the eventfd was written since the last ack */
                bool closed;
        } synced;
};

int mailbox_new(Mailbox **ret) {
        pthread_condattr_t attr;
        Mailbox *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (m->efd < 0) {
                int r = -errno;

                free(m);
                return r;
        }
        pthread_mutex_init(&m->synced.lock, NULL);
        /* deadlines on CLOCK_MONOTONIC: a wall-clock step must not stretch a wait */
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&m->synced.cond, &attr);
        pthread_condattr_destroy(&attr);
        *ret = m;
        return 0;
}

Mailbox *mailbox_free(Mailbox *m) {
        Node *n;

        if (!m)
                return NULL;
        while ((n = m->synced.head)) {
                m->synced.head = n->next;
                free(n);
        }
        pthread_cond_destroy(&m->synced.cond);
        pthread_mutex_destroy(&m->synced.lock);
        close(m->efd);
        free(m);
        return NULL;
}

static void signal_fd(Mailbox *m) {
        uint64_t one = 1;

        /* Fails only when the counter would overflow, which means "already readable". */
        (void) !write(m->efd, &one, sizeof(one));
}

/* Whether the eventfd needs a write: only the first post or kick after an ack. */
static bool arm_fd_locked(Mailbox *m) {
        bool write_it = !m->synced.fd_armed;

        m->synced.fd_armed = true;
        return write_it;
}

int mailbox_post(Mailbox *m, void *item) {
        bool wake, write_fd;
        Node *n;

        if (!item)
                return -EINVAL;
        n = malloc(sizeof(*n));
        if (!n)
                return -ENOMEM;
        *n = (Node) { .item = item };
        pthread_mutex_lock(&m->synced.lock);
        if (m->synced.closed) {
                pthread_mutex_unlock(&m->synced.lock);
                free(n);
                return -ESHUTDOWN;
        }
        if (m->synced.tail)
                m->synced.tail->next = n;
        else
                m->synced.head = n;
        m->synced.tail = n;
        m->synced.n++;
        wake = m->synced.waiters > 0;
        write_fd = arm_fd_locked(m);
        pthread_mutex_unlock(&m->synced.lock);
        /* After the unlock: every mailbox lives until its threads are joined, so it is still
         * there; a waiter that wakes on its own meanwhile finds the item under the lock. */
        if (wake)
                pthread_cond_signal(&m->synced.cond);
        if (write_fd)
                signal_fd(m);
        return 0;
}

static void *pop_locked(Mailbox *m) {
        Node *n = m->synced.head;
        void *item;

        if (!n)
                return NULL;
        m->synced.head = n->next;
        if (!m->synced.head)
                m->synced.tail = NULL;
        m->synced.n--;
        item = n->item;
        free(n);
        return item;
}

void *mailbox_pop(Mailbox *m) {
        void *item;

        pthread_mutex_lock(&m->synced.lock);
        item = pop_locked(m);
        pthread_mutex_unlock(&m->synced.lock);
        return item;
}

void *mailbox_wait(Mailbox *m, uint64_t timeout_usec) {
        struct timespec ts = { 0 };
        uint64_t kicks;
        void *item = NULL;

        if (timeout_usec != MAILBOX_FOREVER) {
                usec_t start = now(CLOCK_MONOTONIC);

                /* saturate: a huge timeout is a deadline far away, not one in the past */
                ts = timespec_store(timeout_usec > USEC_INFINITY - start ? USEC_INFINITY
                                                                          : start + timeout_usec);
        }
        pthread_mutex_lock(&m->synced.lock);
        kicks = m->synced.kicks;
        m->synced.waiters++;
        while (!m->synced.closed && !m->synced.head && m->synced.kicks == kicks) {
                if (timeout_usec == MAILBOX_FOREVER)
                        pthread_cond_wait(&m->synced.cond, &m->synced.lock);
                else if (pthread_cond_timedwait(&m->synced.cond, &m->synced.lock, &ts) == ETIMEDOUT)
                        break;
        }
        m->synced.waiters--;
        if (!m->synced.closed)
                item = pop_locked(m);
        pthread_mutex_unlock(&m->synced.lock);
        return item;
}

/* close and kick are one wake-up: they differ only in what changes under the lock. */
static void wake_all(Mailbox *m, bool close) {
        bool write_fd;

        pthread_mutex_lock(&m->synced.lock);
        if (close)
                m->synced.closed = true;
        else
                m->synced.kicks++;
        pthread_cond_broadcast(&m->synced.cond);
        write_fd = arm_fd_locked(m);
        pthread_mutex_unlock(&m->synced.lock);
        if (write_fd)
                signal_fd(m);
}

/* One consistent read of the state that mailbox_closed() and mailbox_size() report. */
static size_t snapshot(Mailbox *m, bool *ret_closed) {
        size_t n;

        pthread_mutex_lock(&m->synced.lock);
        n = m->synced.n;
        if (ret_closed)
                *ret_closed = m->synced.closed;
        pthread_mutex_unlock(&m->synced.lock);
        return n;
}

void mailbox_close(Mailbox *m) {
        wake_all(m, true);
}

bool mailbox_closed(Mailbox *m) {
        bool closed;

        (void) snapshot(m, &closed);
        return closed;
}

int mailbox_fd(Mailbox *m) {
        return m->efd;
}

void mailbox_ack_fd(Mailbox *m) {
        uint64_t v;

        /* Read first, disarm second: a post in between writes nothing (still armed), and its
         * item is popped by the owner, who pops after acking; every post after the disarm
         * writes the fd again. The other order could lose a wake-up. */
        (void) !read(m->efd, &v, sizeof(v));
        pthread_mutex_lock(&m->synced.lock);
        m->synced.fd_armed = false;
        pthread_mutex_unlock(&m->synced.lock);
}

void mailbox_kick(Mailbox *m) {
        wake_all(m, false);
}

size_t mailbox_size(Mailbox *m) {
        return snapshot(m, NULL);
}
