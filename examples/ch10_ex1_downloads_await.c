/* Chapter 10, exercise 1, "concurrent downloads", in await form: the await form of
 * examples/ch10_ex1_downloads.c (issue 16), the same program written with coroutines,
 * which reads line for line like examples/py/ch10_ex1_downloads.py (check.py compares
 * them): four files, simulated at 0.1 s per MB, downloaded at once; the results are listed
 * in the order the files were given, and the total time is the largest file's (1.5 s),
 * not the sum (3.3 s).
 *
 * Python                                vow, await form
 * async def download_file(name, size)   a coroutine body; arg is the (name, size) pair
 * return {"filename":..., "size":...,   vow_ok(vow_ptr(result, free)): a malloc'd struct
 *         "status": "completed"}        the coroutine's promise owns
 * await asyncio.gather(                 vow_await(vow_all(loop, downloads, N_FILES), &o):
 *   *[download_file(n, s) ...])         each vow_async runs up to its sleep, so the
 *                                       "downloading" lines come first, in order
 * for result in results                 vow_list_of(&o.value), vow_list_value(list, i)
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(main())                   vow_main_async(amain, NULL)
 */
#include <stdint.h>
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

/* async def download_file(filename, size): simulates downloading `size` MB at 0.1 s per MB */
static vow_result_t download_file(vow_loop_t *loop, void *arg) {
    const file_t *f = arg;
    vow_outcome_t o;
    printf("downloading %s (%d MB)...\n", f->filename, f->size);
    int rc = vow_await(vow_sleep(loop, (uint64_t)f->size * 100), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    printf("finished %s\n", f->filename);
    download_t *d = malloc(sizeof *d);
    if (d == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    *d = (download_t){.filename = f->filename, .size = f->size, .status = "completed"};
    return vow_ok(vow_ptr(d, free));
}

#define N_FILES 4

/* async def main() */
static vow_result_t amain(vow_loop_t *loop, void *arg) {
    (void)arg;
    static const file_t files[N_FILES] = {
        {"file1.zip", 10}, {"file2.zip", 5}, {"file3.zip", 15}, {"file4.zip", 3}};
    double start = now_s();
    vow_t *downloads[N_FILES];
    for (size_t i = 0; i < N_FILES; i++)
        downloads[i] = vow_async(loop, download_file, (void *)&files[i], NULL);
    vow_outcome_t o;
    int rc = vow_await(vow_all(loop, downloads, N_FILES), &o); /* results = await gather */
    if (rc != 0) return vow_rethrow(rc, &o);

    const vow_list_t *results = vow_list_of(&o.value);
    printf("\n=== downloads ===\n");
    for (size_t i = 0; i < vow_list_len(results); i++) {
        const download_t *result = vow_value_ptr(vow_list_value(results, i));
        printf("  {'filename': '%s', 'size': %d, 'status': '%s'}\n", result->filename, result->size,
               result->status);
    }
    vow_outcome_release(&o);
    int total_size = 0;
    for (size_t i = 0; i < N_FILES; i++) total_size += files[i].size;
    printf("\ntotal size: %d MB\n", total_size);
    printf("total time: %.2f s\n", now_s() - start);
    printf("(one after another it would take %.1f s)\n", total_size * 0.1);
    return vow_ok_none();
}

int main(void) { return vow_main_async(amain, NULL); } /* asyncio.run(main()) */
