/* tests/test_resolve.c - vow_getaddrinfo and vow_set_resolver (vow/net.h): numeric lookups
 * through the real getaddrinfo (no DNS: literals and a numeric service), injected
 * resolvers that fail with each EAI code, answer a list or take their time on the pool
 * while the loop keeps ticking, cancellation before and during a lookup (the hook's result
 * freed with its free_fn, counted), the loop freed with lookups in flight, misuse, and
 * every allocation failing in turn.
 *
 * The hooks' lists are the C library's malloc (not vow's counted allocator), so the live
 * allocation checks see vow's memory only; each hook counts its calls and its frees. */
#define _GNU_SOURCE /* glibc's EAI_NODATA */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <time.h>

#include "helpers.h"

TestSuite(resolve, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 60);

/* ---- an injected resolver -------------------------------------------------------------- */
struct hook {
    int rc;              /* what it answers: 0 (a list) or an EAI code */
    int err;             /* errno set with EAI_SYSTEM */
    int nodes;           /* addresses in the list (0: 0 and no list) */
    uint16_t port;       /* of each address: port, port + 1, ... */
    int delay_ms;        /* sleeps this long on the pool first */
    int wait_go;         /* then waits for `go` (bounded: 10 s) */
    atomic_int go;       /* set by the test */
    atomic_int started;  /* calls begun */
    atomic_int calls;    /* calls finished */
    atomic_int frees;    /* lists freed through free_fn */
    atomic_int bad_free; /* free_fn with a list or ctx that is not the hook's */
    /* what the last call saw (written on the pool, read after the lookup settled) */
    char host[64], service[64];
    int host_null, service_null, hints_null;
    struct addrinfo hints;
    pthread_t thread;
};

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* A node and its address, one malloc each node. */
struct fake_node {
    struct addrinfo ai;
    struct sockaddr_in sin;
    unsigned magic;
};
#define FAKE_MAGIC 0x5eed1234u

static struct addrinfo *fake_list(int n, uint16_t port) {
    struct addrinfo *head = NULL, **tail = &head;
    for (int i = 0; i < n; i++) {
        struct fake_node *f = calloc(1, sizeof *f);
        cr_assert_not_null(f);
        f->magic = FAKE_MAGIC;
        f->sin.sin_family = AF_INET;
        f->sin.sin_port = htons((uint16_t)(port + i));
        f->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        f->ai.ai_family = AF_INET;
        f->ai.ai_socktype = SOCK_STREAM;
        f->ai.ai_protocol = IPPROTO_TCP;
        f->ai.ai_addrlen = sizeof f->sin;
        f->ai.ai_addr = (struct sockaddr *)&f->sin;
        *tail = &f->ai;
        tail = &f->ai.ai_next;
    }
    return head;
}

static int hook_fn(const char *host, const char *service, const struct addrinfo *hints,
                   struct addrinfo **res, void *ctx) {
    struct hook *h = ctx;
    atomic_fetch_add(&h->started, 1);
    h->thread = pthread_self();
    h->host_null = host == NULL;
    h->service_null = service == NULL;
    h->hints_null = hints == NULL;
    snprintf(h->host, sizeof h->host, "%s", host != NULL ? host : "");
    snprintf(h->service, sizeof h->service, "%s", service != NULL ? service : "");
    if (hints != NULL) h->hints = *hints;
    if (h->delay_ms > 0) sleep_ms(h->delay_ms);
    for (int i = 0; h->wait_go && !atomic_load(&h->go) && i < 10000; i++) sleep_ms(1);
    int rc = h->rc;
    if (rc == 0) *res = fake_list(h->nodes, h->port);
    if (rc == EAI_SYSTEM) errno = h->err;
    atomic_fetch_add(&h->calls, 1);
    return rc;
}

static void hook_free(struct addrinfo *res, void *ctx) {
    struct hook *h = ctx;
    if (res == NULL || ((struct fake_node *)res)->magic != FAKE_MAGIC)
        atomic_fetch_add(&h->bad_free, 1);
    while (res != NULL) {
        struct addrinfo *next = res->ai_next;
        free(res);
        res = next;
    }
    atomic_fetch_add(&h->frees, 1);
}

static vow_loop_t *loop_with(struct hook *h) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_resolver(loop, hook_fn, hook_free, h), 0);
    return loop;
}

/* Runs the lookup p (consumed) and answers its outcome (the caller releases it). */
static vow_outcome_t run(vow_loop_t *loop, vow_t *p) {
    cr_assert_not_null(p);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, p, &out), 0);
    return out;
}

