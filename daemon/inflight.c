/* The in-flight message table: a doubly linked list (at most workers + a few messages, so a
 * scan is cheaper than any index) and the deadline arithmetic of inflight.h. */
#include <errno.h>
#include <stdlib.h>

#include "common/aws/sqs.h"
#include "daemon/inflight.h"

struct Inflight {
        InflightOptions o;
        InflightMsg *head;
        unsigned n;
        uint64_t next_id;
};

int inflight_new(const InflightOptions *o, Inflight **ret) {
        Inflight *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        t->o = *o;
        t->o.visibility_timeout = MAX(t->o.visibility_timeout, 1u);
        t->o.retry_delay_min = MAX(t->o.retry_delay_min, 1u);
        t->o.retry_delay_max = MAX(t->o.retry_delay_max, t->o.retry_delay_min);
        if (t->o.ceiling_usec == 0)
                t->o.ceiling_usec = (uint64_t) SQS_VISIBILITY_CEILING_S * USEC_PER_SEC;
        *ret = t;
        return 0;
}

Inflight *inflight_free(Inflight *t) {
        if (!t)
                return NULL;
        while (t->head)
                inflight_remove(t, t->head);
        free(t);
        return NULL;
}

InflightMsg *inflight_add(Inflight *t, PollerMessage *pm) {
        InflightMsg *m = calloc(1, sizeof(*m));

        if (!m)
                return NULL;
        m->id = ++t->next_id;
        m->msg = pm;
        m->received_usec = pm->received_usec;
        m->visible_at_usec = pm->received_usec + (uint64_t) t->o.visibility_timeout * USEC_PER_SEC;
        m->all_final = true;
        m->next = t->head;
        if (t->head)
                t->head->prev = m;
        t->head = m;
        t->n++;
        return m;
}

InflightMsg *inflight_find(Inflight *t, uint64_t id) {
        for (InflightMsg *m = t->head; m; m = m->next)
                if (m->id == id)
                        return m;
        return NULL;
}

void inflight_remove(Inflight *t, InflightMsg *m) {
        if (m->prev)
                m->prev->next = m->next;
        else
                t->head = m->next;
        if (m->next)
                m->next->prev = m->prev;
        t->n--;
        poller_message_free(m->msg);
        free(m);
}

InflightMsg *inflight_first(Inflight *t) {
        return t->head;
}

unsigned inflight_count(const Inflight *t) {
        return t->n;
}

uint64_t inflight_ceiling_at(const Inflight *t, const InflightMsg *m) {
        return m->received_usec + t->o.ceiling_usec;
}

uint64_t inflight_extend_due(const Inflight *t, const InflightMsg *m) {
        uint64_t lead = (uint64_t) t->o.visibility_timeout * USEC_PER_SEC / 2;

        if (m->settle == INFLIGHT_RELEASING || m->extending || m->ceiling_reached)
                return UINT64_MAX;
        if (m->retry_at_usec)
                return m->retry_at_usec;
        /* half a timeout ahead: room for a failed extension to be redone before the lapse */
        return m->visible_at_usec > lead ? m->visible_at_usec - lead : 0;
}

uint64_t inflight_next_due(const Inflight *t) {
        uint64_t due = UINT64_MAX;

        for (const InflightMsg *m = t->head; m; m = m->next)
                due = MIN(due, inflight_extend_due(t, m));
        return due;
}

bool inflight_plan_extend(Inflight *t, InflightMsg *m, uint64_t now, unsigned *ret_timeout,
                          uint64_t *ret_call_timeout_usec) {
        uint64_t ceiling = inflight_ceiling_at(t, m), room, timeout, call;

        if (m->settle == INFLIGHT_RELEASING || m->extending || m->ceiling_reached)
                return false;
        room = ceiling > now + INFLIGHT_CEILING_MARGIN_USEC ? ceiling - now - INFLIGHT_CEILING_MARGIN_USEC : 0;
        timeout = MIN((uint64_t) t->o.visibility_timeout, room / USEC_PER_SEC);
        timeout = MIN(timeout, (uint64_t) SQS_VISIBILITY_TIMEOUT_MAX);
        if (timeout == 0 || now + timeout * USEC_PER_SEC <= m->visible_at_usec) {
                /* asking for less than it already has would shorten it */
                m->ceiling_reached = true;
                m->retry_at_usec = 0;
                return false;
        }
        /* the call must end before the message lapses; after a lapse, try briefly anyway (it
         * may not have been received again yet) */
        call = m->visible_at_usec > now + USEC_PER_SEC / 4 ? m->visible_at_usec - now - USEC_PER_SEC / 4 : 0;
        call = MIN(MAX(call, INFLIGHT_CALL_TIMEOUT_MIN_USEC), INFLIGHT_CALL_TIMEOUT_MAX_USEC);
        m->extending = true;
        *ret_timeout = (unsigned) timeout;
        *ret_call_timeout_usec = call;
        return true;
}

void inflight_extended(Inflight *t, InflightMsg *m, uint64_t sent_usec, unsigned timeout, bool ok,
                       uint64_t now) {
        uint64_t gap;

        m->extending = false;
        if (ok) {
                /* SQS counts the new timeout from when it handled the call: not before we sent it */
                m->visible_at_usec = MAX(m->visible_at_usec, sent_usec + (uint64_t) timeout * USEC_PER_SEC);
                m->extend_failures = 0;
                m->retry_at_usec = 0;
                return;
        }
        m->extend_failures++;
        gap = INFLIGHT_RETRY_GAP_USEC;
        if (m->visible_at_usec <= now)
                /* lapsed already: keep trying, but calmly */
                gap = MIN((uint64_t) m->extend_failures, 5u) * USEC_PER_SEC;
        else if (m->visible_at_usec < now + gap + USEC_PER_SEC / 2)
                /* the next try must still land before the lapse */
                gap = m->visible_at_usec > now + USEC_PER_SEC / 2 ? m->visible_at_usec - now - USEC_PER_SEC / 2 : 0;
        m->retry_at_usec = now + gap;
}

bool inflight_ceiling_warning(Inflight *t, InflightMsg *m, uint64_t now) {
        uint64_t ahead = MAX(2ULL * t->o.visibility_timeout * USEC_PER_SEC, 15ULL * 60 * USEC_PER_SEC);

        ahead = MIN(ahead, t->o.ceiling_usec / 2);
        if (m->ceiling_warned || now + ahead < inflight_ceiling_at(t, m))
                return false;
        m->ceiling_warned = true;
        return true;
}

unsigned inflight_retry_delay(const Inflight *t, const InflightMsg *m, uint64_t now) {
        unsigned rc = MAX(m->msg->sqs->receive_count, 1u) - 1;
        uint64_t delay = t->o.retry_delay_max, ceiling = inflight_ceiling_at(t, m), room;

        if (rc < 32)
                delay = MIN((uint64_t) t->o.retry_delay_min << rc, (uint64_t) t->o.retry_delay_max);
        room = ceiling > now + INFLIGHT_CEILING_MARGIN_USEC ? (ceiling - now - INFLIGHT_CEILING_MARGIN_USEC) / USEC_PER_SEC : 0;
        delay = MIN(delay, room);
        return (unsigned) MIN(delay, (uint64_t) SQS_VISIBILITY_TIMEOUT_MAX);
}
