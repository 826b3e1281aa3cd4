/* src/timer.c - setTimeout / setInterval / setImmediate with Node's ordering.
 *
 * libev's heap fires equal deadlines out of creation order, so vow keeps Node's design:
 * one FIFO list per distinct duration (every timer in it has the same duration, so the
 * list is sorted by deadline for free), a binary heap of lists keyed by (deadline of
 * the head, list sequence), and a single ev_timer armed for the heap's top. 1,000,000
 * timers over 1,001 durations use 1,001 lists and one libev timer. Timers are nodes in
 * a slab indexed by slot; ids carry the slot and a generation, so a stale id (fired,
 * cleared) is recognised without touching freed memory.
 *
 * Immediates live in the same slab, in a FIFO; the check phase swaps the queue out and
 * runs that batch, so immediates queued during the batch run on the next turn.
 */
#include <string.h>

#include "internal.h"

#define TIMEOUT_MAX 2147483647ull /* Node: larger delays become 1 */

static inline vow_timer_t make_id(uint32_t slot, uint32_t gen) {
    return ((uint64_t)gen << 32) | ((uint64_t)slot + 1);
}

static vow__tnode *lookup(vow__timers *tm, vow_timer_t id, uint32_t *slot_out) {
    uint32_t low = (uint32_t)id;
    if (low == 0 || low - 1 >= tm->fresh) return NULL;
    vow__tnode *n = &tm->nodes[low - 1];
    if (n->kind == VOW__T_FREE || n->gen != (uint32_t)(id >> 32)) return NULL;
    *slot_out = low - 1;
    return n;
}

/* Slots below tm->fresh have been handed out at least once (freed ones wait on the free
 * stack); the rest of the slab is untouched memory, initialised when first handed out, so
 * growing the slab writes nothing. */
static int node_alloc(vow__timers *tm, uint32_t *slot) {
    if (tm->free_head != VOW__NIL) {
        *slot = tm->free_head;
        tm->free_head = tm->nodes[*slot].next;
        return 0;
    }
    if (tm->fresh == tm->cap) {
        uint32_t cap = tm->cap ? tm->cap * 2 : 64;
        if (cap <= tm->cap || cap >= VOW__NIL) return VOW_ENOMEM;
        vow__tnode *nodes = vow__realloc(tm->nodes, (size_t)cap * sizeof *nodes);
        if (nodes == NULL) return VOW_ENOMEM;
        tm->nodes = nodes;
        tm->cap = cap;
    }
    if (tm->fresh == tm->faulted) {
        /* Once the slab is big, fault its untouched part in ahead of use, a window at a
         * time (see vow__prefault; never the part that no timer has reached). */
        uint32_t window = (uint32_t)(VOW__PREFAULT_WINDOW / sizeof *tm->nodes);
        uint32_t upto = tm->cap - tm->fresh > window ? tm->fresh + window : tm->cap;
        if (tm->fresh >= window)
            vow__prefault(tm->nodes + tm->fresh, (size_t)(upto - tm->fresh) * sizeof *tm->nodes);
        tm->faulted = upto;
    }
    *slot = tm->fresh++;
    tm->nodes[*slot].gen = 1;
    return 0;
}

/* What an internal timer's node held goes (its layer's release function; user timers
 * hold nothing). */
static inline void release_arg(vow_loop_t *loop, int how, void *arg) {
    if (how != 0) loop->releases[how](arg);
}

/* The idle watcher (no blocking poll) and the check phase, exactly while immediates wait. */
static void immediates_on(vow_loop_t *loop) {
    ev_idle_start(loop->evl, &loop->idle_w);
    vow__loop_check_start(loop);
}

static void immediates_off(vow_loop_t *loop) {
    ev_idle_stop(loop->evl, &loop->idle_w);
    vow__loop_check_stop(loop);
}

static void node_release(vow__timers *tm, uint32_t slot) {
    vow__tnode *n = &tm->nodes[slot];
    n->kind = VOW__T_FREE;
    n->cb = NULL;
    n->arg = NULL;
    n->release = 0;
    n->list = NULL;
    if (++n->gen == 0) n->gen = 1;
    n->next = tm->free_head;
    tm->free_head = slot;
}