static const struct addrinfo *list_of(const vow_outcome_t *out) {
    VOW_ASSERT_STATE(out->state, VOW_FULFILLED, "%s",
                     out->state == VOW_REJECTED ? vow_error_message(out->error) : "");
    cr_assert_eq(vow_value_kind(&out->value), VOW_VAL_PTR);
    const struct addrinfo *ai = vow_value_ptr(&out->value);
    cr_assert_not_null(ai);
    return ai;
}

/* ---- the real getaddrinfo, numeric -------------------------------------------------------- */

static const struct addrinfo numeric = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                                        .ai_socktype = SOCK_STREAM};

Test(resolve, ipv4_literal_and_numeric_service) {
    vow_loop_t *loop = vow_test_loop();
    char host[] = "127.0.0.1", service[] = "80";
    vow_t *p = vow_getaddrinfo(loop, host, service, &numeric);
    memset(host, 'x', sizeof host - 1); /* copied: the lookup does not read them later */
    memset(service, 'x', sizeof service - 1);
    vow_outcome_t out = run(loop, p);
    const struct addrinfo *ai = list_of(&out);
    int n = 0;
    for (; ai != NULL; ai = ai->ai_next, n++) {
        VOW_ASSERT_EQ(ai->ai_family, AF_INET);
        VOW_ASSERT_EQ(ai->ai_socktype, SOCK_STREAM);
        cr_assert_eq(ai->ai_addrlen, sizeof(struct sockaddr_in));
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
        VOW_ASSERT_EQ(ntohl(sin->sin_addr.s_addr), (uint32_t)INADDR_LOOPBACK);
        VOW_ASSERT_EQ(ntohs(sin->sin_port), 80);
    }
    VOW_ASSERT_EQ(n, 1);
    vow_outcome_release(&out); /* freeaddrinfo: valgrind and ASan would see a leak */
    VOW_TEST_END(loop);
}

