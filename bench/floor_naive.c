/* bench/floor_naive.c - the naive C floor for W1-W3 (issue 7) and W6-W7 (issue 14): the
 * least a promise can do, and the least a queue and a semaphore of such promises can do.
 *
 * A promise is a malloc'd struct with a state, an integer-or-pointer value, a reference
 * count and a singly linked list of reactions; a reaction is one malloc'd record that, once
 * its promise settles, becomes a job in an intrusive FIFO (the record is the queue node).
 * One malloc per promise and one per reaction; no error path (nothing rejects), no libev,
 * no allocator hook, no re-entrancy guards, nothing vow's contract asks for beyond the
 * ECMAScript job order. Ownership mirrors vow's so the workloads read the same: then and
 * the combinators consume the caller's reference to their inputs.
 *
 * The queue (W6) is a ring of its bound's size with two FIFO lists of waiting promises
 * (getters; putters with their items), the semaphore (W7) a count and one such list: a
 * waiter is handed its item or permit directly (no reservation, no cancellation), and
 * put, get and acquire return an already settled promise when nothing has to wait.
 *
 *   floor-naive <w1|w2|w3|w6|w7> [N] [--inject-wrong]     (W4 and W5 exit 3: no floor here)
 */
#include <inttypes.h>

#include "bench.h"

typedef union nval {
    int64_t i;
    void *p;
} nval;

typedef struct np np;
typedef struct nr nr;

struct np {
    int settled;
    int refs;
    nval value;
    nr *head, *tail; /* reactions, pending only */
};

struct nr {
    nr *next;                            /* in its promise's list, then in the job queue */
    void (*run)(nr *r);                  /* the job */
    int64_t (*fn)(int64_t v, void *ctx); /* then: the user's reaction */
    void *ctx;
    np *derived; /* then: the promise it settles (owned reference) */
    long index;  /* combinators: the input's index */
    nval value;  /* the settled value, copied in when queued */
};

static struct { nr *head, *tail; } jobs;

static void job_push(nr *r) {
    r->next = NULL;
    if (jobs.tail)
        jobs.tail->next = r;
    else
        jobs.head = r;
    jobs.tail = r;
}

static void drain(void) {
    while (jobs.head) {
        nr *r = jobs.head;
        jobs.head = r->next;
        if (jobs.head == NULL) jobs.tail = NULL;
        r->run(r);
        free(r);
    }
}

static np *np_new(void) {
    np *p = malloc(sizeof *p);
    if (p == NULL) abort();
    p->settled = 0;
    p->refs = 1;
    p->value.i = 0;
    p->head = p->tail = NULL;
    return p;
}

static np *np_ref(np *p) {
    p->refs++;
    return p;
}

static void np_unref(np *p) {
    if (--p->refs == 0) free(p);
}

static void np_resolve(np *p, nval v) {
    if (p->settled) return;
    p->settled = 1;
    p->value = v;
    for (nr *r = p->head, *next; r; r = next) {
        next = r->next;
        r->value = v;
        job_push(r);
    }
    p->head = p->tail = NULL;
}

static np *np_resolved(int64_t i) {
    np *p = np_new();
    np_resolve(p, (nval){.i = i});
    return p;
}

/* PerformPromiseThen: queue at once when settled, else append. Consumes p. */
static void np_subscribe(np *p, nr *r) {
    if (p->settled) {
        r->value = p->value;
        job_push(r);
    } else {
        r->next = NULL;
        if (p->tail)
            p->tail->next = r;
        else
            p->head = r;
        p->tail = r;
    }
    np_unref(p);
}

static nr *nr_new(void (*run)(nr *r), void *ctx) {
    nr *r = malloc(sizeof *r);
    if (r == NULL) abort();
    r->run = run;
    r->ctx = ctx;
    r->fn = NULL;
    r->derived = NULL;
    r->index = 0;
    return r;
}

static void then_run(nr *r) {
    np_resolve(r->derived, (nval){.i = r->fn(r->value.i, r->ctx)});
    np_unref(r->derived);
}