/* ---- heap of lists ----------------------------------------------------------------- */

static inline int list_before(const vow__tlist *a, const vow__tlist *b) {
    return a->expiry < b->expiry || (a->expiry == b->expiry && a->seq < b->seq);
}

static void heap_set(vow__timers *tm, size_t i, vow__tlist *l) {
    tm->heap[i] = l;
    l->heap_idx = i;
}

static void heap_up(vow__timers *tm, size_t i) {
    vow__tlist *l = tm->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!list_before(l, tm->heap[p])) break;
        heap_set(tm, i, tm->heap[p]);
        i = p;
    }
    heap_set(tm, i, l);
}

static void heap_down(vow__timers *tm, size_t i) {
    vow__tlist *l = tm->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= tm->heap_len) break;
        if (c + 1 < tm->heap_len && list_before(tm->heap[c + 1], tm->heap[c])) c++;
        if (!list_before(tm->heap[c], l)) break;
        heap_set(tm, i, tm->heap[c]);
        i = c;
    }
    heap_set(tm, i, l);
}

static int heap_push(vow__timers *tm, vow__tlist *l) {
    if (tm->heap_len == tm->heap_cap) {
        size_t cap = tm->heap_cap ? tm->heap_cap * 2 : 16;
        vow__tlist **h = vow__realloc(tm->heap, cap * sizeof *h);
        if (h == NULL) return VOW_ENOMEM;
        tm->heap = h;
        tm->heap_cap = cap;
    }
    heap_set(tm, tm->heap_len++, l);
    heap_up(tm, tm->heap_len - 1);
    return 0;
}

static void heap_remove(vow__timers *tm, size_t i) {
    vow__tlist *last = tm->heap[--tm->heap_len];
    if (i < tm->heap_len) {
        heap_set(tm, i, last);
        heap_down(tm, i);
        heap_up(tm, last->heap_idx);
    }
}

/* ---- duration -> list map (open addressing, backward-shift deletion) ------------------ */

static inline size_t map_slot(const vow__timers *tm, uint64_t ms) {
    return (size_t)((ms * 0x9E3779B97F4A7C15ull) >> 17) & (tm->map_cap - 1);
}

static vow__tlist *map_find(const vow__timers *tm, uint64_t ms) {
    if (tm->map_cap == 0) return NULL;
    for (size_t i = map_slot(tm, ms);; i = (i + 1) & (tm->map_cap - 1)) {
        vow__tlist *l = tm->map[i];
        if (l == NULL) return NULL;
        if (l->ms == ms) return l;
    }
}

static void map_put(vow__timers *tm, vow__tlist *l) {
    size_t i = map_slot(tm, l->ms);
    while (tm->map[i] != NULL) i = (i + 1) & (tm->map_cap - 1);
    tm->map[i] = l;
}

static int map_insert(vow__timers *tm, vow__tlist *l) {
    if ((tm->map_len + 1) * 2 > tm->map_cap) {
        size_t cap = tm->map_cap ? tm->map_cap * 2 : 16;
        vow__tlist **old = tm->map;
        size_t old_cap = tm->map_cap;
        vow__tlist **m = vow__calloc(cap, sizeof *m);
        if (m == NULL) return VOW_ENOMEM;
        tm->map = m;
        tm->map_cap = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i] != NULL) map_put(tm, old[i]);
        vow__free(old);
    }
    map_put(tm, l);
    tm->map_len++;
    return 0;
}

static void map_delete(vow__timers *tm, uint64_t ms) {
    size_t mask = tm->map_cap - 1, i = map_slot(tm, ms);
    while (tm->map[i]->ms != ms) i = (i + 1) & mask;
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (tm->map[j] == NULL) break;
        size_t k = map_slot(tm, tm->map[j]->ms);
        /* Move j back to i unless its home k lies cyclically in (i, j]. */
        int home_between = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!home_between) {
            tm->map[i] = tm->map[j];
            i = j;
        }
    }
    tm->map[i] = NULL;
    tm->map_len--;
}

/* ---- lists ------------------------------------------------------------------------- */

