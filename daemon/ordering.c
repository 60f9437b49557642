/* Ordering groups. See ordering.h.
 *
 * A linked list of groups, each with its waiting items in key order (insertion sort). The
 * daemon holds at most workers + the lent receive slots of messages (loop.c), so lists stay
 * short and a scan is cheaper than any index. A group that runs nothing and has nothing
 * waiting is freed at once. */
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/time-util.h"
#include "daemon/status.h"
#include "daemon/ordering.h"

/* Separates the parts of a group name: no pipeline name, and no MessageGroupId (printable
 * ASCII: Amazon SQS API Reference, SendMessage), can hold it. */
#define SEP "\x1f"
#define FIFO_TAG "\x1e" "fifo"

typedef struct Item {
        struct Item *next;
        void *item;
        const void *unit;
        char *fifo_sequence;
        char *sequencer;
        int64_t time_usec;
        bool has_time;
        uint64_t arrival;
        uint64_t eligible_at;
} Item;

typedef struct Group {
        struct Group *next;
        char *name;
        const void *running;    /* the unit that runs, NULL when idle */
        Item *waiting;          /* in key order */
} Group;

struct Ordering {
        Group *groups;
        uint64_t arrivals;
        unsigned n_waiting;
};

/* ---- keys ---- */

static int decimal_cmp(const char *a, const char *b) {
        size_t na, nb;
        int c;

        while (*a == '0' && a[1])
                a++;
        while (*b == '0' && b[1])
                b++;
        na = strlen(a);
        nb = strlen(b);
        if (na != nb)
                return na < nb ? -1 : 1;
        c = strcmp(a, b);
        return c < 0 ? -1 : c > 0;
}