static np *np_then(np *p, int64_t (*fn)(int64_t, void *), void *ctx) {
    np *d = np_new();
    nr *r = nr_new(then_run, ctx);
    r->fn = fn;
    r->derived = np_ref(d);
    np_subscribe(p, r);
    return d;
}

/* all: fulfils with a malloc'd array of the values (the caller frees it). */
typedef struct {
    np *result;
    long remaining;
    int64_t *vals;
} nall;

static void all_run(nr *r) {
    nall *st = r->ctx;
    st->vals[r->index] = r->value.i;
    if (--st->remaining == 0) {
        np_resolve(st->result, (nval){.p = st->vals});
        np_unref(st->result);
        free(st);
    }
}

static np *np_all(np **ps, long n) {
    np *res = np_new();
    nall *st = malloc(sizeof *st);
    if (st == NULL || (st->vals = malloc((size_t)n * sizeof *st->vals)) == NULL) abort();
    st->result = np_ref(res);
    st->remaining = n;
    for (long i = 0; i < n; i++) {
        nr *r = nr_new(all_run, st);
        r->index = i;
        np_subscribe(ps[i], r);
    }
    return res;
}

/* race, and any (without an error path, any is the first fulfilment: the same thing). */
typedef struct {
    np *result;
    long remaining;
} nfirst;

static void first_run(nr *r) {
    nfirst *st = r->ctx;
    np_resolve(st->result, r->value); /* ignored once settled */
    if (--st->remaining == 0) {
        np_unref(st->result);
        free(st);
    }
}

static np *np_first(np **ps, long n) {
    np *res = np_new();
    nfirst *st = malloc(sizeof *st);
    if (st == NULL) abort();
    st->result = np_ref(res);
    st->remaining = n;
    for (long i = 0; i < n; i++) np_subscribe(ps[i], nr_new(first_run, st));
    return res;
}
#define np_race np_first
#define np_any np_first

/* ---- W1 ------------------------------------------------------------------------------- */

static int64_t add1(int64_t v, void *ctx) {
    (void)ctx;
    return v + 1;
}

static int64_t add2(int64_t v, void *ctx) {
    (void)ctx;
    return v + 2;
}