static void list_append(vow__timers *tm, vow__tlist *l, uint32_t slot) {
    vow__tnode *n = &tm->nodes[slot];
    n->list = l;
    n->next = VOW__NIL;
    n->prev = l->tail;
    if (l->tail != VOW__NIL)
        tm->nodes[l->tail].next = slot;
    else
        l->head = slot;
    l->tail = slot;
}

static void unlink_node(vow__timers *tm, uint32_t *head, uint32_t *tail, uint32_t slot) {
    vow__tnode *n = &tm->nodes[slot];
    if (n->prev != VOW__NIL)
        tm->nodes[n->prev].next = n->next;
    else
        *head = n->next;
    if (n->next != VOW__NIL)
        tm->nodes[n->next].prev = n->prev;
    else
        *tail = n->prev;
    n->next = n->prev = VOW__NIL;
}

static void list_destroy(vow__timers *tm, vow__tlist *l) {
    heap_remove(tm, l->heap_idx);
    map_delete(tm, l->ms);
    vow__free(l);
}

static void arm(vow_loop_t *loop);

/* A new, empty list for duration ms, due ms from now: NULL when out of memory. Out of line:
 * most timers join a list that exists. */
static __attribute__((noinline)) vow__tlist *list_new(vow_loop_t *loop, uint64_t ms) {
    vow__timers *tm = &loop->tm;
    vow__tlist *l = vow__malloc(sizeof *l);
    if (l == NULL) return NULL;
    l->ms = ms;
    l->expiry = loop->now_ms + ms;
    l->seq = tm->list_seq++;
    l->head = l->tail = VOW__NIL;
    l->running = 0;
    if (map_insert(tm, l) != 0) {
        vow__free(l);
        return NULL;
    }
    if (heap_push(tm, l) != 0) {
        map_delete(tm, ms);
        vow__free(l);
        return NULL;
    }
    if (l->heap_idx == 0) arm(loop); /* the earliest deadline now */
    return l;
}

/* Arms the single ev_timer for the heap's top, or stops it when no timer is left. */
static void arm(vow_loop_t *loop) {
    vow__timers *tm = &loop->tm;
    ev_timer_stop(loop->evl, &loop->timer_w);
    if (tm->heap_len == 0) return;
    /* Wake when the clock reaches the deadline's millisecond, from the precise time (the
     * whole-millisecond time would wake up to 1 ms late). libev measures from its cached
     * time: refresh it so the timer cannot fire early. */
    uint64_t now = vow__clock_ns(), exp = tm->heap[0]->expiry;
    exp = exp < UINT64_MAX / 1000000u ? exp * 1000000u : UINT64_MAX;
    ev_now_update(loop->evl);
    ev_timer_set(&loop->timer_w, exp > now ? (double)(exp - now) / 1e9 : 0.0, 0.0);
    ev_timer_start(loop->evl, &loop->timer_w);
}

static void run_timers(struct ev_loop *evl, ev_timer *w, int revents) {
    (void)evl;
    (void)revents;
    vow_loop_t *loop = w->data;
    vow__timers *tm = &loop->tm;
    uint64_t now = vow__loop_clock_ms(loop);
    while (tm->heap_len > 0 && tm->heap[0]->expiry <= now) {
        vow__tlist *l = tm->heap[0];
        l->running = 1;
        while (l->head != VOW__NIL) {
            uint32_t slot = l->head;
            vow__tnode *n = &tm->nodes[slot];
            if (n->start + l->ms > now) {
                /* The rest of this list is not due: Node's listOnTimeout rule. */
                uint64_t exp = n->start + l->ms;
                l->expiry = exp > now + 1 ? exp : now + 1;
                l->seq = tm->list_seq++;
                heap_down(tm, l->heap_idx);
                break;
            }
            unlink_node(tm, &l->head, &l->tail, slot);
            n->state = VOW__TS_RUNNING;
            if (n->kind == VOW__T_INTERVAL) n->start = vow__loop_clock_ms(loop);
            vow_timer_cb cb = n->cb;
            void *arg = n->arg;
            cb(loop, arg);
            n = &tm->nodes[slot]; /* the slab may have moved */
            if (n->kind == VOW__T_INTERVAL && n->state == VOW__TS_RUNNING) {
                n->state = VOW__TS_QUEUED;
                list_append(tm, l, slot);
            } else {
                int how = n->release;
                void *a = n->arg;
                node_release(tm, slot);
                tm->active--;
                release_arg(loop, how, a);
            }
            vow__drain(loop);
            if (loop->stop) break; /* vow_loop_stop: return after the current callback */
        }
        l->running = 0;
        if (l->head == VOW__NIL) list_destroy(tm, l);
        if (loop->stop) break;
    }
    arm(loop);
}

