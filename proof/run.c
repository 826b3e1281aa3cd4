/* proof/run.c - vow_proof_run: runs a batch of proof programs on vow and prints their
 * traces (proof/FORMAT.md, "Batches and traces").
 *
 *   vow_proof_run [--seq] [--end] [FILE]       (FILE or standard input)
 *
 * The batch holds programs separated by lines that start with "===". By default they all
 * start on one loop, one after another in the same turn, and the loop then runs until
 * no work is left: one program's trace lines keep their order whatever the others do, so
 * hundreds of programs cost one process and the longest program's timers. --seq runs
 * each program on a fresh loop of its own, one after the other. --end prints, once the loop
 * ran out of work, each node's final outcome ("ID.end ..." lines, FORMAT.md): what the
 * Python judge compares.
 *
 * Output: one line per trace line, "<program index> <line>"; "<index> !parse-error ..."
 * for a program that does not parse (strict mode). Exit status 0 when every program ran
 * and the checks held: each loop closes cleanly (after the programs' locks, semaphores and
 * events were freed and the reactions that cancels ran), no vow allocation is live at the end
 * (a counting allocator through vow_replace_allocator), every destructor ran exactly once
 * and no callback ran twice (proof/interp.c aborts otherwise).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"

static void emit(void *ud, int index, const char *line) {
    (void)ud;
    printf("%d %s\n", index, line);
}

static char *read_all(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL) return NULL;
    for (;;) {
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0) break;
        n += got;
    }
    *len = n;
    return buf;
}

static unsigned expected_backend(void) {
    const char *b = getenv("VOW_BACKEND");
    if (b == NULL || *b == '\0') return 0;
    if (strcmp(b, "select") == 0) return VOW_BACKEND_SELECT;
    if (strcmp(b, "poll") == 0) return VOW_BACKEND_POLL;
    if (strcmp(b, "epoll") == 0) return VOW_BACKEND_EPOLL;
    if (strcmp(b, "kqueue") == 0) return VOW_BACKEND_KQUEUE;
    return 0xffffffffu;
}

static vow_loop_t *new_loop(void) {
    vow_loop_t *loop = NULL;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) {
        fprintf(stderr, "vow_proof_run: vow_loop_new: %s\n", vow_strerror(rc));
        exit(1);
    }
    unsigned want = expected_backend();
    if (want != 0 && vow_loop_backend(loop) != want) {
        fprintf(stderr, "vow_proof_run: backend %u, VOW_BACKEND asked for %u\n",
                vow_loop_backend(loop), want);
        exit(1);
    }
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);
    return loop;
}

static int finish_loop(vow_loop_t *loop);

/* Sets up the socket pairs of progs[0..n) on loop (FORMAT.md, Sockets) and runs the loop
 * until they are connected. A program whose setup failed gets a "!io-setup" line and is not
 * started (progs[i] freed, NULL). Returns 1 on any failure. */
static int setup_io(vow_loop_t *loop, proof_prog **progs, size_t n) {
    int any = 0, fail = 0;
    int *rc = calloc(n + 1, sizeof *rc);
    for (size_t i = 0; i < n; i++) {
        if (progs[i] == NULL || proof_io_pairs(progs[i]) == 0) continue;
        any = 1;
        rc[i] = proof_io_setup(progs[i], loop);
    }
    if (any) fail |= finish_loop(loop);
    for (size_t i = 0; i < n; i++) {
        if (progs[i] == NULL || proof_io_pairs(progs[i]) == 0) continue;
        if (rc[i] == 0) rc[i] = proof_io_ready(progs[i]);
        if (rc[i] != 0) {
            printf("%zu !io-setup %s\n", i, vow_err_name(rc[i]));
            proof_release(progs[i]);
            proof_free(progs[i]);
            progs[i] = NULL;
            fail = 1;
        }
    }
    free(rc);
    return fail;
}

static int finish_loop(vow_loop_t *loop) {
    int rc = vow_loop_run(loop, VOW_RUN_DEFAULT);
    if (rc != 0) {
        fprintf(stderr, "vow_proof_run: vow_loop_run returned %d\n", rc);
        return 1;
    }
    return 0;
}

/* Closes a loop that ran out of work. Coroutines still suspended (awaiting promises that
 * never settle) make vow_loop_close answer VOW_EBUSY: then the programs are stopped and the
 * loop freed, which resumes each coroutine to unwind (vow/async.h, teardown). */
