/* Section 10.7, "running blocking code from async code": blocking file I/O and a CPU-heavy
 * sum run in the loop's thread pool while a 100 ms interval keeps ticking on the loop; then
 * "running async code from sync code": a plain function that runs a promise to its end on
 * a loop of its own.
 *
 * Python construct                         C rendering here
 * loop.run_in_executor(None, blocking_io)  vow_work(loop, blocking_io, NULL, NULL): the
 *                                          function runs on a pool thread and returns a
 *                                          vow_result_t; the promise settles on the loop
 * a task looping on asyncio.sleep(0.1)     vow_set_interval(loop, tick, NULL, 100, &id)
 * asyncio.run(async_function()) in a       sync_wrapper(): vow_loop_new, vow_run_main (runs
 * plain function                           until the promise settles, then cancels what is
 *                                          left and frees the loop), the outcome's value
 *
 * The blocking I/O writes a megabyte to a temporary file, reads it back and sleeps a second
 * (the chapter's time.sleep(1), a slow device). The ticks are counted, not printed: about
 * ten happen during that second, so the program prints whether there were at least 5.
 * Compare with examples/py/ch10_7_executor.py. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vow.h"

static int ticks;

static void tick(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    ticks++;
}

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

static vow_timer_t ticker;

static vow_result_t cpu_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    printf("result: %lld\n", (long long)vow_value_int(v));
    vow_clear_interval(loop, ticker); /* t.cancel() */
    return vow_ok_none();
}

static vow_result_t io_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    printf("result: %s\n", (const char *)vow_value_ptr(v));
    printf("the loop kept ticking meanwhile: %s\n\n", ticks >= 5 ? "True" : "False");
    printf("=== CPU-heavy work in the thread pool ===\n");
    fflush(stdout);
    return vow_follow(vow_then_ok(vow_work(loop, cpu_intensive, NULL, NULL), cpu_done, NULL));
}

/* async def demo_executor() */
static vow_t *demo_executor(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_set_interval(loop, tick, NULL, 100, &ticker);
    printf("=== blocking I/O in the thread pool ===\n");
    fflush(stdout);
    return vow_then_ok(vow_work(loop, blocking_io, NULL, NULL), io_done, NULL);
}

/* async def async_function(): await asyncio.sleep(1); return "async result" */
static vow_result_t give_result(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    return vow_ok(vow_ptr("async result", NULL)); /* a static string: no destructor */
}

/* def sync_wrapper(): asyncio.run(async_function()) from plain code. */
static const char *sync_wrapper(void) {
    vow_loop_t *loop;
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return NULL;
    vow_outcome_t out;
    int rc = vow_run_main(loop, vow_then_ok(vow_sleep(loop, 1000), give_result, NULL), &out);
    const char *result = rc == 0 && out.state == VOW_FULFILLED ? vow_value_ptr(&out.value) : NULL;
    vow_outcome_release(&out);
    return result;
}

int main(void) {
    int status = vow_main(demo_executor, NULL);
    if (status != 0) return status;
    printf("\n=== async code from sync code ===\n");
    const char *result = sync_wrapper();
    printf("%s\n", result != NULL ? result : "(failed)");
    return result != NULL ? 0 : 1;
}
