/* Section 10.6, "producer-consumer": two producers put three items each into a queue of 5
 * (vow_queue_t), with a random pause after each put; two consumers take them, with a
 * random pause each, and mark each done; after the producers finish, join waits for every
 * item, then an end signal per consumer tells it to stop.
 *
 * Python construct                       C rendering here
 * asyncio.Queue(maxsize=5)               vow_queue_new(loop, 5)
 * await queue.put(item)                  vow_queue_put(q, vow_ptr(text, free)): the queue
 *                                        owns the string until a get hands it on
 * item = await queue.get()               vow_then_ok(vow_queue_get(q), on_item, c)
 * None (the end signal)                  vow_none(): a value of kind VOW_VAL_NONE
 * queue.task_done(), await queue.join()  vow_queue_task_done(q), vow_queue_join(q)
 * a `for`/`while` loop with awaits       a step function whose reaction returns
 *                                        vow_follow() of the next step's promise
 * gather(*producers)                     vow_all(loop, producers, 2)
 *
 * The pauses come from seeded xorshift32 generators, the same as in the Python file. Which
 * consumer takes which item, and the order of lines printed at one instant, depend on
 * timing and on the turn order (see the README), so the consumer's name is not printed
 * and examples/check.py compares the lines as a set. Compare with
 * examples/py/ch10_6_producer_consumer.py. */
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

typedef struct {
    vow_queue_t *q;
    const char *name;
    int i, count;
    rng_t rng;
} producer_t;

typedef struct {
    vow_queue_t *q;
    rng_t rng;
} consumer_t;

static int consumed;

/* ---- async def producer(queue, name, count) -------------------------------------------- */
static vow_t *produce_next(vow_loop_t *loop, producer_t *p);

static vow_result_t after_pause(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    producer_t *p = ctx;
    return vow_follow(produce_next(loop, p));
}

static vow_result_t after_put(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    producer_t *p = ctx;
    printf("[produce] %s-item-%d\n", p->name, p->i++);
    uint64_t ms = 100 + rng_next(&p->rng) % 201;
    return vow_follow(vow_then_ok(vow_sleep(loop, ms), after_pause, p));
}

static vow_t *produce_next(vow_loop_t *loop, producer_t *p) {
    if (p->i == p->count) return vow_resolved(loop, vow_none());
    char *item = malloc(32);
    if (item == NULL) return vow_rejected(loop, vow_error_new(VOW_ENOMEM, NULL));
    snprintf(item, 32, "%s-item-%d", p->name, p->i);
    return vow_then_ok(vow_queue_put(p->q, vow_ptr(item, free)), after_put, p);
}

/* ---- async def consumer(queue, name) ---------------------------------------------------- */
static vow_t *consume_next(consumer_t *c);

static vow_result_t item_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    consumer_t *c = ctx;
    vow_queue_task_done(c->q);
    return vow_follow(consume_next(c));
}

static vow_result_t on_item(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    consumer_t *c = ctx;
    if (vow_value_kind(v) == VOW_VAL_NONE) return vow_ok_none(); /* the end signal */
    printf("[consume] %s\n", (const char *)vow_value_ptr(v));
    consumed++;
    uint64_t ms = 100 + rng_next(&c->rng) % 101;
    return vow_follow(vow_then_ok(vow_sleep(loop, ms), item_done, c));
}

static vow_t *consume_next(consumer_t *c) { return vow_then_ok(vow_queue_get(c->q), on_item, c); }

/* ---- async def demo_producer_consumer() ------------------------------------------------- */
static producer_t producers[2];
static consumer_t consumers[2];
static vow_t *consumer_tasks[2];

static vow_result_t all_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    printf("\n--- all done: %d items consumed ---\n", consumed);
    vow_queue_free(producers[0].q);
    return vow_ok_none();
}

/* After join: one end signal per consumer, then wait for the consumers. */
static vow_result_t joined(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    vow_t *puts[2];
    for (int i = 0; i < 2; i++) puts[i] = vow_queue_put(producers[0].q, vow_none());
    vow_unref(vow_all(loop, puts, 2)); /* there is room: both are in at once */
    return vow_follow(vow_then_ok(vow_all(loop, consumer_tasks, 2), all_done, NULL));
}

static vow_result_t producers_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    printf("\n--- producers done ---\n");
    return vow_follow(vow_then_ok(vow_queue_join(producers[0].q), joined, NULL));
}

static vow_t *demo_producer_consumer(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_queue_t *q = vow_queue_new(loop, 5);
    if (q == NULL) return NULL;
    producers[0] = (producer_t){q, "P1", 0, 3, {1}};
    producers[1] = (producer_t){q, "P2", 0, 3, {2}};
    consumers[0] = (consumer_t){q, {3}};
    consumers[1] = (consumer_t){q, {4}};
    vow_t *ps[2] = {produce_next(loop, &producers[0]), produce_next(loop, &producers[1])};
    for (int i = 0; i < 2; i++) consumer_tasks[i] = consume_next(&consumers[i]);
    return vow_then_ok(vow_all(loop, ps, 2), producers_done, NULL);
}

int main(void) { return vow_main(demo_producer_consumer, NULL); }
