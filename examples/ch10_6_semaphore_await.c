/* Section 10.6, "limiting concurrency (Semaphore)", in await form: the await form of
 * examples/ch10_6_semaphore.c (issue 16), the same program written with coroutines, which
 * reads line for line like examples/py/ch10_6_semaphore.py (check.py compares them): eight
 * simulated requests of one second each, at most three at once, so the whole takes about
 * three seconds.
 *
 * Python                                vow, await form
 * asyncio.Semaphore(3)                  vow_sem_new(loop, 3)
 * async with semaphore:                 vow_await(vow_sem_acquire(sem), ...); the body;
 *     ...                               vow_sem_release(sem) however the body ended (a
 *                                       cancelled sleep included)
 * return f"data of {url}"               vow_ok(vow_ptr(text, free))
 * tasks = [fetch_with_semaphore(...)]   vow_async(loop, fetch_with_semaphore, &requests[i]):
 * await asyncio.gather(*tasks)          each runs at once up to its acquire (asyncio starts
 *                                       the gathered coroutines in the next turn); then
 *                                       vow_await(vow_all(loop, tasks, N), &results)
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_semaphore())         vow_main_async(demo_semaphore, NULL)
 *
 * Lines printed at the same instant (three requests end, three start) come in another
 * order than in asyncio (a waiting acquire is granted one microtask after the release, an
 * asyncio task resumes in a later turn: see the README), so check.py compares the lines as
 * a set, and both programs print the highest number of requests in flight at once (3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int in_flight = 0;
static int most = 0;

/* fetch_with_semaphore's arguments: (semaphore, url, id). */
typedef struct {
    vow_sem_t *semaphore;
    char url[16];
    int id;
} request_t;

/* async def fetch_with_semaphore(semaphore, url, id): a request that holds one of the
 * semaphore's permits */
static vow_result_t fetch_with_semaphore(vow_loop_t *loop, void *arg) {
    request_t *r = arg;
    vow_outcome_t o;
    int rc = vow_await(vow_sem_acquire(r->semaphore), &o); /* async with semaphore: */
    if (rc != 0) return vow_rethrow(rc, &o);
    in_flight += 1;
    most = in_flight > most ? in_flight : most;
    printf("[%d] start: %s\n", r->id, r->url);
    rc = vow_await(vow_sleep(loop, 1000), &o); /* the simulated request */
    if (rc != 0) {
        vow_sem_release(r->semaphore); /* (leaving the async with by an exception) */
        return vow_rethrow(rc, &o);
    }
    printf("[%d] done: %s\n", r->id, r->url);
    in_flight -= 1;
    vow_sem_release(r->semaphore); /* (leaving the async with) */
    char *text = malloc(32);
    if (text == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(text, 32, "data of %s", r->url);
    return vow_ok(vow_ptr(text, free)); /* return f"data of {url}" */
}

#define N 8

/* async def demo_semaphore() */
static vow_result_t demo_semaphore(vow_loop_t *loop, void *arg) {
    (void)arg;
    static request_t requests[N]; /* (the tasks' arguments: not on this coroutine's stack) */
    vow_sem_t *semaphore = vow_sem_new(loop, 3); /* at most 3 at once */
    if (semaphore == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    printf("%d requests, at most 3 at once\n\n", N);
    double start = now_s();
    vow_t *tasks[N];
    for (int i = 0; i < N; i++) {
        requests[i] = (request_t){.semaphore = semaphore, .id = i};
        snprintf(requests[i].url, sizeof requests[i].url, "url%d", i);
        tasks[i] = vow_async(loop, fetch_with_semaphore, &requests[i], NULL);
    }
    vow_outcome_t results;
    int rc = vow_await(vow_all(loop, tasks, N), &results);
    if (rc != 0) {
        vow_sem_free(semaphore);
        return vow_rethrow(rc, &results);
    }
    printf("\nall done: %zu results, at most %d at once\n",
           vow_list_len(vow_list_of(&results.value)), most);
    printf("total time: %.2f s\n", now_s() - start);
    vow_outcome_release(&results);
    vow_sem_free(semaphore);
    return vow_ok_none();
}

int main(void) { return vow_main_async(demo_semaphore, NULL); } /* asyncio.run(demo_semaphore()) */
