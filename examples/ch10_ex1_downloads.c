/* Chapter 10, exercise 1, "concurrent downloads": four files, simulated at 0.1 s per MB,
 * downloaded at once; the results are listed in the order the files were given, and the
 * total time is the largest file's (1.5 s), not the sum (3.3 s).
 *
 * Python construct                      C rendering here
 * async def download_file(name, size)   download_file(): prints, then returns
 *                                       vow_then_ok(vow_sleep(loop, size * 100), finished, ...)
 * return {"filename":..., "size":...,   vow_ok(vow_ptr(result, free)): a malloc'd struct
 *         "status": "completed"}        the promise owns
 * gather(*[download_file(n, s) ...])    vow_all(loop, downloads, N_FILES)
 * for result in results                 vow_list_of(v), vow_list_value(list, i)
 * asyncio.run(main())                   vow_main(demo, NULL)
 *
 * Compare with examples/py/ch10_ex1_downloads.py (examples/check.py does). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    const char *filename;
    int size; /* MB */
} file_t;

/* What download_file returns. */
typedef struct {
    const char *filename;
    int size;
    const char *status;
} download_t;

#define N_FILES 4
static const file_t files[N_FILES] = {
    {"file1.zip", 10}, {"file2.zip", 5}, {"file3.zip", 15}, {"file4.zip", 3}};

static double start;

/* The rest of download_file after its await. */
static vow_result_t finished(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    const file_t *f = ctx;
    printf("finished %s\n", f->filename);
    download_t *d = malloc(sizeof *d);
    if (d == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    d->filename = f->filename;
    d->size = f->size;
    d->status = "completed";
    return vow_ok(vow_ptr(d, free));
}

/* async def download_file(filename, size): 0.1 s per MB */
static vow_t *download_file(vow_loop_t *loop, const file_t *f) {
    printf("downloading %s (%d MB)...\n", f->filename, f->size);
    return vow_then_ok(vow_sleep(loop, (uint64_t)f->size * 100), finished, (void *)f);
}

static vow_result_t report(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    const vow_list_t *results = vow_list_of(v);
    printf("\n=== downloads ===\n");
    for (size_t i = 0; i < vow_list_len(results); i++) {
        const download_t *d = vow_value_ptr(vow_list_value(results, i));
        printf("  {'filename': '%s', 'size': %d, 'status': '%s'}\n", d->filename, d->size,
               d->status);
    }
    int total_size = 0;
    for (size_t i = 0; i < N_FILES; i++) total_size += files[i].size;
    printf("\ntotal size: %d MB\n", total_size);
    printf("total time: %.2f s\n", now_s() - start);
    printf("(one after another it would take %.1f s)\n", total_size * 0.1);
    return vow_ok_none();
}

/* async def main() */
static vow_t *demo(vow_loop_t *loop, void *arg) {
    (void)arg;
    start = now_s();
    vow_t *downloads[N_FILES];
    for (size_t i = 0; i < N_FILES; i++) downloads[i] = download_file(loop, &files[i]);
    return vow_then_ok(vow_all(loop, downloads, N_FILES), report, NULL);
}

/* asyncio.run(main()) */
int main(void) { return vow_main(demo, NULL); }