static bool all_digits(const char *s) {
        if (!s || !*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

int ordering_key_cmp(const OrderKey *a, const OrderKey *b) {
        if (all_digits(a->fifo_sequence) && all_digits(b->fifo_sequence)) {
                int c = decimal_cmp(a->fifo_sequence, b->fifo_sequence);

                if (c)
                        return c;
        }
        if (a->has_time && b->has_time && a->time_usec != b->time_usec)
                return a->time_usec < b->time_usec ? -1 : 1;
        return job_sequencer_cmp(a->sequencer ? a->sequencer : "", b->sequencer ? b->sequencer : "");
}

static int digits(const char **p, int n, int *ret) {
        int v = 0;

        for (int i = 0; i < n; i++, (*p)++) {
                if (**p < '0' || **p > '9')
                        return -EINVAL;
                v = v * 10 + (**p - '0');
        }
        *ret = v;
        return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse). */
static int64_t days_from_civil(int y, int m, int d) {
        int64_t era, yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

int ordering_parse_time(const char *s, int64_t *ret_usec) {
        int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
        int64_t frac = 0, scale = (int64_t) USEC_PER_SEC;
        const char *p = s;

        if (!s || digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
            digits(&p, 2, &d) < 0 || (*p != 'T' && *p != 't') || !*p++ || digits(&p, 2, &h) < 0 ||
            *p++ != ':' || digits(&p, 2, &mi) < 0 || *p++ != ':' || digits(&p, 2, &sec) < 0)
                return -EINVAL;
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                /* digits past the microsecond are read and dropped */
                for (; *p >= '0' && *p <= '9'; p++)
                        if (scale > 1) {
                                scale /= 10;
                                frac += (*p - '0') * scale;
                        }
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                sign = *p++ == '+' ? 1 : -1;
                if (digits(&p, 2, &oh) < 0 || *p++ != ':' || digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
                        return -EINVAL;
        } else
                return -EINVAL;
        if (*p)
                return -EINVAL;
        *ret_usec = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
                     sign * (oh * 3600 + om * 60)) * (int64_t) USEC_PER_SEC + frac;
        return 0;
}

/* ---- group names ---- */

static int group_by_regex(const PipelineSpec *p, const char *key, char **ret) {
        regmatch_t m[2];
        regex_t re;
        int r;

        /* The loader compiled it already (conf/pipeline.c); failing here is only ENOMEM. */
        if (regcomp(&re, p->ordering.group_regex, REG_EXTENDED) != 0)
                return -ENOMEM;
        r = regexec(&re, key, 2, m, 0);
        if (r != 0)
                r = asprintf(ret, "%s" SEP, p->name);   /* no match: the one shared group */
        else {
                const regmatch_t *g = re.re_nsub >= 1 && m[1].rm_so >= 0 ? &m[1] : &m[0];

                r = asprintf(ret, "%s" SEP "%.*s", p->name, (int) (g->rm_eo - g->rm_so), key + g->rm_so);
        }
        regfree(&re);
        return r < 0 ? -ENOMEM : 0;
}

int ordering_group_for(const PipelineSpec *p, const char *key, char **ret) {
        const char *slash;
        int r;

        switch (p->ordering.mode) {
        case ORDERING_GLOBAL:
                r = asprintf(ret, "%s" SEP, p->name);
                break;
        case ORDERING_PER_PREFIX:
                if (p->ordering.group_regex)
                        return group_by_regex(p, key, ret);
                slash = strrchr(key, '/');
                r = asprintf(ret, "%s" SEP "%.*s", p->name, slash ? (int) (slash - key) : 0, key);
                break;
        default:
                *ret = NULL;
                return 0;
        }
        return r < 0 ? -ENOMEM : 0;
}

int ordering_fifo_group(const char *message_group_id, char **ret) {
        return asprintf(ret, FIFO_TAG SEP "%s", message_group_id) < 0 ? -ENOMEM : 0;
}

/* ---- the table ---- */

int ordering_new(Ordering **ret) {
        *ret = calloc(1, sizeof(Ordering));
        return *ret ? 0 : -ENOMEM;
}

static Item *item_free(Item *it) {
        if (!it)
                return NULL;
        free(it->fifo_sequence);
        free(it->sequencer);
        free(it);
        return NULL;
}
DEFINE_CLEANUP_FUNC(Item *, item_free);

static void group_free(Group *g) {
        while (g->waiting) {
                Item *it = g->waiting;

                g->waiting = it->next;
                item_free(it);
        }
        free(g->name);
        free(g);
}

Ordering *ordering_free(Ordering *o) {
        if (!o)
                return NULL;
        while (o->groups) {
                Group *g = o->groups;

                o->groups = g->next;
                group_free(g);
        }
        free(o);
        return NULL;
}

static Group *group_find(Ordering *o, const char *name) {
        for (Group *g = o->groups; g; g = g->next)
                if (strcmp(g->name, name) == 0)
                        return g;
        return NULL;
}

static Group *group_running(Ordering *o, const void *unit) {
        for (Group *g = o->groups; g; g = g->next)
                if (unit && g->running == unit)
                        return g;
        return NULL;
}

/* Frees g when it runs nothing and nothing waits in it. */
static void group_maybe_drop(Ordering *o, Group *g) {
        if (g->running || g->waiting)
                return;
        for (Group **pp = &o->groups; *pp; pp = &(*pp)->next)
                if (*pp == g) {
                        *pp = g->next;
                        group_free(g);
                        return;
                }
}

static int item_cmp(const Item *a, const Item *b) {
        OrderKey ka = { a->fifo_sequence, a->time_usec, a->has_time, a->sequencer },
                 kb = { b->fifo_sequence, b->time_usec, b->has_time, b->sequencer };
        int c = ordering_key_cmp(&ka, &kb);

        return c ? c : a->arrival < b->arrival ? -1 : a->arrival > b->arrival;
}

int ordering_add(Ordering *o, const char *group, const OrderKey *key, const void *unit, void *item,
                 uint64_t eligible_at_usec) {
        Group *g = group_find(o, group);
        _cleanup_(item_freep) Item *it = calloc(1, sizeof(*it));
        Item **pp;

        if (!it)
                return -ENOMEM;
        *it = (Item) { .item = item, .unit = unit, .time_usec = key->time_usec, .has_time = key->has_time,
                       .arrival = ++o->arrivals, .eligible_at = eligible_at_usec };
        if ((key->fifo_sequence && !(it->fifo_sequence = strdup(key->fifo_sequence))) ||
            (key->sequencer && !(it->sequencer = strdup(key->sequencer))))
                return -ENOMEM;
        if (!g) {
                _cleanup_free_ Group *ng = calloc(1, sizeof(*ng));

                if (!ng || !(ng->name = strdup(group)))
                        return -ENOMEM;
                g = TAKE_PTR(ng);
                g->next = o->groups;
                o->groups = g;
        }
        for (pp = &g->waiting; *pp && item_cmp(*pp, it) <= 0; pp = &(*pp)->next)
                ;
        it->next = *pp;
        *pp = TAKE_PTR(it);
        o->n_waiting++;
        return 0;
}

static void *pop_head(Ordering *o, Group *g) {
        Item *it = g->waiting;
        void *item = it->item;

        g->waiting = it->next;
        o->n_waiting--;
        item_free(it);
        return item;
}

void *ordering_pop_ready(Ordering *o, uint64_t now) {
        for (Group *g = o->groups; g; g = g->next) {
                const Item *head = g->waiting;

                if (!head)
                        continue;
                if (g->running && head->unit == g->running)
                        return pop_head(o, g);
                if (!g->running && head->eligible_at <= now) {
                        g->running = head->unit;
                        return pop_head(o, g);
                }
        }
        return NULL;
}

bool ordering_done(Ordering *o, const void *unit) {
        Group *g = group_running(o, unit);

        if (!g)
                return false;
        g->running = NULL;
        group_maybe_drop(o, g);
        return true;
}

void *ordering_take_behind(Ordering *o, const void *unit) {
        Group *g = group_running(o, unit);

        return g && g->waiting ? pop_head(o, g) : NULL;
}

void *ordering_take_any(Ordering *o) {
        for (Group *g = o->groups; g; g = g->next)
                if (g->waiting) {
                        void *item = pop_head(o, g);

                        group_maybe_drop(o, g);
                        return item;
                }
        return NULL;
}

uint64_t ordering_next_due(const Ordering *o) {
        uint64_t due = UINT64_MAX;

        for (const Group *g = o->groups; g; g = g->next)
                if (!g->running && g->waiting)
                        due = MIN(due, g->waiting->eligible_at);
        return due;
}

unsigned ordering_n_waiting(const Ordering *o) {
        return o->n_waiting;
}