Test(resolve, ipv6_literal) {
    vow_loop_t *loop = vow_test_loop();
    vow_outcome_t out = run(loop, vow_getaddrinfo(loop, "::1", "80", &numeric));
    const struct addrinfo *ai = list_of(&out);
    VOW_ASSERT_EQ(ai->ai_family, AF_INET6);
    cr_assert_eq(ai->ai_addrlen, sizeof(struct sockaddr_in6));
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ai->ai_addr;
    cr_assert(memcmp(&sin6->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback) == 0);
    VOW_ASSERT_EQ(ntohs(sin6->sin6_port), 80);
    VOW_ASSERT_EQ(ai->ai_next, (struct addrinfo *)NULL);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

/* A service alone (a passive lookup: the wildcard addresses) and a host alone (port 0);
 * no hints at all. */
Test(resolve, service_alone_host_alone_no_hints) {
    vow_loop_t *loop = vow_test_loop();
    struct addrinfo passive = numeric;
    passive.ai_flags |= AI_PASSIVE;
    passive.ai_family = AF_INET;
    vow_outcome_t out = run(loop, vow_getaddrinfo(loop, NULL, "80", &passive));
    const struct addrinfo *ai = list_of(&out);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
    VOW_ASSERT_EQ(ai->ai_family, AF_INET);
    VOW_ASSERT_EQ(ntohl(sin->sin_addr.s_addr), (uint32_t)INADDR_ANY);
    VOW_ASSERT_EQ(ntohs(sin->sin_port), 80);
    vow_outcome_release(&out);

    out = run(loop, vow_getaddrinfo(loop, "127.0.0.1", NULL, NULL));
    int n = 0;
    for (ai = list_of(&out); ai != NULL; ai = ai->ai_next, n++) {
        sin = (const struct sockaddr_in *)ai->ai_addr;
        VOW_ASSERT_EQ(ai->ai_family, AF_INET);
        VOW_ASSERT_EQ(ntohs(sin->sin_port), 0);
    }
    cr_assert_gt(n, 0); /* one per socket type */
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

/* The real getaddrinfo's own error, without DNS: a name where AI_NUMERICHOST wants a
 * literal is EAI_NONAME. */
Test(resolve, not_a_literal_with_numerichost_is_enoent) {
    vow_loop_t *loop = vow_test_loop();
    vow_outcome_t out = run(loop, vow_getaddrinfo(loop, "localhost", "80", &numeric));
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ENOENT);
    VOW_ASSERT_STR_EQ(vow_error_message(out.error), gai_strerror(EAI_NONAME));
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

/* ---- injected resolvers --------------------------------------------------------------------- */

/* Each EAI code as the header maps it, the message gai_strerror's; no list to free. */
Test(resolve, each_eai_code_maps_to_its_error) {
    static const struct {
        int eai, err, code;
    } rows[] = {
        {EAI_NONAME, 0, VOW_ENOENT},
#ifdef EAI_NODATA
        {EAI_NODATA, 0, VOW_ENOENT},
#endif
        {EAI_AGAIN, 0, VOW_EAGAIN},       {EAI_MEMORY, 0, VOW_ENOMEM},
        {EAI_SYSTEM, EMFILE, VOW_EMFILE}, {EAI_SYSTEM, ECONNREFUSED, VOW_ECONNREFUSED},
        {EAI_FAIL, 0, VOW_EINVAL},        {EAI_FAMILY, 0, VOW_EINVAL},
        {EAI_SERVICE, 0, VOW_EINVAL},     {EAI_BADFLAGS, 0, VOW_EINVAL},
    };
    struct hook h = {0};
    vow_loop_t *loop = loop_with(&h);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        h.rc = rows[i].eai;
        h.err = rows[i].err;
        vow_outcome_t out = run(loop, vow_getaddrinfo(loop, "name.invalid", "80", NULL));
        VOW_ASSERT_STATE(out.state, VOW_REJECTED, "row %zu", i);
        VOW_ASSERT_CODE(vow_error_code(out.error), rows[i].code, "row %zu (EAI %d)", i,
                        rows[i].eai);
        const char *msg = vow_error_message(out.error);
        cr_assert(strncmp(msg, gai_strerror(rows[i].eai), strlen(gai_strerror(rows[i].eai))) == 0,
                  "row %zu: message \"%s\" does not start with gai_strerror's \"%s\"", i, msg,
                  gai_strerror(rows[i].eai));
        vow_outcome_release(&out);
    }
    VOW_ASSERT_EQ(atomic_load(&h.calls), (int)(sizeof rows / sizeof rows[0]));
    VOW_ASSERT_EQ(atomic_load(&h.frees), 0, "an error has no list to free");
    VOW_TEST_END(loop);
}

/* EAI_SYSTEM from a resolver that left errno 0 still rejects (VOW_EINVAL), and "success"
 * with no list is VOW_ENOENT. */
Test(resolve, eai_system_without_errno_and_success_without_a_list) {
    struct hook h = {.rc = EAI_SYSTEM, .err = 0};
    vow_loop_t *loop = loop_with(&h);
    vow_outcome_t out = run(loop, vow_getaddrinfo(loop, "a", NULL, NULL));
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EINVAL);
    vow_outcome_release(&out);
    h.rc = 0;
    h.nodes = 0;
    out = run(loop, vow_getaddrinfo(loop, "a", NULL, NULL));
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ENOENT);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(atomic_load(&h.frees), 0);
    VOW_TEST_END(loop);
}

/* The hook's list reads the same through the value (every node, in order), the hook saw
 * copies of the strings and the hints, ran on a thread of the pool, and its list is freed
 * once, with its free_fn and ctx, when the value goes. */
