/* Section 10.2, "await": get_user, then get_posts, one after the other.
 *
 * Python awaits each coroutine in turn; with promises the same program is a chain:
 * each step returns the next operation's promise (vow_follow), and the chain settles when
 * the last step has. Compare with examples/py/ch10_2_await.py (examples/check.py does). */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

typedef struct {
    int id;
    char name[32];
} user_t;

typedef struct {
    int id;
    char title[32];
} post_t;

typedef struct {
    size_t n;
    post_t items[2];
} posts_t;

static vow_result_t make_user(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    user_t *u = malloc(sizeof *u);
    if (u == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    u->id = (int)(intptr_t)ctx;
    snprintf(u->name, sizeof u->name, "User %d", u->id);
    return vow_ok(vow_ptr(u, free)); /* the promise owns u from here on */
}

/* async def get_user(user_id): await asyncio.sleep(0.3); return {...} */
static vow_t *get_user(vow_loop_t *loop, int user_id) {
    return vow_then(vow_sleep(loop, 300), make_user, NULL, (void *)(intptr_t)user_id, NULL);
}

static vow_result_t make_posts(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    posts_t *p = malloc(sizeof *p);
    if (p == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    p->n = 2;
    for (int i = 0; i < 2; i++) {
        p->items[i].id = i + 1;
        snprintf(p->items[i].title, sizeof p->items[i].title, "Post %d", i + 1);
    }
    return vow_ok(vow_ptr(p, free));
}

static vow_t *get_posts(vow_loop_t *loop, int user_id) {
    (void)user_id;
    return vow_then(vow_sleep(loop, 300), make_posts, NULL, NULL, NULL);
}

/* user = await get_user(1); print(...); posts = await get_posts(user["id"]) */
static vow_result_t got_user(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    const user_t *u = vow_value_ptr(v); /* borrowed for this call */
    printf("user: {'id': %d, 'name': '%s'}\n", u->id, u->name);
    return vow_follow(get_posts(loop, u->id));
}

static vow_result_t got_posts(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    const posts_t *p = vow_value_ptr(v);
    printf("posts: [");
    for (size_t i = 0; i < p->n; i++)
        printf("%s{'id': %d, 'title': '%s'}", i ? ", " : "", p->items[i].id, p->items[i].title);
    printf("]\n");
    return vow_ok_none();
}

int main(void) {
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) {
        fprintf(stderr, "vow_loop_new: %s\n", vow_strerror(rc));
        return 1;
    }
    uint64_t start = vow_loop_update_time(loop);
    vow_t *demo = vow_then(vow_then(get_user(loop, 1), got_user, NULL, NULL, NULL), got_posts, NULL,
                           NULL, NULL);
    vow_outcome_t out;
    rc = vow_run(loop, demo, &out); /* asyncio.run(demo_await()) */
    if (rc != 0 || out.state != VOW_FULFILLED) {
        fprintf(stderr, "demo failed: %s\n",
                rc != 0 ? vow_strerror(rc) : vow_error_message(out.error));
        vow_outcome_release(&out);
        vow_loop_free(loop);
        return 1;
    }
    vow_outcome_release(&out);
    printf("total: %.2f s (sequential: 0.3 + 0.3)\n",
           (double)(vow_loop_update_time(loop) - start) / 1000.0);
    return vow_loop_close(loop) == 0 ? 0 : 1;
}