static int close_loop(vow_loop_t *loop, proof_prog **progs, size_t n) {
    int rc;
    if (vow_async_live(loop) > 0) {
        for (size_t i = 0; i < n; i++) proof_stop(progs[i]);
        rc = vow_loop_free(loop);
        if (rc != 0) {
            fprintf(stderr, "vow_proof_run: vow_loop_free: %s\n", vow_strerror(rc));
            return 1;
        }
        return 0;
    }
    rc = vow_loop_close(loop);
    if (rc != 0) {
        fprintf(stderr, "vow_proof_run: vow_loop_close: %s\n", vow_strerror(rc));
        vow_loop_free(loop);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    int seq = 0, end = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seq") == 0)
            seq = 1;
        else if (strcmp(argv[i], "--end") == 0)
            end = 1;
        else if (path == NULL)
            path = argv[i];
        else {
            fprintf(stderr, "usage: vow_proof_run [--seq] [--end] [FILE]\n");
            return 2;
        }
    }
    FILE *f = path ? fopen(path, "rb") : stdin;
    if (f == NULL) {
        perror(path);
        return 2;
    }
    size_t len;
    char *text = read_all(f, &len);
    if (path) fclose(f);
    if (text == NULL) return 2;
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);

    if (vow_proof_counting_allocator() != 0) return 2;

    /* Split the batch: with no "===" line the whole input is one program; otherwise
     * each "===" line starts one, and what comes before the first is ignored. */
    size_t cap = 64, n = 0, nchunks = 0;
    size_t *cstart = malloc(cap * sizeof *cstart), *cend = malloc(cap * sizeof *cend);
    int any_sep = 0;
    for (size_t pos = 0; pos < len;) {
        size_t eol = pos;
        while (eol < len && text[eol] != '\n') eol++;
        if (eol - pos >= 3 && memcmp(text + pos, "===", 3) == 0) {
            if (any_sep) cend[nchunks - 1] = pos;
            any_sep = 1;
            if (nchunks == cap) {
                cap *= 2;
                cstart = realloc(cstart, cap * sizeof *cstart);
                cend = realloc(cend, cap * sizeof *cend);
            }
            cstart[nchunks] = eol < len ? eol + 1 : len;
            cend[nchunks++] = len;
        }
        pos = eol + 1;
    }
    if (!any_sep) {
        cstart[0] = 0;
        cend[0] = len;
        nchunks = 1;
    }
    proof_prog **progs = malloc((nchunks + 1) * sizeof *progs);
    int fail = 0;
    for (n = 0; n < nchunks; n++) {
        char err[256];
        progs[n] =
            proof_parse(text + cstart[n], cend[n] - cstart[n], PROOF_STRICT, err, sizeof err);
        if (progs[n] == NULL) {
            printf("%zu !parse-error %s\n", n, err);
            fail = 1;
        }
    }
    free(cstart);
    free(cend);
    free(text);

    if (seq) {
        for (size_t i = 0; i < n; i++) {
            if (progs[i] == NULL) continue;
            vow_loop_t *loop = new_loop();
            if (setup_io(loop, &progs[i], 1) != 0) {
                fail = 1;
                (void)close_loop(loop, NULL, 0);
                continue;
            }
            proof_start(progs[i], loop, (int)i, emit, NULL);
            fail |= finish_loop(loop);
            if (end) proof_end(progs[i]);
            if (proof_free_objects(progs[i])) fail |= finish_loop(loop);
            proof_release(progs[i]);
            if (close_loop(loop, &progs[i], 1) != 0) {
                fprintf(stderr, "vow_proof_run: program %zu: the loop did not close\n", i);
                fail = 1;
            }
            proof_check_and_free(progs[i]);
        }
    } else {
        vow_loop_t *loop = new_loop();
        fail |= setup_io(loop, progs, n);
        for (size_t i = 0; i < n; i++)
            if (progs[i] != NULL) proof_start(progs[i], loop, (int)i, emit, NULL);
        fail |= finish_loop(loop);
        if (end)
            for (size_t i = 0; i < n; i++) proof_end(progs[i]);
        /* Freeing a lock, semaphore or event cancels its waiters: their reactions run
         * (untraced) before the loop can close. */
        int objects = 0;
        for (size_t i = 0; i < n; i++) objects |= proof_free_objects(progs[i]);
        if (objects) fail |= finish_loop(loop);
        for (size_t i = 0; i < n; i++) proof_release(progs[i]);
        fail |= close_loop(loop, progs, n);
        for (size_t i = 0; i < n; i++) proof_check_and_free(progs[i]);
    }
    free(progs);
    fflush(stdout);
    if (vow_proof_live_allocs() != 0) {
        fprintf(stderr, "vow_proof_run: FATAL: %ld vow allocations still live at the end\n",
                vow_proof_live_allocs());
        return 1;
    }
    return fail;
}