Test(resolve, a_hooks_list_is_the_value_and_free_fn_frees_it) {
    struct hook h = {.rc = 0, .nodes = 3, .port = 8000};
    vow_loop_t *loop = loop_with(&h);
    char host[] = "example.test", service[] = "8000";
    struct addrinfo hints = {.ai_flags = AI_ADDRCONFIG,
                             .ai_family = AF_INET,
                             .ai_socktype = SOCK_STREAM,
                             .ai_protocol = IPPROTO_TCP,
                             .ai_canonname = (char *)"ignored"};
    vow_t *p = vow_getaddrinfo(loop, host, service, &hints);
    memset(host, 0, sizeof host);
    memset(service, 0, sizeof service);
    memset(&hints, 0xff, sizeof hints);
    vow_outcome_t out = run(loop, p);
    int n = 0;
    for (const struct addrinfo *ai = list_of(&out); ai != NULL; ai = ai->ai_next, n++) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
        VOW_ASSERT_EQ(ai->ai_family, AF_INET);
        VOW_ASSERT_EQ(ai->ai_protocol, IPPROTO_TCP);
        VOW_ASSERT_EQ(ntohs(sin->sin_port), 8000 + n);
        VOW_ASSERT_EQ(ntohl(sin->sin_addr.s_addr), (uint32_t)INADDR_LOOPBACK);
    }
    VOW_ASSERT_EQ(n, 3);
    VOW_ASSERT_STR_EQ(h.host, "example.test");
    VOW_ASSERT_STR_EQ(h.service, "8000");
    VOW_ASSERT_EQ(h.hints_null, 0);
    VOW_ASSERT_EQ(h.hints.ai_flags, AI_ADDRCONFIG);
    VOW_ASSERT_EQ(h.hints.ai_family, AF_INET);
    VOW_ASSERT_EQ(h.hints.ai_socktype, SOCK_STREAM);
    VOW_ASSERT_EQ(h.hints.ai_protocol, IPPROTO_TCP);
    VOW_ASSERT_EQ(h.hints.ai_canonname, (char *)NULL, "getaddrinfo's hints: the rest is 0");
    VOW_ASSERT_EQ(h.hints.ai_addr, (struct sockaddr *)NULL);
    VOW_ASSERT_EQ(h.hints.ai_next, (struct addrinfo *)NULL);
    cr_assert(!pthread_equal(h.thread, pthread_self()), "the hook ran on the loop's thread");
    VOW_ASSERT_EQ(atomic_load(&h.frees), 0, "the value still holds the list");
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(atomic_load(&h.frees), 1);
    VOW_ASSERT_EQ(atomic_load(&h.bad_free), 0);

    /* NULL host or service and no hints reach the hook as NULL. */
    h.nodes = 1;
    out = run(loop, vow_getaddrinfo(loop, NULL, "http", NULL));
    VOW_ASSERT_EQ(h.host_null, 1);
    VOW_ASSERT_EQ(h.service_null, 0);
    VOW_ASSERT_EQ(h.hints_null, 1);
    vow_outcome_release(&out);
    out = run(loop, vow_getaddrinfo(loop, "h", NULL, NULL));
    VOW_ASSERT_EQ(h.host_null, 0);
    VOW_ASSERT_EQ(h.service_null, 1);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(atomic_load(&h.frees), 3);
    VOW_TEST_END(loop);
}

/* A lookup keeps the resolver it started with; fn NULL goes back to getaddrinfo. */
Test(resolve, a_lookup_keeps_its_resolver_and_null_restores_getaddrinfo) {
    struct hook a = {.rc = 0, .nodes = 1, .port = 1}, b = {.rc = EAI_AGAIN};
    vow_loop_t *loop = loop_with(&a);
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT); /* pb rejects while pa is run */
    vow_t *pa = vow_getaddrinfo(loop, "x", NULL, NULL);
    VOW_ASSERT_CODE(vow_set_resolver(loop, hook_fn, hook_free, &b), 0);
    vow_t *pb = vow_getaddrinfo(loop, "x", NULL, NULL);
    VOW_ASSERT_CODE(vow_set_resolver(loop, NULL, NULL, NULL), 0);
    vow_t *pc = vow_getaddrinfo(loop, "127.0.0.1", "7", &numeric);
    vow_outcome_t out = run(loop, pa);
    VOW_ASSERT_EQ(ntohs(((struct sockaddr_in *)list_of(&out)->ai_addr)->sin_port), 1);
    vow_outcome_release(&out);
    out = run(loop, pb);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EAGAIN);
    vow_outcome_release(&out);
    out = run(loop, pc);
    VOW_ASSERT_EQ(ntohs(((struct sockaddr_in *)list_of(&out)->ai_addr)->sin_port), 7);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(atomic_load(&a.calls), 1);
    VOW_ASSERT_EQ(atomic_load(&b.calls), 1);
    VOW_ASSERT_EQ(atomic_load(&a.frees), 1);
    /* free_fn is ignored with fn NULL (not kept for a later hook). */
    VOW_ASSERT_CODE(vow_set_resolver(loop, NULL, hook_free, &a), 0);
    out = run(loop, vow_getaddrinfo(loop, "127.0.0.1", NULL, &numeric));
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(atomic_load(&a.frees), 1);
    VOW_TEST_END(loop);
}

/* ---- the loop goes on meanwhile ------------------------------------------------------------ */

static void tick(vow_loop_t *loop, void *arg) {
    (void)loop;
    ++*(int *)arg;
}

/* A 200 ms lookup on the pool, and a 5 ms interval on the loop: the interval ticks all
 * along (a count, not a time: about 40 expected, 10 asked). */
