/* The combinators' job counts for docs/job-order.md ("Combinators"), measured as
 * tests/trace_job_order.c measures them: a microtask that re-queues itself counts rounds;
 * each case prints the round in which its last reaction ran (or "never").
 * tests/compare.sh diffs this output against tests/js/trace_job_order_comb.js
 * (ctest job_order_comb@<backend>). */
#include <stdio.h>
#include <string.h>

#include "vow.h"

static int tick;
static int printed;
static const char *case_name;
static vow_loop_t *loop;

static void ticker(vow_loop_t *l, void *arg) {
    (void)arg;
    tick++;
    if (tick < 40) vow_microtask(l, ticker, NULL);
}

static void record(const char *s) {
    printed = 1;
    printf("%s round=%d value=%s\n", case_name, tick, s);
}

/* ---- formatting, as the JavaScript side formats ------------------------------------------ */

static void fmt_err(const vow_error_t *e, char *buf, size_t n) {
    if (vow_error_code(e) != VOW_EAGGREGATE) {
        snprintf(buf, n, "%s", vow_err_name(vow_error_code(e)));
        return;
    }
    size_t len = (size_t)snprintf(buf, n, "EAGGREGATE[");
    for (size_t i = 0; i < vow_error_count(e) && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? "," : "",
                                vow_err_name(vow_error_code(vow_error_at(e, i))));
    if (len < n) snprintf(buf + len, n - len, "]");
}

static void fmt_list(const vow_value_t *v, int settled, char *buf, size_t n) {
    const vow_list_t *l = vow_list_of(v);
    size_t len = (size_t)snprintf(buf, n, "[");
    for (size_t i = 0; i < vow_list_len(l) && len < n; i++) {
        const char *sep = i ? "," : "";
        if (!settled)
            len += (size_t)snprintf(buf + len, n - len, "%s%lld", sep,
                                    (long long)vow_value_int(vow_list_value(l, i)));
        else if (vow_list_state(l, i) == VOW_FULFILLED)
            len += (size_t)snprintf(buf + len, n - len, "%sok:%lld", sep,
                                    (long long)vow_value_int(vow_list_value(l, i)));
        else
            len += (size_t)snprintf(buf + len, n - len, "%serr:%s", sep,
                                    vow_err_name(vow_error_code(vow_list_error(l, i))));
    }
    if (len < n) snprintf(buf + len, n - len, "]");
}

static vow_result_t rec_list(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)c;
    char buf[256];
    fmt_list(v, 0, buf, sizeof buf);
    record(buf);
    return vow_ok_none();
}
static vow_result_t rec_settled(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)c;
    char buf[256];
    fmt_list(v, 1, buf, sizeof buf);
    record(buf);
    return vow_ok_none();
}
static vow_result_t rec_value(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)c;
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)vow_value_int(v));
    record(buf);
    return vow_ok_none();
}
static vow_result_t rec_err(vow_loop_t *l, vow_error_t *e, void *c) {
    (void)l, (void)c;
    char buf[256];
    fmt_err(e, buf, sizeof buf);
    record(buf);
    return vow_ok_none();
}
static vow_result_t plus1(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)c;
    return vow_ok_int(vow_value_int(v) + 1);
}

