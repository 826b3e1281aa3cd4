/* Section 10.5, "async context manager", in await form: the await form of
 * examples/ch10_5_async_context.c (issue 16), the same program written with coroutines,
 * which reads line for line like examples/py/ch10_5_async_context.py (check.py compares
 * them): a resource whose __aenter__ takes 0.2 s and whose __aexit__ takes 0.1 s, used by
 * `async with` around a 0.1 s piece of work.
 *
 * Python                                vow, await form
 * class AsyncResource: name             resource_t, and one coroutine body per method,
 * async def __aenter__(self) etc.       called as vow_async(loop, method, self, NULL)
 * async with AsyncResource(n) as r:     what `async with` does, written out:
 *     await r.do_something()              resource = await __aenter__();
 *                                         body = await resource.do_something();
 *                                         await __aexit__();  (whatever the body's outcome,
 *                                         a cancellation included: an await after a
 *                                         delivered cancellation works normally, so the
 *                                         cleanup may await) then the body's outcome
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_async_context())     vow_main_async(demo_async_context, NULL)
 *
 * (The callback form uses vow_scope, which packages these steps; a coroutine can use it
 * too. Here the Python's __aexit__ ignores its exception arguments, so aexit takes self
 * only.)
 */
#include <stdio.h>

#include "vow.h"

/* class AsyncResource: an asynchronously managed resource */
typedef struct {
    const char *name;
} resource_t;

/* async def __aenter__(self) */
static vow_result_t aenter(vow_loop_t *loop, void *arg) {
    resource_t *self = arg;
    vow_outcome_t o;
    printf("[%s] acquiring resource...\n", self->name);
    int rc = vow_await(vow_sleep(loop, 200), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    printf("[%s] resource ready\n", self->name);
    return vow_ok(vow_ptr(self, NULL)); /* return self */
}

/* async def __aexit__(self, exc_type, exc_val, exc_tb) */
static vow_result_t aexit(vow_loop_t *loop, void *arg) {
    resource_t *self = arg;
    vow_outcome_t o;
    printf("[%s] releasing resource...\n", self->name);
    int rc = vow_await(vow_sleep(loop, 100), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    printf("[%s] resource released\n", self->name);
    return vow_ok_none();
}

/* async def do_something(self) */
static vow_result_t do_something(vow_loop_t *loop, void *arg) {
    resource_t *self = arg;
    vow_outcome_t o;
    printf("[%s] using resource...\n", self->name);
    int rc = vow_await(vow_sleep(loop, 100), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    return vow_ok_none();
}

/* async def demo_async_context() */
static vow_result_t demo_async_context(vow_loop_t *loop, void *arg) {
    (void)arg;
    static resource_t db = {"DB connection"}; /* AsyncResource("DB connection") */
    vow_outcome_t o, body;

    /* async with AsyncResource("DB connection") as resource: */
    int rc = vow_await(vow_async(loop, aenter, &db, NULL), &o);
    if (rc != 0) return vow_rethrow(rc, &o); /* __aenter__ raised: no __aexit__ */
    resource_t *resource = vow_value_ptr(&o.value);
    vow_outcome_release(&o);

    /*     await resource.do_something() */
    int body_rc = vow_await(vow_async(loop, do_something, resource, NULL), &body);

    /* leaving the block, however the body ended: __aexit__ */
    rc = vow_await(vow_async(loop, aexit, resource, NULL), &o);
    if (rc != 0) {
        vow_outcome_release(&body);
        return vow_rethrow(rc, &o);
    }
    if (body_rc != 0) return vow_rethrow(body_rc, &body);
    vow_outcome_release(&body);
    return vow_ok_none();
}

int main(void) {
    return vow_main_async(demo_async_context, NULL); /* asyncio.run(demo_async_context()) */
}