void vow__timers_init(vow_loop_t *loop) {
    vow__timers *tm = &loop->tm;
    memset(tm, 0, sizeof *tm);
    tm->free_head = VOW__NIL;
    tm->imm_head = tm->imm_tail = tm->run_head = tm->run_tail = VOW__NIL;
    ev_timer_init(&loop->timer_w, run_timers, 0.0, 0.0);
    ev_set_priority(&loop->timer_w, EV_MAXPRI);
    loop->timer_w.data = loop;
}

int vow__timer_start(vow_loop_t *loop, int kind, uint64_t ms, vow_timer_cb cb, void *arg,
                     int release, vow_timer_t *id) {
    vow__timers *tm = &loop->tm;
    uint32_t slot;
    vow__assert(release >= 0 && release < VOW__RELEASES &&
                    (release == 0 || loop->releases[release] != NULL),
                "timer release kind not registered");
    if (node_alloc(tm, &slot) != 0) return VOW_ENOMEM;
    vow__tnode *n = &tm->nodes[slot];
    n->kind = (uint8_t)kind;
    n->state = VOW__TS_QUEUED;
    n->cb = cb;
    n->arg = arg;
    n->release = (uint8_t)release;
    n->in_run_list = 0;
    if (kind == VOW__T_IMMEDIATE) {
        n->list = NULL;
        n->next = VOW__NIL;
        n->prev = tm->imm_tail;
        if (tm->imm_tail != VOW__NIL)
            tm->nodes[tm->imm_tail].next = slot;
        else
            tm->imm_head = slot;
        tm->imm_tail = slot;
        if (tm->immediates++ == 0) immediates_on(loop);
    } else {
        if (ms < 1) ms = 1;
        if (ms > UINT64_MAX / 4) ms = UINT64_MAX / 4; /* deadlines never overflow */
        /* Node measures a new timer from the current time (its getLibuvNow updates the
         * loop's clock), so code that blocked before setTimeout does not shorten it. */
        /* (Not vow__loop_clock_ms: libev's iteration count is a call, one per timer set; a
         * vow_loop_now later in the turn may read the clock once more.) */
        loop->now_ms = vow__clock_ms();
        vow__tlist *l = map_find(tm, ms);
        if (l == NULL && (l = list_new(loop, ms)) == NULL) goto fail;
        n->start = loop->now_ms;
        list_append(tm, l, slot);
        tm->active++;
    }
    if (id != NULL) *id = make_id(slot, n->gen);
    return 0;
fail:
    node_release(tm, slot);
    return VOW_ENOMEM;
}

int vow__timer_clear(vow_loop_t *loop, vow_timer_t id, int want_immediate) {
    vow__timers *tm = &loop->tm;
    uint32_t slot;
    vow__tnode *n = lookup(tm, id, &slot);
    if (n == NULL) return VOW_ENOENT;
    if (want_immediate >= 0 && (n->kind == VOW__T_IMMEDIATE) != (want_immediate != 0))
        return VOW_EINVAL;
    if (n->state == VOW__TS_CLEARED) return VOW_ENOENT;
    if (n->state == VOW__TS_RUNNING) {
        if (n->kind != VOW__T_INTERVAL) return VOW_ENOENT; /* it has fired */
        n->state = VOW__TS_CLEARED;                        /* freed when its callback returns */
        return 0;
    }
    int how = n->release;
    void *a = n->arg;
    if (n->kind == VOW__T_IMMEDIATE) {
        if (n->in_run_list)
            unlink_node(tm, &tm->run_head, &tm->run_tail, slot);
        else
            unlink_node(tm, &tm->imm_head, &tm->imm_tail, slot);
        node_release(tm, slot);
        if (--tm->immediates == 0) immediates_off(loop);
    } else {
        vow__tlist *l = n->list;
        unlink_node(tm, &l->head, &l->tail, slot);
        node_release(tm, slot);
        tm->active--;
        if (l->head == VOW__NIL && !l->running) {
            list_destroy(tm, l);
            if (tm->heap_len == 0) ev_timer_stop(loop->evl, &loop->timer_w);
        }
    }
    release_arg(loop, how, a);
    return 0;
}

