/* Section 10.7, "running blocking code from async code", in await form: the await form of
 * examples/ch10_7_executor.c (issue 16), the same program written with coroutines, which
 * reads line for line like examples/py/ch10_7_executor.py (check.py compares them):
 * blocking file I/O and a CPU-heavy sum run in the loop's thread pool while a ticker task
 * keeps ticking every 100 ms on the loop; then "running async code from sync code": a
 * plain function that runs a coroutine to its end on a loop of its own.
 *
 * Python                                    vow, await form
 * def blocking_io(), def cpu_intensive()    plain functions (vow_work_fn), run on a pool
 *                                           thread: they must not await or touch the loop
 * await loop.run_in_executor(None, f)       vow_await(vow_work(loop, f, NULL, NULL), &o)
 * async def ticker(): while True: ...       a coroutine body looping on vow_sleep(100)
 * t = asyncio.create_task(ticker())         vow_create_task_async(loop, ticker, NULL, NULL)
 * t.cancel()                                vow_cancel(t): the ticker's await answers
 *                                           VOW_ECANCELED, and it returns
 * an exception out of an await              return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_executor())              vow_main_async(demo_executor, NULL)
 * asyncio.run(async_function()) in a        sync_wrapper(): vow_loop_new, then
 * plain function                            vow_run_main(loop, vow_async(loop,
 *                                           async_function, ...), &out): runs until the
 *                                           coroutine finishes, then frees the loop
 *
 * The blocking I/O writes a megabyte to a temporary file, reads it back and sleeps a second
 * (the chapter's time.sleep(1), a slow device). The ticks are counted, not printed: about
 * ten happen during that second, so the program prints whether there were at least 5.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "vow.h"

static int ticks = 0;

/* def blocking_io(): on a pool thread. */
static vow_result_t blocking_io(vow_work_t *job, void *arg) {
    (void)job, (void)arg;
    printf("  blocking I/O starts...\n");
    fflush(stdout);
    char dir[] = "/tmp/vow-ch10_7-XXXXXX";
    if (mkdtemp(dir) == NULL) return vow_fail_code(VOW_EUSER, "mkdtemp");
    char path[64];
    snprintf(path, sizeof path, "%s/data.bin", dir);
    unsigned char block[256];
    for (int i = 0; i < 256; i++) block[i] = (unsigned char)i;
    size_t n = 0;
    FILE *f = fopen(path, "wb");
    if (f != NULL) {
        for (int i = 0; i < 4096; i++) fwrite(block, 1, sizeof block, f);
        fclose(f);
    }
    if ((f = fopen(path, "rb")) != NULL) {
        size_t got;
        while ((got = fread(block, 1, sizeof block, f)) > 0) n += got;
        fclose(f);
    }
    remove(path);
    rmdir(dir);
    struct timespec second = {1, 0};
    nanosleep(&second, NULL);
    printf("  blocking I/O done\n");
    fflush(stdout);
    char *text = malloc(48);
    if (text == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(text, 48, "IO result: %zu bytes", n);
    return vow_ok(vow_ptr(text, free));
}

/* def cpu_intensive(): on a pool thread. */
static vow_result_t cpu_intensive(vow_work_t *job, void *arg) {
    (void)job, (void)arg;
    printf("  CPU work starts...\n");
    fflush(stdout);
    int64_t total = 0;
    for (int64_t i = 0; i < 1000000; i++) total += i * i;
    printf("  CPU work done\n");
    fflush(stdout);
    return vow_ok_int(total);
}

/* async def ticker() */
static vow_result_t ticker(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t o;
    while (1) {
        int rc = vow_await(vow_sleep(loop, 100), &o);
        if (rc != 0) return vow_rethrow(rc, &o); /* cancelled: t.cancel() */
        ticks += 1;
    }
}

/* async def demo_executor() */
static vow_result_t demo_executor(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t result;
    vow_t *t = vow_create_task_async(loop, ticker, NULL, NULL);

    printf("=== blocking I/O in the thread pool ===\n");
    fflush(stdout); /* (the pool thread prints next) */
    int rc = vow_await(vow_work(loop, blocking_io, NULL, NULL), &result);
    if (rc != 0) {
        vow_cancel(t);
        vow_unref(t);
        return vow_rethrow(rc, &result);
    }
    printf("result: %s\n", (const char *)vow_value_ptr(&result.value));
    vow_outcome_release(&result);
    printf("the loop kept ticking meanwhile: %s\n\n", ticks >= 5 ? "True" : "False");

    printf("=== CPU-heavy work in the thread pool ===\n");
    fflush(stdout);
    rc = vow_await(vow_work(loop, cpu_intensive, NULL, NULL), &result);
    vow_cancel(t); /* t.cancel() (also when the work failed) */
    vow_unref(t);
    if (rc != 0) return vow_rethrow(rc, &result);
    printf("result: %lld\n", (long long)vow_value_int(&result.value));
    vow_outcome_release(&result);
    return vow_ok_none();
}

/* async def async_function() */
static vow_result_t async_function(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t o;
    int rc = vow_await(vow_sleep(loop, 1000), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    return vow_ok(vow_ptr("async result", NULL)); /* a static string: no destructor */
}

/* def sync_wrapper(): sync code that runs async code (asyncio.run). NULL on failure. */
static const char *sync_wrapper(void) {
    vow_loop_t *loop;
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return NULL;
    vow_outcome_t out;
    int rc = vow_run_main(loop, vow_async(loop, async_function, NULL, NULL), &out);
    const char *result = rc == 0 && out.state == VOW_FULFILLED ? vow_value_ptr(&out.value) : NULL;
    vow_outcome_release(&out);
    return result;
}

int main(void) {
    int status = vow_main_async(demo_executor, NULL); /* asyncio.run(demo_executor()) */
    if (status != 0) return status;
    printf("\n=== async code from sync code ===\n");
    const char *result = sync_wrapper();
    printf("%s\n", result != NULL ? result : "(failed)");
    return result != NULL ? 0 : 1;
}
