/* Mailbox: a locked FIFO of opaque pointers between threads, with two ways to wait for it.
 *
 * A thread that only consumes (a worker, a writer lane, an SQS lane) blocks in
 * mailbox_wait(), optionally with a deadline; an owner that sits in an event loop (sd-event,
 * poll) watches mailbox_fd(), an eventfd made readable by every post, and takes items with
 * mailbox_pop(). Every hand-off between the daemon's threads goes through one of these, so
 * the locking and wake-up logic exists once.
 *
 * The mailbox never looks at or frees the items: whoever posts hands the item over whole, and
 * whoever pops owns it. Posting never blocks (the caller bounds how much it posts) and fails
 * only with -ENOMEM, or -ESHUTDOWN once the mailbox is closed. Thread-safe throughout.
 *
 * Errors are codes only, no S3bError: a thread primitive's -ENOMEM, -ESHUTDOWN or eventfd's
 * errno say all there is, and the daemon, which alone knows which hand-off failed, logs it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

typedef struct Mailbox Mailbox;

/* 0, -ENOMEM, or the negative errno of eventfd(2). */
int mailbox_new(Mailbox **ret);
/* Items still inside are dropped without being freed: pop them first. */
Mailbox *mailbox_free(Mailbox *m);
DEFINE_CLEANUP_FUNC(Mailbox *, mailbox_free);

/* Appends item (not NULL). 0, -EINVAL, -ENOMEM, -ESHUTDOWN after mailbox_close(). */
int mailbox_post(Mailbox *m, void *item);
/* The oldest item, or NULL when empty. Never blocks. */
void *mailbox_pop(Mailbox *m);

#define MAILBOX_FOREVER UINT64_MAX
/* Waits up to timeout_usec (MAILBOX_FOREVER: no limit) for an item. NULL on timeout, and at
 * once after mailbox_close() (items left inside stay poppable with mailbox_pop()). */
void *mailbox_wait(Mailbox *m, uint64_t timeout_usec);

/* Wakes every waiter for good and refuses further posts. */
void mailbox_close(Mailbox *m);
bool mailbox_closed(Mailbox *m);

/* Readable (EPOLLIN) after a post or mailbox_kick(); mailbox_ack_fd() reads it back to
 * unreadable. Ack before popping, so a post that races the pops leaves the fd readable. */
int mailbox_fd(Mailbox *m);
void mailbox_ack_fd(Mailbox *m);
/* Makes the fd readable and wakes waiters without posting (a state change to look at). */
void mailbox_kick(Mailbox *m);

size_t mailbox_size(Mailbox *m);