Test(resolve, an_interval_ticks_during_a_slow_lookup) {
    struct hook h = {.rc = 0, .nodes = 1, .port = 80, .delay_ms = 200};
    vow_loop_t *loop = loop_with(&h);
    int ticks = 0;
    vow_timer_t iv;
    VOW_ASSERT_CODE(vow_set_interval(loop, tick, &ticks, 5, &iv), 0);
    vow_outcome_t out = run(loop, vow_getaddrinfo(loop, "slow.test", "80", NULL));
    int at_end = ticks;
    list_of(&out);
    vow_outcome_release(&out);
    VOW_ASSERT_CODE(vow_clear_interval(loop, iv), 0);
    cr_assert_geq(at_end, 10, "the interval ticked %d times during a 200 ms lookup", at_end);
    VOW_ASSERT_EQ(atomic_load(&h.calls), 1);
    VOW_ASSERT_EQ(atomic_load(&h.frees), 1);
    VOW_TEST_END(loop);
}

/* ---- cancellation ------------------------------------------------------------------------- */

struct watch {
    atomic_int *flag;
    vow_t *p; /* resolved when *flag turns non-zero */
};
static void watch_cb(vow_loop_t *loop, void *arg) {
    (void)loop;
    struct watch *w = arg;
    if (atomic_load(w->flag) && vow_state(w->p) == VOW_PENDING) vow_resolve(w->p, vow_none());
}
/* Runs the loop until *flag (set on the pool) turns non-zero. */
static void run_until(vow_loop_t *loop, atomic_int *flag) {
    struct watch w = {flag, vow_new(loop)};
    vow_timer_t iv;
    VOW_ASSERT_CODE(vow_set_interval(loop, watch_cb, &w, 1, &iv), 0);
    VOW_ASSERT_CODE(vow_run(loop, w.p, NULL), 0);
    VOW_ASSERT_CODE(vow_clear_interval(loop, iv), 0);
}

/* A vow_timeout around a lookup that has started: the timeout rejects with ETIMEDOUT (the
 * lookup's promise is cancelled at once), the hook finishes on its thread, and its list is
 * freed with free_fn, once. */
Test(resolve, a_timeout_cancels_a_running_lookup_and_its_result_is_freed) {
    struct hook h = {.rc = 0, .nodes = 2, .wait_go = 1};
    vow_loop_t *loop = loop_with(&h);
    vow_t *p = vow_getaddrinfo(loop, "stuck.test", "80", NULL);
    cr_assert_not_null(p);
    run_until(loop, &h.started); /* the hook is running: the timeout cannot unqueue it */
    vow_outcome_t out = run(loop, vow_timeout(p, 10, 0));
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETIMEDOUT);
    VOW_ASSERT_CODE(vow_error_code(vow_error_cause(out.error)), VOW_ECANCELED);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(atomic_load(&h.calls), 0, "the hook still runs");
    atomic_store(&h.go, 1);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0); /* the job in flight lands */
    VOW_ASSERT_EQ(atomic_load(&h.calls), 1);
    VOW_ASSERT_EQ(atomic_load(&h.frees), 1, "the late list is freed with free_fn");
    VOW_ASSERT_EQ(atomic_load(&h.bad_free), 0);
    VOW_TEST_END(loop);
}

/* With one pool thread busy, a second lookup waits in the queue: cancelled there, its
 * resolver never runs. */
Test(resolve, a_cancelled_lookup_not_started_never_runs) {
    struct hook h = {.rc = 0, .nodes = 1, .wait_go = 1};
    vow_loop_t *loop = loop_with(&h);
    VOW_ASSERT_CODE(vow_loop_set_threads(loop, 1), 0);
    vow_t *first = vow_getaddrinfo(loop, "first", NULL, NULL);
    vow_t *second = vow_getaddrinfo(loop, "second", NULL, NULL);
    cr_assert_not_null(first);
    cr_assert_not_null(second);
    run_until(loop, &h.started);
    VOW_ASSERT_CODE(vow_cancel(second), 0);
    VOW_ASSERT_STATE(vow_state(second), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(second)), VOW_ECANCELED);
    vow_unref(second);
    atomic_store(&h.go, 1);
    vow_outcome_t out = run(loop, first);
    VOW_ASSERT_STR_EQ(h.host, "first");
    list_of(&out);
    vow_outcome_release(&out);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(atomic_load(&h.started), 1, "the cancelled lookup never ran");
    VOW_ASSERT_EQ(atomic_load(&h.frees), 1);
    VOW_TEST_END(loop);
}

/* vow_loop_free with one lookup running and one queued: the running one's list is freed
 * once it returns (the pool is joined), the queued one never runs. */