static int w1(const bench_args *a) {
    uint64_t t0 = bench_wall_ns();
    np *p = np_resolved(0);
    for (long i = 0; i < a->n; i++) p = np_then(p, a->inject_wrong && i == 0 ? add2 : add1, NULL);
    drain();
    uint64_t t1 = bench_wall_ns();
    int64_t got = p->settled ? p->value.i : -1;
    np_unref(p);
    if (got != a->n) return bench_wrong(a, "chain ended at %" PRId64 ", expected %ld", got, a->n);
    bench_report(a, (double)(t1 - t0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}

/* ---- W2 ------------------------------------------------------------------------------- */

static int w2(const bench_args *a) {
    np **ps = malloc((size_t)a->n * sizeof *ps);
    if (ps == NULL) abort();
    uint64_t t0 = bench_wall_ns();
    for (long i = 0; i < a->n; i++) ps[i] = np_ref(np_new());
    np *all = np_all(ps, a->n);
    for (long i = 0; i < a->n; i++) {
        np_resolve(ps[i], (nval){.i = a->inject_wrong && i == 0 ? 1 : i});
        np_unref(ps[i]);
    }
    drain();
    uint64_t t1 = bench_wall_ns();
    free(ps);
    if (!all->settled) return bench_wrong(a, "all never settled");
    int64_t *vals = all->value.p;
    np_unref(all);
    for (long i = 0; i < a->n; i++)
        if (vals[i] != i) {
            int rc = bench_wrong(a, "all's value %ld is %" PRId64, i, vals[i]);
            free(vals);
            return rc;
        }
    free(vals);
    bench_report(a, (double)(t1 - t0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}

/* ---- W3 ------------------------------------------------------------------------------- */

enum { W3_WIDTH = 10 };

typedef struct {
    long round, n;
    int seen;
    int inject_wrong;
    int64_t sum;
} w3_state;

static void w3_round(w3_state *s);

static int64_t w3_got(int64_t v, void *ctx) {
    w3_state *s = ctx;
    s->sum += v;
    if (++s->seen == 2) {
        s->seen = 0;
        if (++s->round < s->n) w3_round(s);
    }
    return 0;
}

static void w3_round(w3_state *s) {
    np *ps[W3_WIDTH];
    for (int i = 0; i < W3_WIDTH; i++) ps[i] = np_ref(np_ref(np_new()));
    np_unref(np_then(np_race(ps, W3_WIDTH), w3_got, s));
    np_unref(np_then(np_any(ps, W3_WIDTH), w3_got, s));
    int64_t base = (int64_t)s->round * W3_WIDTH;
    int reverse = s->inject_wrong && s->round == 0;
    for (int i = 0; i < W3_WIDTH; i++) {
        int k = reverse ? W3_WIDTH - 1 - i : i;
        np_resolve(ps[k], (nval){.i = base + k});
        np_unref(ps[k]);
    }
}

static int w3(const bench_args *a) {
    w3_state s = {.n = a->n, .inject_wrong = a->inject_wrong};
    uint64_t t0 = bench_wall_ns();
    w3_round(&s);
    drain();
    uint64_t t1 = bench_wall_ns();
    int64_t want = (int64_t)10 * a->n * (a->n - 1);
    if (s.round != a->n || s.sum != want)
        return bench_wrong(a, "%ld rounds summed to %" PRId64 ", expected %ld rounds and %" PRId64,
                           s.round, s.sum, a->n, want);
    bench_report(a, (double)(t1 - t0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}

/* ---- waiters: a FIFO of pending promises, each with an item ----------------------------- */

typedef struct nw nw;
struct nw {
    nw *next;
    np *p; /* owned reference */
    int64_t item;
};

typedef struct {
    nw *head, *tail;
} nwlist;

static void nw_push(nwlist *l, np *p, int64_t item) {
    nw *w = malloc(sizeof *w);
    if (w == NULL) abort();
    w->next = NULL;
    w->p = np_ref(p);
    w->item = item;
    if (l->tail)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
}

/* Takes the first waiter off the list: its promise (the reference it held) and its item. */
static np *nw_pop(nwlist *l, int64_t *item) {
    nw *w = l->head;
    l->head = w->next;
    if (l->head == NULL) l->tail = NULL;
    np *p = w->p;
    if (item) *item = w->item;
    free(w);
    return p;
}

static void np_settle(np *p, int64_t v) {
    np_resolve(p, (nval){.i = v});
    np_unref(p);
}

/* ---- W6: the queue -------------------------------------------------------------------- */

typedef struct {
    int64_t *ring;
    long cap, head, len;
    nwlist getters, putters;
} nqueue;

static np *nq_put(nqueue *q, int64_t item) {
    if (q->getters.head) { /* a waiting getter takes it */
        np_settle(nw_pop(&q->getters, NULL), item);
        return np_resolved(0);
    }
    if (q->len < q->cap) {
        q->ring[(q->head + q->len++) % q->cap] = item;
        return np_resolved(0);
    }
    np *p = np_new();
    nw_push(&q->putters, p, item);
    return p;
}

static np *nq_get(nqueue *q) {
    if (q->len == 0) {
        np *p = np_new();
        nw_push(&q->getters, p, 0);
        return p;
    }
    int64_t item = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    if (q->putters.head) { /* the first waiting putter's item takes the freed slot */
        int64_t put;
        np *p = nw_pop(&q->putters, &put);
        q->ring[(q->head + q->len++) % q->cap] = put;
        np_settle(p, 0);
    }
    return np_resolved(item);
}

typedef struct {
    const bench_args *a;
    nqueue q;
    long put, got, first_bad;
    int64_t sum;
} w6_state;

static int64_t w6_put_next(int64_t v, void *ctx);
static int64_t w6_got(int64_t v, void *ctx);

static void w6_put(w6_state *s) {
    int64_t item = bench_w6_item(s->a, s->put++);
    np_unref(np_then(nq_put(&s->q, item), w6_put_next, s));
}

static void w6_get(w6_state *s) { np_unref(np_then(nq_get(&s->q), w6_got, s)); }

static int64_t w6_put_next(int64_t v, void *ctx) {
    (void)v;
    w6_state *s = ctx;
    if (s->put < s->a->n) w6_put(s);
    return 0;
}

static int64_t w6_got(int64_t v, void *ctx) {
    w6_state *s = ctx;
    if (v != s->got && s->first_bad < 0) s->first_bad = s->got;
    s->sum += v;
    if (++s->got < s->a->n) w6_get(s);
    return 0;
}

static int w6(const bench_args *a) {
    w6_state s = {.a = a, .first_bad = -1};
    uint64_t t0 = bench_wall_ns();
    s.q.cap = BENCH_W6_BOUND;
    s.q.ring = malloc(BENCH_W6_BOUND * sizeof *s.q.ring);
    if (s.q.ring == NULL) abort();
    w6_put(&s); /* the producer, then the consumer, as bench.js starts them */
    w6_get(&s);
    drain();
    uint64_t t1 = bench_wall_ns();
    free(s.q.ring);
    int rc = bench_w6_check(a, s.got, s.sum, s.first_bad);
    if (rc != 0) return rc;
    bench_report(a, (double)(t1 - t0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}

/* ---- W7: the semaphore ---------------------------------------------------------------- */

typedef struct {
    uint32_t value;
    nwlist waiters;
} nsem;

static np *nsem_acquire(nsem *s) {
    if (s->value > 0 && s->waiters.head == NULL) {
        s->value--;
        return np_resolved(0);
    }
    np *p = np_new();
    nw_push(&s->waiters, p, 0);
    return p;
}

static void nsem_release(nsem *s) {
    if (s->waiters.head)
        np_settle(nw_pop(&s->waiters, NULL), 0); /* the permit passes on */
    else
        s->value++;
}

typedef struct {
    nsem sem;
    long running, peak, done;
} w7_state;

static int64_t w7_acquired(int64_t v, void *ctx) {
    (void)v;
    w7_state *s = ctx;
    if (++s->running > s->peak) s->peak = s->running;
    return 0;
}

static int64_t w7_hopped(int64_t v, void *ctx) {
    (void)v;
    w7_state *s = ctx;
    s->running--;
    s->done++;
    nsem_release(&s->sem);
    return 0;
}

static int w7(const bench_args *a) {
    np **ps = malloc((size_t)a->n * sizeof *ps);
    if (ps == NULL) abort();
    w7_state s = {.sem = {.value = bench_w7_permits(a)}};
    uint64_t t0 = bench_wall_ns();
    for (long i = 0; i < a->n; i++)
        ps[i] = np_then(np_then(nsem_acquire(&s.sem), w7_acquired, &s), w7_hopped, &s);
    np *all = np_all(ps, a->n);
    drain();
    uint64_t t1 = bench_wall_ns();
    free(ps);
    int settled = all->settled;
    if (settled) free(all->value.p);
    np_unref(all);
    if (!settled) return bench_wrong(a, "all never settled");
    int rc = bench_w7_check(a, s.done, s.peak);
    if (rc != 0) return rc;
    bench_report(a, (double)(t1 - t0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}

int main(int argc, char **argv) {
    bench_args a;
    if (bench_parse(argc, argv, "naive", &a) != 0) return BENCH_EXIT_USAGE;
    switch (a.w) {
    case 1: return w1(&a);
    case 2: return w2(&a);
    case 3: return w3(&a);
    case 6: return w6(&a);
    case 7: return w7(&a);
    default: return bench_unsupported(&a);
    }
}
