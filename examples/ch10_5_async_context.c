/* Section 10.5, "async context manager": a resource whose __aenter__ takes 0.2 s and whose
 * __aexit__ takes 0.1 s, used by `async with` around a 0.1 s piece of work.
 *
 * Python construct                      C rendering here
 * async with AsyncResource(name) as r:  vow_scope(loop, aenter, use, aexit, name, NULL)
 * __aenter__ (prints, sleeps 0.2 s,     aenter(): returns a promise of the resource (here
 * prints, returns self)                 its name), after the sleep
 * await resource.do_something()         use(): the body, a promise that settles after 0.1 s
 * __aexit__(exc_type, exc, tb)          aexit(): called with the body's error (NULL here)
 *                                       after success, failure or cancellation alike
 * asyncio.run(demo_async_context())     vow_main(demo_async_context, NULL)
 *
 * Compare with examples/py/ch10_5_async_context.py (examples/check.py does). */
#include <stdio.h>

#include "vow.h"

static vow_result_t ready(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    printf("[%s] resource ready\n", (const char *)ctx);
    return vow_ok(vow_ptr(ctx, NULL)); /* return self */
}

/* __aenter__ */
static vow_t *aenter(vow_loop_t *loop, void *ctx) {
    printf("[%s] acquiring resource...\n", (const char *)ctx);
    return vow_then_ok(vow_sleep(loop, 200), ready, ctx);
}

/* async with ... as resource: await resource.do_something() */
static vow_t *use(vow_loop_t *loop, const vow_value_t *resource, void *ctx) {
    (void)ctx;
    printf("[%s] using resource...\n", (const char *)vow_value_ptr(resource));
    return vow_sleep(loop, 100);
}

static vow_result_t released(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    printf("[%s] resource released\n", (const char *)ctx);
    return vow_ok_none();
}

/* __aexit__ */
static vow_t *aexit(vow_loop_t *loop, const vow_value_t *resource, vow_error_t *err, void *ctx) {
    (void)resource, (void)err;
    printf("[%s] releasing resource...\n", (const char *)ctx);
    return vow_then_ok(vow_sleep(loop, 100), released, ctx);
}

/* async def demo_async_context() */
static vow_t *demo_async_context(vow_loop_t *loop, void *arg) {
    (void)arg;
    return vow_scope(loop, aenter, use, aexit, "DB connection", NULL);
}

int main(void) { return vow_main(demo_async_context, NULL); }