void vow__timers_check(vow_loop_t *loop) {
    vow__timers *tm = &loop->tm;
    if (tm->imm_head == VOW__NIL) return;
    tm->run_head = tm->imm_head;
    tm->run_tail = tm->imm_tail;
    tm->imm_head = tm->imm_tail = VOW__NIL;
    for (uint32_t s = tm->run_head; s != VOW__NIL; s = tm->nodes[s].next)
        tm->nodes[s].in_run_list = 1;
    while (tm->run_head != VOW__NIL) {
        uint32_t slot = tm->run_head;
        unlink_node(tm, &tm->run_head, &tm->run_tail, slot);
        vow__tnode *n = &tm->nodes[slot];
        n->in_run_list = 0;
        n->state = VOW__TS_RUNNING;
        vow_timer_cb cb = n->cb;
        void *arg = n->arg;
        cb(loop, arg);
        n = &tm->nodes[slot];
        int how = n->release;
        void *a = n->arg;
        node_release(tm, slot);
        if (--tm->immediates == 0) immediates_off(loop);
        release_arg(loop, how, a);
        vow__drain(loop);
        if (loop->stop && tm->run_head != VOW__NIL) {
            /* vow_loop_stop: the rest of the batch runs first on the next turn. */
            for (uint32_t s = tm->run_head; s != VOW__NIL; s = tm->nodes[s].next)
                tm->nodes[s].in_run_list = 0;
            tm->nodes[tm->run_tail].next = tm->imm_head;
            if (tm->imm_head != VOW__NIL)
                tm->nodes[tm->imm_head].prev = tm->run_tail;
            else
                tm->imm_tail = tm->run_tail;
            tm->imm_head = tm->run_head;
            tm->run_head = tm->run_tail = VOW__NIL;
            break;
        }
    }
}

void vow__timers_each(vow_loop_t *loop, int release, void (*fn)(void *arg, void *ctx), void *ctx) {
    const vow__timers *tm = &loop->tm;
    for (uint32_t s = 0; s < tm->fresh; s++) {
        const vow__tnode *n = &tm->nodes[s];
        if (n->kind == VOW__T_FREE || n->state == VOW__TS_CLEARED || n->release != release)
            continue;
        fn(n->arg, ctx);
    }
}

void vow__timers_free(vow_loop_t *loop) {
    vow__timers *tm = &loop->tm;
    ev_timer_stop(loop->evl, &loop->timer_w);
    immediates_off(loop);
    /* Release every node first, then run the internal destructors, so that a destructor
     * that touches timers finds consistent (empty) structures. */
    for (uint32_t s = 0; s < tm->fresh; s++) {
        vow__tnode *n = &tm->nodes[s];
        if (n->kind == VOW__T_FREE) continue;
        n->kind = VOW__T_FREE;
        if (++n->gen == 0) n->gen = 1;
    }
    tm->active = tm->immediates = 0;
    tm->imm_head = tm->imm_tail = tm->run_head = tm->run_tail = VOW__NIL;
    for (size_t i = 0; i < tm->heap_len; i++) vow__free(tm->heap[i]);
    tm->heap_len = 0;
    for (uint32_t s = 0; s < tm->fresh; s++) {
        vow__tnode *n = &tm->nodes[s];
        int how = n->release;
        n->release = 0;
        release_arg(loop, how, n->arg);
    }
    vow__free(tm->nodes);
    vow__free(tm->heap);
    vow__free(tm->map);
    memset(tm, 0, sizeof *tm);
    tm->free_head = VOW__NIL;
    tm->imm_head = tm->imm_tail = tm->run_head = tm->run_tail = VOW__NIL;
}