static vow_t *R(int64_t v) { return vow_resolved(loop, vow_int(v)); }
static vow_t *J(int code) { return vow_rejected(loop, vow_error_new(code, NULL)); }

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void run_case(int i) {
    vow_t *d = NULL, *a = NULL, *b = NULL;
    switch (i) {
    /* all */
    case 0: {
        case_name = "all_resolved";
        vow_t *in[] = {R(1), R(2)};
        d = vow_then(vow_all(loop, in, N(in)), rec_list, NULL, NULL, NULL);
        break;
    }
    case 1: {
        case_name = "all_pending";
        a = vow_new(loop), b = vow_new(loop);
        vow_t *in[] = {vow_ref(a), vow_ref(b)};
        d = vow_then(vow_all(loop, in, N(in)), rec_list, NULL, NULL, NULL);
        vow_resolve(b, vow_int(2));
        vow_resolve(a, vow_int(1));
        break;
    }
    case 2: {
        case_name = "all_rejected";
        vow_t *in[] = {R(1), J(VOW_EINVAL)};
        d = vow_catch(vow_all(loop, in, N(in)), rec_err, NULL, NULL);
        break;
    }
    case 3: {
        case_name = "all_pending_rejected";
        a = vow_new(loop), b = vow_new(loop);
        vow_t *in[] = {vow_ref(a), vow_ref(b)};
        d = vow_catch(vow_all(loop, in, N(in)), rec_err, NULL, NULL);
        vow_reject(b, vow_error_new(VOW_EPERM, NULL)); /* a never settles */
        break;
    }
    case 4:
        case_name = "all_empty";
        d = vow_then(vow_all(loop, NULL, 0), rec_list, NULL, NULL, NULL);
        break;
    case 5: {
        case_name = "all_derived_input";
        vow_t *in[] = {vow_then(R(1), plus1, NULL, NULL, NULL), R(3)};
        d = vow_then(vow_all(loop, in, N(in)), rec_list, NULL, NULL, NULL);
        break;
    }
    /* allSettled */
    case 6: {
        case_name = "allSettled_resolved";
        vow_t *in[] = {R(1), R(2)};
        d = vow_then(vow_all_settled(loop, in, N(in)), rec_settled, NULL, NULL, NULL);
        break;
    }
    case 7: {
        case_name = "allSettled_pending";
        a = vow_new(loop), b = vow_new(loop);
        vow_t *in[] = {vow_ref(a), vow_ref(b)};
        d = vow_then(vow_all_settled(loop, in, N(in)), rec_settled, NULL, NULL, NULL);
        vow_reject(b, vow_error_new(VOW_EPERM, NULL));
        vow_resolve(a, vow_int(1));
        break;
    }
    case 8: {
        case_name = "allSettled_rejected";
        vow_t *in[] = {J(VOW_EINVAL), R(2)};
        d = vow_then(vow_all_settled(loop, in, N(in)), rec_settled, NULL, NULL, NULL);
        break;
    }
    case 9:
        case_name = "allSettled_empty";
        d = vow_then(vow_all_settled(loop, NULL, 0), rec_settled, NULL, NULL, NULL);
        break;
    /* race */
    case 10: {
        case_name = "race_resolved";
        vow_t *in[] = {R(1), R(2)};
        d = vow_then(vow_race(loop, in, N(in), 0), rec_value, NULL, NULL, NULL);
        break;
    }
    case 11: {
        case_name = "race_pending";
        a = vow_new(loop), b = vow_new(loop);
        vow_t *in[] = {vow_ref(a), vow_ref(b)};
        d = vow_then(vow_race(loop, in, N(in), 0), rec_value, NULL, NULL, NULL);
        vow_resolve(b, vow_int(2));
        vow_resolve(a, vow_int(1));
        break;
    }
    case 12: {
        case_name = "race_rejected";
        vow_t *in[] = {J(VOW_EINVAL), R(2)};
        d = vow_catch(vow_race(loop, in, N(in), 0), rec_err, NULL, NULL);
        break;
    }
    case 13:
        case_name = "race_empty";
        d = vow_then(vow_race(loop, NULL, 0, 0), rec_value, NULL, NULL, NULL);
        break;
    /* any */
    case 14: {
        case_name = "any_resolved";
        vow_t *in[] = {R(1), R(2)};
        d = vow_then(vow_any(loop, in, N(in), 0), rec_value, NULL, NULL, NULL);
        break;
    }
    case 15: {
        case_name = "any_pending";
        a = vow_new(loop), b = vow_new(loop);
        vow_t *in[] = {vow_ref(a), vow_ref(b)};
        d = vow_then(vow_any(loop, in, N(in), 0), rec_value, NULL, NULL, NULL);
        vow_reject(a, vow_error_new(VOW_EPERM, NULL));
        vow_resolve(b, vow_int(2));
        break;
    }
    case 16: {
        case_name = "any_rejected_then_resolved";
        vow_t *in[] = {J(VOW_EINVAL), R(2)};
        d = vow_then(vow_any(loop, in, N(in), 0), rec_value, NULL, NULL, NULL);
        break;
    }
    case 17: {
        case_name = "any_rejected";
        vow_t *in[] = {J(VOW_EINVAL), J(VOW_EPERM)};
        d = vow_catch(vow_any(loop, in, N(in), 0), rec_err, NULL, NULL);
        break;
    }
    case 18: {
        case_name = "any_pending_rejected";
        a = vow_new(loop), b = vow_new(loop);
        vow_t *in[] = {vow_ref(a), vow_ref(b)};
        d = vow_catch(vow_any(loop, in, N(in), 0), rec_err, NULL, NULL);
        vow_reject(b, vow_error_new(VOW_EPERM, NULL));
        vow_reject(a, vow_error_new(VOW_EBUSY, NULL));
        break;
    }
    case 19:
        case_name = "any_empty";
        d = vow_catch(vow_any(loop, NULL, 0, 0), rec_err, NULL, NULL);
        break;
    default: return;
    }
    vow_unref(a);
    vow_unref(b);
    vow_unref(d);
}

#define N_CASES 20

int main(void) {
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) {
        fprintf(stderr, "vow_loop_new: %s\n", vow_strerror(rc));
        return 1;
    }
    for (int i = 0; i < N_CASES; i++) {
        tick = 0;
        printed = 0;
        vow_microtask(loop, ticker, NULL);
        run_case(i);
        if (vow_loop_run(loop, VOW_RUN_DEFAULT) != 0) return 1;
        if (!printed) printf("%s never\n", case_name);
    }
    return vow_loop_close(loop) == 0 ? 0 : 1;
}
