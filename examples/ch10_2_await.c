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
    return vow_then_ok(vow_sleep(loop, 300), make_user, (void *)(intptr_t)user_id);
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
    return vow_then_ok(vow_sleep(loop, 300), make_posts, NULL);
}

/* user = await get_user(1); print(...); posts = await get_posts(user["id"]) */
static vow_result_t got_user(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    const user_t *u = vow_value_ptr(v); /* borrowed for this call */
    printf("user: {'id': %d, 'name': '%s'}\n", u->id, u->name);
    return vow_follow(get_posts(loop, u->id));
}

/* print(f"posts: {posts}"); print(f"total: ...") */
static vow_result_t got_posts(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    const posts_t *p = vow_value_ptr(v);
    printf("posts: [");
    for (size_t i = 0; i < p->n; i++)
        printf("%s{'id': %d, 'title': '%s'}", i ? ", " : "", p->items[i].id, p->items[i].title);
    printf("]\n");
    uint64_t start = *(const uint64_t *)ctx;
    printf("total: %.2f s (sequential: 0.3 + 0.3)\n",
           (double)(vow_loop_update_time(loop) - start) / 1000.0);
    return vow_ok_none();
}

/* async def demo_await(). `start` (main's) keeps the start time for got_posts. */
static vow_t *demo_await(vow_loop_t *loop, void *start) {
    *(uint64_t *)start = vow_loop_update_time(loop);
    return vow_then_ok(vow_then_ok(get_user(loop, 1), got_user, NULL), got_posts, start);
}

int main(void) {
    uint64_t start;
    return vow_main(demo_await, &start); /* asyncio.run(demo_await()) */
}
