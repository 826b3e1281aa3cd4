/* Retry with backoff under a concurrency limit (issue 16): the JavaScript program of
 * tests/js/retry_limit.js written in vow's await form, line for line. A newcomer's port of
 * the 18-line JavaScript with reactions alone took 121 lines of C and a hand-written state
 * machine; with coroutines each JavaScript async function is one C function, and each
 * `await` one vow_await. tests/compare_retry.cmake runs this program and node on the
 * JavaScript and requires the same output, line for line.
 *
 * JavaScript                               vow, await form
 * const sleep = (ms, v) => new Promise(    sleep_v(loop, ms, v): a coroutine that awaits
 *     r => setTimeout(() => r(v), ms))     vow_sleep(loop, ms), then returns v
 * async function f(a, b) { ... }          a coroutine body, vow_result_t f_body(loop, arg),
 * f(a, b)                                  and f(loop, a, b), which packs the arguments and
 *                                          returns vow_async(loop, f_body, args, free)
 * Promise.race([a, b])                     vow_race(loop, (vow_t *[]){a, b}, 2, 0): the
 *                                          loser keeps running, as in JavaScript
 * sleep(50).then(() => { throw ... })      reject_after(loop, 50, "timeout"): awaits
 *                                          vow_sleep, then fails with that message
 * try { return await p } catch (e) { }     rc = vow_await(p, &o): 0 with o.value, else the
 *                                          error in o.error (e.message: vow_error_message)
 * throw new Error(`gave up on ${id}`)      return vow_fail(vow_error_newf(VOW_EUSER, ...))
 * Promise.all(workers)                     vow_all(loop, workers, LIMIT)
 * finally { running--; }                   the decrement on every path out of the try
 * an await's rejection, uncaught           return vow_rethrow(rc, &o): its error, handed on
 * main();                                  vow_main_async(amain, NULL)
 *
 * A cancellation (asyncio's, which JavaScript lacks) is never caught as a failed attempt:
 * it is handed on, so the clean exit of vow_main_async can stop what still runs (the
 * timeouts and slow fetches that lost their race). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

#define N_IDS 5
#define LIMIT 2

/* A string value of its own, as JavaScript's template literals make one. */
static vow_value_t string_value(const char *fmt, int n) {
    size_t len = (size_t)snprintf(NULL, 0, fmt, n) + 1;
    char *s = malloc(len);
    if (s == NULL) return vow_ptr("(out of memory)", NULL); /* a static string */
    snprintf(s, len, fmt, n);
    return vow_ptr(s, free);
}

/* ---- const sleep = (ms, v) => new Promise(r => setTimeout(() => r(v), ms)) ------------- */
typedef struct {
    uint64_t ms;
    vow_value_t v; /* owned until returned */
} sleep_arg_t;

static void sleep_arg_free(void *arg) {
    sleep_arg_t *a = arg;
    vow_value_release(&a->v); /* not handed over: the sleep was cancelled */
    free(a);
}

static vow_result_t sleep_body(vow_loop_t *loop, void *arg) {
    sleep_arg_t *a = arg;
    int rc = vow_await(vow_sleep(loop, a->ms), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL); /* cancelled: pass it on */
    vow_value_t v = a->v;
    a->v = vow_none();
    return vow_ok(v);
}

static vow_t *sleep_v(vow_loop_t *loop, uint64_t ms, vow_value_t v) {
    sleep_arg_t *a = malloc(sizeof *a);
    if (a == NULL) {
        vow_value_release(&v);
        return NULL; /* vow_await answers VOW_ENOMEM for it */
    }
    a->ms = ms;
    a->v = v;
    return vow_async(loop, sleep_body, a, sleep_arg_free);
}

/* ---- sleep(ms).then(() => { throw new Error(message); }) -------------------------------- */
typedef struct {
    uint64_t ms;
    const char *message; /* a string literal */
} reject_arg_t;

static vow_result_t reject_body(vow_loop_t *loop, void *arg) {
    const reject_arg_t *a = arg;
    int rc = vow_await(vow_sleep(loop, a->ms), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL);
    return vow_fail(vow_error_new(VOW_ETIMEDOUT, a->message));
}

static vow_t *reject_after(vow_loop_t *loop, uint64_t ms, const char *message) {
    reject_arg_t *a = malloc(sizeof *a);
    if (a == NULL) return NULL;
    a->ms = ms;
    a->message = message;
    return vow_async(loop, reject_body, a, free);
}

/* ---- function flaky(id, i) { return sleep(i < 3 ? 80 : 20, `data-${id}`); } ------------- */
static vow_t *flaky(vow_loop_t *loop, int id, int i) {
    return sleep_v(loop, i < 3 ? 80 : 20, string_value("data-%d", id));
}