/* ---- public API -------------------------------------------------------------------- */

static int check_args(vow_loop_t *loop, vow_timer_cb cb) {
    if (loop == NULL || cb == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    return 0;
}

/* Node's rule for setTimeout/setInterval only: a delay above 2^31-1 ms becomes 1 ms. vow's
 * asyncio-style timers (vow_sleep, vow_timeout, vow_wait) take any delay as it is. */
static uint64_t node_delay(uint64_t ms) { return ms > TIMEOUT_MAX ? 1 : ms; }

int vow_set_timeout(vow_loop_t *loop, vow_timer_cb cb, void *arg, uint64_t ms, vow_timer_t *id) {
    ms = node_delay(ms);
    int rc = check_args(loop, cb);
    return rc ? rc : vow__timer_start(loop, VOW__T_TIMEOUT, ms, cb, arg, 0, id);
}

int vow_set_interval(vow_loop_t *loop, vow_timer_cb cb, void *arg, uint64_t ms, vow_timer_t *id) {
    ms = node_delay(ms);
    int rc = check_args(loop, cb);
    return rc ? rc : vow__timer_start(loop, VOW__T_INTERVAL, ms, cb, arg, 0, id);
}

int vow_set_immediate(vow_loop_t *loop, vow_timer_cb cb, void *arg, vow_timer_t *id) {
    int rc = check_args(loop, cb);
    return rc ? rc : vow__timer_start(loop, VOW__T_IMMEDIATE, 0, cb, arg, 0, id);
}

int vow_clear_timeout(vow_loop_t *loop, vow_timer_t id) {
    if (loop == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    return vow__timer_clear(loop, id, 0);
}

int vow_clear_interval(vow_loop_t *loop, vow_timer_t id) { return vow_clear_timeout(loop, id); }

int vow_clear_immediate(vow_loop_t *loop, vow_timer_t id) {
    if (loop == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    return vow__timer_clear(loop, id, 1);
}

/* ---- invariants (vow_loop_verify) ------------------------------------------------------ */

void vow__timers_verify(const vow_loop_t *loop) {
    const vow__timers *tm = &loop->tm;
    size_t in_lists = 0;
    vow__assert(tm->heap_len <= tm->heap_cap && tm->map_len == tm->heap_len,
                "one heap entry and one map entry per list");
    for (size_t i = 0; i < tm->heap_len; i++) {
        const vow__tlist *l = tm->heap[i];
        vow__assert(l->heap_idx == i, "timer list's heap index");
        if (i > 0) vow__assert(!list_before(l, tm->heap[(i - 1) / 2]), "timer heap order");
        vow__assert(map_find(tm, l->ms) == l, "timer list missing from the duration map");
        uint32_t prev = VOW__NIL;
        for (uint32_t s = l->head; s != VOW__NIL; s = tm->nodes[s].next) {
            const vow__tnode *n = &tm->nodes[s];
            vow__assert(s < tm->fresh && n->kind != VOW__T_FREE && n->list == l,
                        "timer node in the wrong list");
            vow__assert(n->prev == prev, "timer list links");
            vow__assert(n->release == 0 || loop->releases[n->release] != NULL,
                        "timer release kind not registered");
            prev = s;
            in_lists++;
        }
        vow__assert(l->tail == prev, "timer list tail");
    }
    vow__assert(in_lists <= tm->active, "more timers in lists than active");
    size_t imm = 0;
    for (uint32_t s = tm->imm_head; s != VOW__NIL; s = tm->nodes[s].next) {
        vow__assert(tm->nodes[s].kind == VOW__T_IMMEDIATE, "immediate list holds a timer");
        imm++;
    }
    for (uint32_t s = tm->run_head; s != VOW__NIL; s = tm->nodes[s].next) imm++;
    vow__assert(imm == tm->immediates, "immediate count");
    uint32_t free_n = 0;
    for (uint32_t s = tm->free_head; s != VOW__NIL; s = tm->nodes[s].next) {
        vow__assert(s < tm->fresh && tm->nodes[s].kind == VOW__T_FREE, "timer free stack");
        if (++free_n > tm->fresh) vow__assert(0, "timer free stack loops");
    }
}