Test(resolve, loop_free_with_lookups_in_flight) {
    struct hook h = {.rc = 0, .nodes = 1, .delay_ms = 50};
    vow_loop_t *loop = loop_with(&h);
    VOW_ASSERT_CODE(vow_loop_set_threads(loop, 1), 0);
    vow_t *a = vow_getaddrinfo(loop, "a", NULL, NULL);
    vow_t *b = vow_getaddrinfo(loop, "b", NULL, NULL);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    run_until(loop, &h.started);
    vow_unref(a);
    vow_unref(b);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(atomic_load(&h.started), 1);
    VOW_ASSERT_EQ(atomic_load(&h.frees), 1);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}

/* ---- misuse and memory ------------------------------------------------------------------- */

Test(resolve, misuse) {
    struct hook h = {0};
    VOW_ASSERT_EQ(vow_getaddrinfo(NULL, "127.0.0.1", "80", NULL), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_set_resolver(NULL, hook_fn, hook_free, &h), VOW_EINVAL);
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_resolver(loop, hook_fn, NULL, &h), VOW_EINVAL, "fn without free_fn");
    vow_t *p = vow_getaddrinfo(loop, NULL, NULL, &numeric);
    cr_assert_not_null(p);
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    vow_outcome_t out = run(loop, p);
    vow_outcome_release(&out);
    /* The lookup's promise belongs to vow. */
    p = vow_getaddrinfo(loop, "127.0.0.1", NULL, &numeric);
    VOW_ASSERT_CODE(vow_resolve(p, vow_none()), VOW_EPERM);
    out = run(loop, p);
    list_of(&out);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(atomic_load(&h.calls), 0);
    VOW_TEST_END(loop);

    loop = vow_test_loop();
    vow_t *hold = vow_new(loop);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(vow_getaddrinfo(loop, "127.0.0.1", "80", NULL), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_set_resolver(loop, hook_fn, hook_free, &h), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_set_resolver(loop, NULL, NULL, NULL), VOW_ECLOSED);
    vow_unref(hold);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}

/* Every allocation failing in turn, on a fresh loop each time (the pool's first start
 * included), through a hook (its list's record too) and through getaddrinfo: NULL, or a
 * promise that fulfils with the list or rejects with VOW_ENOMEM (VOW_EAGAIN when no pool
 * thread could be started); the hook's list freed once for each call that made one; and
 * nothing left. The sweep ends at the first k that fails nothing. */
static void oom_sweep(int with_hook) {
    struct hook h = {.rc = 0, .nodes = 2, .port = 5};
    long k;
    for (k = 1; k <= 200; k++) {
        vow_loop_t *loop = vow_test_loop_without_pools();
        if (with_hook) VOW_ASSERT_CODE(vow_set_resolver(loop, hook_fn, hook_free, &h), 0);
        long failed_before = vow_test_failed_allocs();
        vow_test_fail_at(vow_test_alloc_total() + k);
        vow_t *p = vow_getaddrinfo(loop, "127.0.0.1", "5", &numeric);
        if (p != NULL) {
            vow_outcome_t out;
            VOW_ASSERT_CODE(vow_run(loop, p, &out), 0, "k %ld", k);
            if (out.state == VOW_FULFILLED) {
                const struct addrinfo *ai = list_of(&out);
                VOW_ASSERT_EQ(ntohs(((struct sockaddr_in *)ai->ai_addr)->sin_port), 5);
            } else {
                int code = vow_error_code(out.error);
                cr_assert(code == VOW_ENOMEM || code == VOW_EAGAIN, "k %ld: %s", k,
                          vow_err_name(code));
            }
            vow_outcome_release(&out);
        }
        long failed = vow_test_failed_allocs() - failed_before;
        vow_test_fail_at(0);
        VOW_ASSERT_EQ(atomic_load(&h.frees), atomic_load(&h.calls), "k %ld", k);
        VOW_ASSERT_EQ(atomic_load(&h.bad_free), 0);
        VOW_TEST_END(loop);
        if (failed == 0) break; /* k is past the last allocation */
    }
    cr_assert_leq(k, 200, "the sweep did not reach the end");
    cr_assert_gt(k, 2, "the sweep failed no allocation");
    if (with_hook) cr_assert_gt(atomic_load(&h.calls), 0);
}

Test(resolve, every_allocation_failing_in_turn_with_a_hook) { oom_sweep(1); }
Test(resolve, every_allocation_failing_in_turn_with_getaddrinfo) { oom_sweep(0); }