/* ---- async function fetchWithRetry(id, attempts) ---------------------------------------- */
typedef struct {
    int id, attempts;
} retry_arg_t;

static vow_result_t retry_body(vow_loop_t *loop, void *arg) {
    const retry_arg_t *a = arg;
    for (int i = 1; i <= a->attempts; i++) {
        vow_t *racers[2] = {flaky(loop, a->id, i), reject_after(loop, 50, "timeout")};
        vow_outcome_t o;
        int rc = vow_await(vow_race(loop, racers, 2, 0), &o);
        if (rc == 0) return vow_ok(o.value); /* return await Promise.race(...) */
        if (rc == VOW_ECANCELED || o.state != VOW_REJECTED) return vow_rethrow(rc, &o);
        /* catch (e) */
        printf("attempt %d for %d failed: %s\n", i, a->id, vow_error_message(o.error));
        vow_outcome_release(&o);
        rc = vow_await(vow_sleep(loop, 10u << i), NULL); /* await sleep(10 * 2 ** i) */
        if (rc != 0) return vow_fail_code(rc, NULL);
    }
    return vow_fail(vow_error_newf(VOW_EUSER, "gave up on %d", a->id));
}

static vow_t *fetch_with_retry(vow_loop_t *loop, int id, int attempts) {
    retry_arg_t *a = malloc(sizeof *a);
    if (a == NULL) return NULL;
    a->id = id;
    a->attempts = attempts;
    return vow_async(loop, retry_body, a, free);
}

/* ---- async function mapLimit(items, limit, fn) ------------------------------------------ */
/* The pool the workers share. It lives in main's frame (amain), which outlives every
 * worker: amain awaits them all, and no worker fails (fn catches every failure). */
typedef struct {
    const int *items;
    size_t n, next;
    vow_async_fn fn;      /* called as fn(loop, (void *)(intptr_t)item) */
    vow_value_t *results; /* n values, in item order, owned */
} pool_t;

/* async function worker() */
static vow_result_t worker(vow_loop_t *loop, void *arg) {
    pool_t *p = arg;
    while (p->next < p->n) {
        size_t k = p->next++;
        vow_outcome_t o;
        int rc = vow_await(vow_async(loop, p->fn, (void *)(intptr_t)p->items[k], NULL), &o);
        if (rc != 0) return vow_rethrow(rc, &o);
        p->results[k] = o.value; /* results[k] = await fn(items[k]) */
    }
    return vow_ok_none();
}

/* await Promise.all(Array.from({ length: limit }, worker)) */
static int map_limit(vow_loop_t *loop, pool_t *p) {
    vow_t *workers[LIMIT];
    for (int w = 0; w < LIMIT; w++) workers[w] = vow_async(loop, worker, p, NULL);
    return vow_await(vow_all(loop, workers, LIMIT), NULL);
}

/* ---- async function main() -------------------------------------------------------------- */
static int running, most; /* let running = 0, most = 0 (main's; the closure's in JS) */

/* async (id) => { ... }: fetches one id, counted while it runs */
static vow_result_t fetch_one(vow_loop_t *loop, void *arg) {
    int id = (int)(intptr_t)arg;
    running++;
    most = running > most ? running : most;
    printf("start %d (%d running)\n", id, running);
    vow_outcome_t o;
    int rc = vow_await(fetch_with_retry(loop, id, id == 4 ? 2 : 3), &o);
    running--; /* finally */
    if (rc == 0) {
        printf("got %s\n", (const char *)vow_value_ptr(&o.value));
        return vow_ok(o.value);
    }
    if (rc == VOW_ECANCELED || o.state != VOW_REJECTED) return vow_rethrow(rc, &o);
    printf("%s\n", vow_error_message(o.error)); /* catch (e) { console.log(e.message) } */
    vow_outcome_release(&o);
    return vow_ok(vow_ptr("none", NULL));
}

static vow_result_t amain(vow_loop_t *loop, void *arg) {
    (void)arg;
    static const int ids[N_IDS] = {1, 2, 3, 4, 5};
    vow_value_t results[N_IDS];
    for (int k = 0; k < N_IDS; k++) results[k] = vow_none();
    pool_t pool = {ids, N_IDS, 0, fetch_one, results};
    int rc = map_limit(loop, &pool);
    if (rc == 0) {
        printf("results: ");
        for (int k = 0; k < N_IDS; k++)
            printf("%s%s", k ? ", " : "", (const char *)vow_value_ptr(&results[k]));
        printf("\n");
        printf("at most %d at once\n", most);
    }
    for (int k = 0; k < N_IDS; k++) vow_value_release(&results[k]);
    return rc == 0 ? vow_ok_none() : vow_fail_code(rc, NULL);
}

int main(void) { return vow_main_async(amain, NULL); } /* main(); */
