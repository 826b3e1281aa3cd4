/* Section 10.2, "await", in await form: the await form of examples/ch10_2_await.c (issue
 * 16), the same program written with coroutines, which reads line for line like
 * examples/py/ch10_2_await.py (check.py compares them): get_user, then get_posts, one
 * after the other.
 *
 * Python                               vow, await form
 * async def get_user(user_id)          static vow_result_t get_user(loop, arg): a coroutine
 *                                      body; vow_async(loop, get_user, ...) calls it
 * await asyncio.sleep(0.3)             vow_await(vow_sleep(loop, 300), NULL)
 * return {"id": ..., "name": ...}      return vow_ok(vow_ptr(u, free)): the promise owns u
 * user = await get_user(1)             vow_await(vow_async(loop, get_user, ...), &user):
 *                                      user.value owns a reference to the value
 * an exception out of an await         return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_await())            vow_main_async(demo_await, NULL)
 */
#include <stdint.h>
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

/* async def get_user(user_id) */
static vow_result_t get_user(vow_loop_t *loop, void *arg) {
    int rc = vow_await(vow_sleep(loop, 300), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL); /* cancelled: pass it on */
    user_t *u = malloc(sizeof *u);
    if (u == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    u->id = (int)(intptr_t)arg;
    snprintf(u->name, sizeof u->name, "User %d", u->id);
    return vow_ok(vow_ptr(u, free));
}

/* async def get_posts(user_id) */
static vow_result_t get_posts(vow_loop_t *loop, void *arg) {
    (void)arg;
    int rc = vow_await(vow_sleep(loop, 300), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL);
    posts_t *p = malloc(sizeof *p);
    if (p == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    p->n = 2;
    for (int i = 0; i < 2; i++) {
        p->items[i].id = i + 1;
        snprintf(p->items[i].title, sizeof p->items[i].title, "Post %d", i + 1);
    }
    return vow_ok(vow_ptr(p, free));
}

/* print(f"posts: {posts}") */
static void print_posts(const posts_t *p) {
    printf("posts: [");
    for (size_t i = 0; i < p->n; i++)
        printf("%s{'id': %d, 'title': '%s'}", i ? ", " : "", p->items[i].id, p->items[i].title);
    printf("]\n");
}

/* async def demo_await() */
static vow_result_t demo_await(vow_loop_t *loop, void *arg) {
    (void)arg;
    uint64_t start = vow_loop_update_time(loop);
    vow_outcome_t user, posts;
    /* await suspends demo_await until get_user's coroutine is done */
    int rc = vow_await(vow_async(loop, get_user, (void *)(intptr_t)1, NULL), &user);
    if (rc != 0) return vow_rethrow(rc, &user);
    const user_t *u = vow_value_ptr(&user.value);
    printf("user: {'id': %d, 'name': '%s'}\n", u->id, u->name);

    rc = vow_await(vow_async(loop, get_posts, (void *)(intptr_t)u->id, NULL), &posts);
    vow_outcome_release(&user);
    if (rc != 0) return vow_rethrow(rc, &posts);
    print_posts(vow_value_ptr(&posts.value));
    vow_outcome_release(&posts);
    printf("total: %.2f s (sequential: 0.3 + 0.3)\n",
           (double)(vow_loop_update_time(loop) - start) / 1000.0);
    return vow_ok_none();
}

int main(void) { return vow_main_async(demo_await, NULL); } /* asyncio.run(demo_await()) */
