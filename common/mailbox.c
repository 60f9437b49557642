/* Mailbox: a singly linked list of small nodes under one mutex; a stack of sleeping waiters,
 * each with a semaphore of its own, for threads that wait; an eventfd for an owner that polls.
 * See mailbox.h.
 *
 * Wake-ups are what a hand-off costs here (a system call each, and a context switch), so a
 * post makes only the ones that can matter. A post that finds a thread asleep hands it the
 * item directly (no node, no queue) and posts that thread's semaphore after the unlock: the
 * woken thread returns without taking the mutex again. A condition variable cost a third
 * system call per hand-off: glibc re-locks the mutex on the way out of pthread_cond_wait as
 * if contended, so the waiter's next unlock issued a FUTEX_WAKE for nobody (measured with
 * perf on the writer lanes: one per batch). The eventfd is written only when it is not
 * readable already (fd_armed: written since the last ack).
 *
 * Invariant: while a thread sleeps here, the queue is empty (a waiter sleeps only on an empty
 * queue, and every post meanwhile goes to a sleeping waiter). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
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

/* A thread asleep in mailbox_wait(), on its own stack. Whoever takes it off the stack (a post,
 * a kick, a close) sets item and then posts sem, exactly once. */
typedef struct Waiter {
        struct Waiter *next;
        void *item;
        sem_t sem;
} Waiter;

struct Mailbox {
        int efd;
        struct {
                pthread_mutex_t lock;
                Node *head, *tail;
                size_t n;
                Waiter *sleepers;       /* asleep in mailbox_wait(), the latest first */
                bool fd_armed;          /* the eventfd was written since the last ack */
                bool closed;
        } synced;
};

int mailbox_new(Mailbox **ret) {
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

/* Wakes a waiter taken off the stack under the lock; called after the unlock. The waiter may
 * return (and its stack frame go) as soon as the post lands: read nothing from it after. */
static void wake_waiter(Waiter *w) {
        sem_post(&w->sem);
}

int mailbox_post(Mailbox *m, void *item) {
        Waiter *sleeper = NULL;
        bool write_fd;
        Node *n;

        if (!item)
                return -EINVAL;
        /* Allocated before the lock, to keep the lock short; freed unused on a direct hand-off. */
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
        if (m->synced.sleepers) {
                /* the queue is empty (see the top): FIFO order holds */
                sleeper = m->synced.sleepers;
                m->synced.sleepers = sleeper->next;
                sleeper->item = item;
        } else {
                if (m->synced.tail)
                        m->synced.tail->next = n;
                else
                        m->synced.head = n;
                m->synced.tail = n;
                m->synced.n++;
                n = NULL;
        }
        write_fd = arm_fd_locked(m);
        pthread_mutex_unlock(&m->synced.lock);
        free(n);
        /* After the unlock: every mailbox lives until its threads are joined, so it is still
         * there, and the woken thread does not block on a mutex the poster still holds. */
        if (sleeper)
                wake_waiter(sleeper);
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

/* Sleeps on the waiter's own semaphore until posted or, with a deadline, until it passes.
 * Whether it was posted. */
static bool sleep_on(Waiter *me, const struct timespec *deadline) {
        int r;

        do
                /* deadlines on CLOCK_MONOTONIC: a wall-clock step must not stretch a wait */
                r = deadline ? sem_clockwait(&me->sem, CLOCK_MONOTONIC, deadline) : sem_wait(&me->sem);
        while (r < 0 && errno == EINTR);
        return r == 0;
}

/* Takes me off the stack of sleepers; false when a post, kick or close already did. */
static bool unlink_sleeper_locked(Mailbox *m, Waiter *me) {
        for (Waiter **p = &m->synced.sleepers; *p; p = &(*p)->next)
                if (*p == me) {
                        *p = me->next;
                        return true;
                }
        return false;
}

void *mailbox_wait(Mailbox *m, uint64_t timeout_usec) {
        struct timespec ts = { 0 };
        Waiter me = { 0 };
        void *item;

        if (timeout_usec != MAILBOX_FOREVER) {
                usec_t start = now(CLOCK_MONOTONIC);

                /* saturate: a huge timeout is a deadline far away, not one in the past */
                ts = timespec_store(timeout_usec > USEC_INFINITY - start ? USEC_INFINITY
                                                                          : start + timeout_usec);
        }
        pthread_mutex_lock(&m->synced.lock);
        if (m->synced.closed || m->synced.head || timeout_usec == 0) {
                item = m->synced.closed ? NULL : pop_locked(m);
                pthread_mutex_unlock(&m->synced.lock);
                return item;
        }
        sem_init(&me.sem, 0, 0);
        me.next = m->synced.sleepers;
        m->synced.sleepers = &me;
        pthread_mutex_unlock(&m->synced.lock);

        if (!sleep_on(&me, timeout_usec == MAILBOX_FOREVER ? NULL : &ts)) {
                bool mine;

                /* Timed out; but a post, kick or close that took me off the stack meanwhile
                 * posts the semaphore and may have handed me an item: wait for that post. */
                pthread_mutex_lock(&m->synced.lock);
                mine = unlink_sleeper_locked(m, &me);
                pthread_mutex_unlock(&m->synced.lock);
                if (!mine)
                        (void) sleep_on(&me, NULL);
        }
        sem_destroy(&me.sem);
        return me.item;
}

/* close and kick are one wake-up: they differ only in what changes under the lock. Every
 * sleeper wakes with no item. */
static void wake_all(Mailbox *m, bool close) {
        Waiter *sleepers;
        bool write_fd;

        pthread_mutex_lock(&m->synced.lock);
        if (close)
                m->synced.closed = true;
        sleepers = TAKE_PTR(m->synced.sleepers);
        write_fd = arm_fd_locked(m);
        pthread_mutex_unlock(&m->synced.lock);
        while (sleepers) {
                Waiter *next = sleepers->next;

                wake_waiter(sleepers);
                sleepers = next;
        }
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
