/* tests/install/consumer.c - a program built against an installed vow, the way a user
 * builds one (.ci/run does this):
 *
 *   cc -std=c11 consumer.c $(pkg-config --cflags --libs vow) -o consumer && ./consumer
 *
 * It uses only <vow.h> (which must not need libev's headers) and checks a few answers,
 * so a broken install (headers missing, symbols hidden, a wrong vow.pc) fails here. */
#include <stdio.h>
#include <string.h>

#include <vow.h>

static int timeouts;
static int microtasks;

static void on_microtask(vow_loop_t *loop, void *arg) {
    (void)loop;
    (void)arg;
    microtasks++;
}

static void on_timeout(vow_loop_t *loop, void *arg) {
    (void)arg;
    timeouts++;
    if (vow_microtask(loop, on_microtask, NULL) != 0) timeouts = -100;
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "consumer: check failed at line %d: %s\n", __LINE__, #cond);           \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(void) {
    CHECK(strcmp(VOW_VERSION_STRING, "") != 0);
    CHECK(strcmp(vow_err_name(VOW_ETIMEDOUT), "ETIMEDOUT") == 0);

    vow_loop_t *loop = NULL;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    CHECK(rc == 0 && loop != NULL);
    CHECK(vow_loop_ev(loop) != NULL);
    CHECK(vow_set_timeout(loop, on_timeout, NULL, 1, NULL) == 0);
    CHECK(vow_set_timeout(loop, on_timeout, NULL, 2, NULL) == 0);
    CHECK(vow_loop_run(loop, VOW_RUN_DEFAULT) == 0);
    CHECK(timeouts == 2 && microtasks == 2);
    CHECK(vow_loop_close(loop) == 0);

    vow_error_t *err = vow_error_wrap(VOW_ETIMEDOUT, NULL, vow_error_new(VOW_ECANCELED, NULL));
    char buf[256];
    size_t n = vow_error_format(err, buf, sizeof buf);
    CHECK(n > 0 && n < sizeof buf);
    CHECK(vow_error_cause(err) != NULL);
    vow_error_unref(err);

    printf("consumer: vow %s works from its installed copy (%s)\n", VOW_VERSION_STRING, buf);
    return 0;
}
