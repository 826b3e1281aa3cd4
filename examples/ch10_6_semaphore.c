/* Section 10.6, "limiting concurrency (Semaphore)": eight simulated requests of one second
 * each, at most three at once (a vow_sem_t of 3), so the whole takes about three seconds.
 *
 * Python construct                       C rendering here
 * asyncio.Semaphore(3)                   vow_sem_new(loop, 3)
 * async with semaphore: ...              vow_then_ok(vow_sem_acquire(sem), start, req): the
 *                                        body runs once the permit is held, and
 *                                        vow_sem_release when it ends (done())
 * await asyncio.sleep(1)                 vow_then_ok(vow_sleep(loop, 1000), done, req)
 * return f"data of {url}"                vow_ok(vow_ptr(text, free))
 * gather(*tasks)                         vow_all(loop, fetches, N)
 *
 * Lines printed at the same instant (three requests end, three start) come in another
 * order than in asyncio: when a request releases its permit, the next request starts one
 * microtask later, before the timer of the next finishing request runs, while asyncio
 * resumes the waiting task in a later turn. examples/check.py compares the lines as a set,
 * and both programs print the highest number of requests in flight at once (3).
 * Compare with examples/py/ch10_6_semaphore.py. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vow.h"

#define N 8

typedef struct {
    int id;
    char url[16];
} request_t;

static request_t requests[N];
static vow_sem_t *sem;
static int in_flight, most;
static double start;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The end of the `async with` body: the request is done, the permit goes back. */
static vow_result_t done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    request_t *r = ctx;
    printf("[%d] done: %s\n", r->id, r->url);
    in_flight--;
    vow_sem_release(sem); /* async with's exit */
    char *text = malloc(32);
    if (text == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(text, 32, "data of %s", r->url);
    return vow_ok(vow_ptr(text, free));
}

/* The body, once the permit is held. */
static vow_result_t body(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    request_t *r = ctx;
    if (++in_flight > most) most = in_flight;
    printf("[%d] start: %s\n", r->id, r->url);
    return vow_follow(vow_then_ok(vow_sleep(loop, 1000), done, r));
}

/* async def fetch_with_semaphore(semaphore, url, id) */
static vow_t *fetch_with_semaphore(request_t *r) {
    return vow_then_ok(vow_sem_acquire(sem), body, r);
}

static vow_result_t report(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    printf("\nall done: %zu results, at most %d at once\n", vow_list_len(vow_list_of(v)), most);
    printf("total time: %.2f s\n", now_s() - start);
    vow_sem_free(sem);
    return vow_ok_none();
}

/* async def demo_semaphore() */
static vow_t *demo_semaphore(vow_loop_t *loop, void *arg) {
    (void)arg;
    sem = vow_sem_new(loop, 3);
    if (sem == NULL) return NULL;
    printf("%d requests, at most 3 at once\n\n", N);
    start = now_s();
    vow_t *fetches[N];
    for (int i = 0; i < N; i++) {
        requests[i].id = i;
        snprintf(requests[i].url, sizeof requests[i].url, "url%d", i);
        fetches[i] = fetch_with_semaphore(&requests[i]);
    }
    return vow_then_ok(vow_all(loop, fetches, N), report, NULL);
}

int main(void) { return vow_main(demo_semaphore, NULL); }
