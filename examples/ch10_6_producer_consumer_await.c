/* Section 10.6, "producer-consumer", in await form: the await form of
 * examples/ch10_6_producer_consumer.c (issue 16), the same program written with
 * coroutines, which reads line for line like examples/py/ch10_6_producer_consumer.py
 * (check.py compares them): two producers put three items each into a queue of 5, with a
 * random pause after each put; two consumers take them, with a random pause each, and mark
 * each done; after the producers finish, join waits for every item, then an end signal per
 * consumer tells it to stop.
 *
 * Python                                vow, await form
 * asyncio.Queue(maxsize=5)              vow_queue_new(loop, 5)
 * await queue.put(item)                 vow_await(vow_queue_put(q, vow_ptr(text, free)), ..):
 *                                       the queue owns the string until a get hands it on
 * item = await queue.get()              vow_await(vow_queue_get(q), &item): item.value owns
 *                                       it now (vow_outcome_release frees it)
 * None (the end signal)                 vow_none(): a value of kind VOW_VAL_NONE
 * queue.task_done(); await queue.join() vow_queue_task_done(q); vow_await(vow_queue_join(q))
 * asyncio.create_task(producer(...))    vow_create_task_async(loop, producer, &args, NULL)
 * await asyncio.gather(*producers)      vow_await(vow_all(loop, producers, 2), ...)
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_producer_consumer()) vow_main_async(demo_producer_consumer, NULL)
 *
 * The pauses come from seeded xorshift32 generators, the same as in the Python file. Which
 * consumer takes which item, and the order of lines printed at one instant, depend on
 * timing and on the turn order (see the README), so the consumer's name is not printed
 * and check.py compares the lines as a set. The tasks' arguments are static: a coroutine
 * must not hand pointers to its own stack to tasks that may outlive it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

typedef struct {
    uint32_t state;
} rng_t;

/* xorshift32 (Marsaglia), the same as xorshift() in the Python file. */
static uint32_t rng_next(rng_t *r) {
    uint32_t x = r->state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return r->state = x;
}

static int consumed = 0;

typedef struct {
    vow_queue_t *queue;
    const char *name;
    int count;
    rng_t rng;
} producer_args_t;

/* async def producer(queue, name, count, rng): puts `count` items into the queue */
static vow_result_t producer(vow_loop_t *loop, void *arg) {
    producer_args_t *a = arg;
    vow_outcome_t o;
    for (int i = 0; i < a->count; i++) {
        char *item = malloc(32);
        if (item == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
        snprintf(item, 32, "%s-item-%d", a->name, i);
        int rc = vow_await(vow_queue_put(a->queue, vow_ptr(item, free)), &o);
        if (rc != 0) return vow_rethrow(rc, &o);
        printf("[produce] %s-item-%d\n", a->name, i); /* (item is the queue's now) */
        rc = vow_await(vow_sleep(loop, 100 + rng_next(&a->rng) % 201), &o);
        if (rc != 0) return vow_rethrow(rc, &o);
    }
    return vow_ok_none();
}

typedef struct {
    vow_queue_t *queue;
    rng_t rng;
} consumer_args_t;

/* async def consumer(queue, name, rng): takes items until None */
static vow_result_t consumer(vow_loop_t *loop, void *arg) {
    consumer_args_t *a = arg;
    vow_outcome_t item, o;
    while (1) {
        int rc = vow_await(vow_queue_get(a->queue), &item);
        if (rc != 0) return vow_rethrow(rc, &item);
        if (vow_value_kind(&item.value) == VOW_VAL_NONE) break; /* the end signal */
        printf("[consume] %s\n", (const char *)vow_value_ptr(&item.value));
        vow_outcome_release(&item);
        consumed += 1;
        rc = vow_await(vow_sleep(loop, 100 + rng_next(&a->rng) % 101), &o);
        if (rc != 0) return vow_rethrow(rc, &o);
        vow_queue_task_done(a->queue);
    }
    return vow_ok_none();
}

static producer_args_t producer_args[2];
static consumer_args_t consumer_args[2];

/* The body of demo_producer_consumer, with the queue and the consumer tasks made. */
static vow_result_t run_demo(vow_loop_t *loop, vow_queue_t *queue, vow_t *consumers[2]) {
    vow_outcome_t o;
    vow_t *producers[2] = {
        vow_create_task_async(loop, producer, &producer_args[0], NULL),
        vow_create_task_async(loop, producer, &producer_args[1], NULL),
    };
    int rc = vow_await(vow_all(loop, producers, 2), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    vow_outcome_release(&o);
    printf("\n--- producers done ---\n");
    rc = vow_await(vow_queue_join(queue), &o); /* every item taken and done */
    if (rc != 0) return vow_rethrow(rc, &o);
    for (int i = 0; i < 2; i++) { /* for _ in consumers: await queue.put(None) */
        rc = vow_await(vow_queue_put(queue, vow_none()), &o);
        if (rc != 0) return vow_rethrow(rc, &o);
    }
    rc = vow_await(vow_all(loop, consumers, 2), &o); /* consumes both tasks */
    consumers[0] = consumers[1] = NULL;
    if (rc != 0) return vow_rethrow(rc, &o);
    vow_outcome_release(&o);
    printf("\n--- all done: %d items consumed ---\n", consumed);
    return vow_ok_none();
}

/* async def demo_producer_consumer() */
static vow_result_t demo_producer_consumer(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_queue_t *queue = vow_queue_new(loop, 5);
    if (queue == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    producer_args[0] = (producer_args_t){queue, "P1", 3, {1}};
    producer_args[1] = (producer_args_t){queue, "P2", 3, {2}};
    consumer_args[0] = (consumer_args_t){queue, {3}};
    consumer_args[1] = (consumer_args_t){queue, {4}};
    vow_t *consumers[2] = {
        vow_create_task_async(loop, consumer, &consumer_args[0], NULL),
        vow_create_task_async(loop, consumer, &consumer_args[1], NULL),
    };
    vow_result_t res = run_demo(loop, queue, consumers);
    /* On the way out (normally both consumers have finished): a consumer still waiting on
     * the queue sees its get cancelled when the queue goes. */
    vow_unref(consumers[0]);
    vow_unref(consumers[1]);
    vow_queue_free(queue);
    return res;
}

int main(void) {
    return vow_main_async(demo_producer_consumer, NULL); /* asyncio.run(demo_producer_consumer()) */
}
