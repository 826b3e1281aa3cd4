/* proof/interp.c - runs a proof program (proof/FORMAT.md) on vow, printing its trace.
 *
 * Public API only. Every op of a scope runs, in file order, when its scope runs: main at
 * proof_start, a reaction's scope inside that reaction (before it returns its result), a
 * timer's or microtask's scope inside that callback. The interpreter holds one reference
 * to every promise it made, until proof_release.
 *
 * Self-checks (abort() on violation, so a fuzzer or a test sees a crash):
 *   - a reaction, timer or microtask callback runs at most once;
 *   - every value box, error payload and reaction context handed to vow has its
 *     destructor run exactly once: a second run aborts at once, a missing one aborts in
 *     proof_check_and_free (after the loop was closed or freed).
 *
 * The asyncio ops of issue 6 (sleep, timeout, cancel, wait, create_task, task groups) run
 * here too; a task body is a scope (tag "task") that runs when vow starts the task, then
 * returns a promise for its action. proof_end prints each node's final outcome.
 *
 * Coroutines (issue 16): an `async` op's body (tag "async") runs on a coroutine of its own
 * (vow_async), and the step loop over its ops (run_list) runs inside that coroutine, so an
 * `await` op is a vow_await in the middle of the loop. A rejected await or a `throw` op
 * unwinds run_list to the nearest `try` op (its "catch" block runs) or out of the body,
 * whose promise then rejects. proof_stop makes every body unwind at its next await without
 * running more ops, for a teardown with coroutines still suspended (vow_loop_free).
 */
#include "interp.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the program ------------------------------------------------------------------- */

enum op_kind {
    K_NEW,
    K_RESOLVED,
    K_REJECTED,
    K_RESOLVE,
    K_REJECT,
    K_RESOLVE_WITH,
    K_THEN,
    K_CATCH,
    K_FINALLY,
    K_ALL,
    K_ALL_SETTLED,
    K_RACE,
    K_ANY,
    K_TIMER,
    K_MICRO,
    K_SLEEP,
    K_TIMEOUT,
    K_CANCEL,
    K_WAIT,
    K_CREATE_TASK,
    K_GROUP,
    K_GROUP_ADD,
    K_GROUP_SPAWN,
    K_GROUP_JOIN,
    K_LOCK,
    K_SEM,
    K_BSEM,
    K_EVENT,
    K_LOCK_ACQUIRE,
    K_LOCK_RELEASE,
    K_SEM_ACQUIRE,
    K_SEM_RELEASE,
    K_EVENT_WAIT,
    K_EVENT_SET,
    K_EVENT_CLEAR,
    K_QUEUE,
    K_PUT,
    K_PUT_NOWAIT,
    K_GET,
    K_GET_NOWAIT,
    K_TASK_DONE,
    K_JOIN,
    K_SHUTDOWN,
    K_ASYNC,
    K_AWAIT,
    K_TRY,
    K_THROW,
    K_PAIR,
    K_SOCK_WRITE,
    K_SOCK_READ,
    K_SOCK_EOF,
    K_SOCK_SHUTDOWN,
    K_SOCK_CLOSE,
    K_COUNT
};

static const char *const kind_names[K_COUNT] = {
    "new",         "resolved",    "rejected",   "resolve",       "reject",       "resolve_with",
    "then",        "catch",       "finally",    "all",           "all_settled",  "race",
    "any",         "timer",       "micro",      "sleep",         "timeout",      "cancel",
    "wait",        "create_task", "group",      "group_add",     "group_spawn",  "group_join",
    "lock",        "sem",         "bsem",       "event",         "lock_acquire", "lock_release",
    "sem_acquire", "sem_release", "event_wait", "event_set",     "event_clear",  "queue",
    "put",         "put_nowait",  "get",        "get_nowait",    "task_done",    "join",
    "shutdown",    "async",       "await",      "try",           "throw",        "pair",
    "sock_write",  "sock_read",   "sock_eof",   "sock_shutdown", "sock_close"};

/* Scope tags: the callbacks an op can create. */
enum tag { T_OK, T_ERR, T_FIN, T_TIMER, T_MICRO, T_TASK, T_ASYNC, T_TRY, T_CATCH, T_COUNT };
static const char *const tag_names[T_COUNT] = {"ok",   "err",   "fin", "t",    "m",
                                               "task", "async", "try", "catch"};

enum val_kind { V_UNDEF, V_INT, V_BOX };
typedef struct {
    enum val_kind kind;
    int64_t i;
} val_desc;

enum act_kind { A_NONE, A_VAL, A_PASS, A_THROW, A_RET };
typedef struct {
    enum act_kind kind;
    val_desc v; /* A_VAL */
    int code;   /* A_THROW */
    int node;   /* A_RET: op index, -1 when unknown */
    int ret_id; /* A_RET: the id, until resolved */
} action;

typedef struct {
    int *v;
    int n, cap;
} intvec;

typedef struct op {
    int id;
    int parent;    /* op index of the scope's op, -1 for main */
    enum tag ptag; /* which of the parent's scopes */
    enum op_kind kind;
    int a, b;       /* node operands (op indices, -1 none) */
    val_desc v;     /* resolved / resolve */
    int code;       /* rejected / reject */
    uint64_t delay; /* timer, sleep, timeout, wait (wait: UINT64_MAX for none); sem: permits */
    unsigned flags; /* timeout: VOW_TIMEOUT_RACE; wait: VOW_WAIT_CANCEL_PENDING */
    int mode;       /* wait: vow_wait_mode_t; lock_acquire, lock_release: the owner tag;
                       queue: 0 fifo, 1 lifo, 2 prio; shutdown: 1 immediate */
    action act[2];  /* then: ok, err; catch: err in act[1]; finally, task bodies, async: act[0] */
    intvec inputs;  /* combinators, wait */
    char *text;     /* sock_write: the bytes (owned), tlen of them */
    size_t tlen;
} op;

/* Something handed to vow with a destructor: a boxed value, an error payload or a
 * reaction context. Its memory stays ours until proof_check_and_free, so a second
 * destructor run is counted, not a use after free. */
#define TOBJ_MAGIC 0x70726f6fu
typedef struct tobj {
    uint32_t magic;
    int dtor_runs;
    int64_t v;            /* boxed value */
    struct proof_prog *p; /* reaction context */
    int op;               /* reaction context: op index */
} tobj;

typedef struct cbref {
    struct proof_prog *p;
    int op;
} cbref;

struct proof_prog {
    unsigned flags;
    op *ops;
    int nops, capops;
    intvec main_scope;
    intvec *kids;             /* kids[op * T_COUNT + tag]: ops of that scope, in order */
    unsigned char *runs;      /* runs[op * T_COUNT + tag] */
    vow_t **node;             /* node[op] */
    vow_task_group_t **group; /* group[op] (group ops) */
    void **obj;               /* obj[op]: the lock, semaphore, event or queue a lock/sem/
                                 bsem/event/queue op made (its kind says which) */
    cbref *cbs;               /* cbs[op] */
    vow_sock_t **sock;        /* sock[2 * op + end] (pair ops): end 0 the client, 1 the
                                 accepted connection; NULL until set up, and once released */
    vow_server_t **srv;       /* srv[op] (pair ops): the listening server during setup */
    vow_stream_t **acc;       /* acc[op] (pair ops): its accept stream during setup */
    int npairs, pairs_ready, io_setup_err;
    tobj **objs;
    int nobjs, capobjs;
    intvec settled_nodes; /* all_settled ops, to print their lists with f:/r: */
    vow_loop_t *loop;
    int index;
    proof_emit_fn emit;
    void *ud;
    char *line;
    size_t line_len, line_cap;
    int stopped; /* proof_stop: the loop is being torn down; async bodies unwind */
};

static void die(const char *what, const proof_prog *p, int op_i) {
    fprintf(stderr, "proof: FATAL: %s (program %d, op %d)\n", what, p ? p->index : -1,
            (p && op_i >= 0) ? p->ops[op_i].id : -1);
    fflush(stderr);
    abort();
}

static void *xrealloc(void *q, size_t n) {
    void *r = realloc(q, n ? n : 1);
    if (r == NULL) {
        fprintf(stderr, "proof: out of memory\n");
        abort();
    }
    return r;
}

static void vec_push(intvec *v, int x) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4;
        v->v = xrealloc(v->v, (size_t)v->cap * sizeof *v->v);
    }
    v->v[v->n++] = x;
}

/* ---- tracked objects ----------------------------------------------------------------- */

static tobj *tobj_new(proof_prog *p) {
    tobj *o = xrealloc(NULL, sizeof *o);
    memset(o, 0, sizeof *o);
    o->magic = TOBJ_MAGIC;
    if (p->nobjs == p->capobjs) {
        p->capobjs = p->capobjs ? p->capobjs * 2 : 16;
        p->objs = xrealloc(p->objs, (size_t)p->capobjs * sizeof *p->objs);
    }
    p->objs[p->nobjs++] = o;
    return o;
}

static void tobj_dtor(void *q) {
    tobj *o = q;
    if (o == NULL || o->magic != TOBJ_MAGIC) {
        fprintf(stderr, "proof: FATAL: destructor called on something that is not ours\n");
        abort();
    }
    if (++o->dtor_runs > 1) {
        fprintf(stderr, "proof: FATAL: a destructor ran twice (value %" PRId64 ")\n", o->v);
        abort();
    }
}

/* ---- parsing ------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int code;
} codes[] = {{"EINVAL", VOW_EINVAL}, {"ENOENT", VOW_ENOENT}, {"ERANGE", VOW_ERANGE},
             {"EAGAIN", VOW_EAGAIN}, {"EPERM", VOW_EPERM},   {"EBUSY", VOW_EBUSY}};

static int parse_code(const char *s, int *out) {
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(s, codes[i].name) == 0) {
            *out = codes[i].code;
            return 0;
        }
    return -1;
}

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    if (*s == '\0') return -1;
    const char *q = s;
    if (*q == '-') q++;
    if (*q == '\0') return -1;
    for (; *q; q++)
        if (!isdigit((unsigned char)*q)) return -1;
    if (strlen(s) > 12) return -1;
    long long x = strtoll(s, NULL, 10);
    if (x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

#define VAL_LIMIT 1000000000LL

static int parse_value(const char *s, val_desc *v) {
    if (strcmp(s, "u") == 0) {
        v->kind = V_UNDEF;
        v->i = 0;
        return 0;
    }
    if (s[0] == 'b') {
        v->kind = V_BOX;
        return parse_int(s + 1, -VAL_LIMIT, VAL_LIMIT, &v->i);
    }
    v->kind = V_INT;
    return parse_int(s, -VAL_LIMIT, VAL_LIMIT, &v->i);
}

typedef struct {
    int *idx; /* id -> op index + 1 (0: none) */
    int max_id;
} idmap;

static int lookup(const idmap *m, const char *s, int64_t *id_out) {
    int64_t id;
    if (parse_int(s, 1, m->max_id, &id) != 0) return -1;
    if (id_out) *id_out = id;
    return m->idx[id] - 1;
}

/* A node operand: an op that makes a promise. */
static int is_node_kind(enum op_kind k) {
    switch (k) {
    case K_RESOLVE:
    case K_REJECT:
    case K_RESOLVE_WITH:
    case K_TIMER:
    case K_MICRO:
    case K_CANCEL:
    case K_GROUP:
    case K_GROUP_ADD:
    case K_GROUP_SPAWN:
    case K_LOCK:
    case K_SEM:
    case K_BSEM:
    case K_EVENT:
    case K_EVENT_SET:
    case K_EVENT_CLEAR:
    case K_QUEUE:
    case K_SHUTDOWN:
    case K_AWAIT:
    case K_TRY:
    case K_THROW:
    case K_PAIR:
    case K_SOCK_CLOSE: return 0;
    default: return 1;
    }
}

static int parse_group(proof_prog *p, const idmap *m, const char *s) {
    int i = lookup(m, s, NULL);
    if (i < 0 || p->ops[i].kind != K_GROUP) return -1;
    return i;
}

/* An object operand: an op of kind k1 or k2 (a lock, a semaphore, an event). */
static int parse_obj(proof_prog *p, const idmap *m, const char *s, enum op_kind k1,
                     enum op_kind k2) {
    int i = lookup(m, s, NULL);
    if (i < 0 || (p->ops[i].kind != k1 && p->ops[i].kind != k2)) return -1;
    return i;
}

static int parse_node(proof_prog *p, const idmap *m, const char *s) {
    int i = lookup(m, s, NULL);
    if (i < 0 || !is_node_kind(p->ops[i].kind)) return -1;
    return i;
}

static int parse_action(const idmap *m, const char *s, action *a, int allow_none) {
    memset(a, 0, sizeof *a);
    a->node = -1;
    if (strcmp(s, "-") == 0) {
        a->kind = A_NONE;
        return allow_none ? 0 : -1;
    }
    if (strcmp(s, "pass") == 0) {
        a->kind = A_PASS;
        return 0;
    }
    if (strncmp(s, "val:", 4) == 0) {
        a->kind = A_VAL;
        return parse_value(s + 4, &a->v);
    }
    if (strncmp(s, "throw:", 6) == 0) {
        a->kind = A_THROW;
        return parse_code(s + 6, &a->code);
    }
    if (strncmp(s, "ret:", 4) == 0) {
        /* The node may come later in the file (a node of the parent scope made after
         * this op, or one the reaction's own scope makes): resolved after the parse. */
        int64_t id;
        a->kind = A_RET;
        if (parse_int(s + 4, 1, m->max_id, &id) != 0) return -1;
        a->ret_id = (int)id;
        return 0;
    }
    return -1;
}

static int tag_allowed(const op *o, enum tag t) {
    switch (t) {
    case T_OK: return o->kind == K_THEN && o->act[0].kind != A_NONE;
    case T_ERR: return (o->kind == K_THEN || o->kind == K_CATCH) && o->act[1].kind != A_NONE;
    case T_FIN: return o->kind == K_FINALLY;
    case T_TIMER: return o->kind == K_TIMER;
    case T_MICRO: return o->kind == K_MICRO;
    case T_TASK: return o->kind == K_CREATE_TASK || o->kind == K_GROUP_SPAWN;
    case T_ASYNC: return o->kind == K_ASYNC;
    case T_TRY:
    case T_CATCH: return o->kind == K_TRY;
    default: return 0;
    }
}

/* Whether scope (op index, tag) is an async body or a try/catch block inside one: where
 * await, try and throw may stand (they run on the body's coroutine). */
static int in_body(const proof_prog *p, int parent, enum tag t) {
    while (parent >= 0 && (t == T_TRY || t == T_CATCH)) {
        t = p->ops[parent].ptag;
        parent = p->ops[parent].parent;
    }
    return parent >= 0 && t == T_ASYNC;
}

#define MAX_TOK 80

/* A sock_write's TEXT: WORD ([a-z0-9], 1 to 64 characters) or WORD*N, WORD N times; 16384
 * bytes at most. The expanded bytes go to o->text. */
#define TEXT_MAX 16384
static int parse_text(const char *s, op *o) {
    const char *star = strchr(s, '*');
    size_t wlen = star ? (size_t)(star - s) : strlen(s);
    int64_t times = 1;
    if (wlen < 1 || wlen > 64) return -1;
    for (size_t i = 0; i < wlen; i++)
        if (!(isdigit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'z'))) return -1;
    if (star && (star[1] == '0' || parse_int(star + 1, 1, 99999, &times) != 0)) return -1;
    if ((size_t)times * wlen > TEXT_MAX) return -1;
    o->tlen = (size_t)times * wlen;
    o->text = xrealloc(NULL, o->tlen + 1);
    for (int64_t k = 0; k < times; k++) memcpy(o->text + (size_t)k * wlen, s, wlen);
    o->text[o->tlen] = '\0';
    return 0;
}

/* Parses one line's tokens into a new op (appended on success). Returns 0, or -1 with a
 * message in err. */
static int parse_line(proof_prog *p, idmap *m, char **tok, int ntok, char *err, size_t errlen) {
    int fuzz = (p->flags & PROOF_FUZZ) != 0;
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return -1;                                                                                 \
    } while (0)
    if (ntok < 3) FAIL("expected: ID SCOPE KIND ARGS...");
    int64_t id;
    if (parse_int(tok[0], 1, m->max_id, &id) != 0) FAIL("bad op id '%s'", tok[0]);
    if (m->idx[id] != 0) FAIL("duplicate op id %" PRId64, id);
    op o;
    memset(&o, 0, sizeof o);
    o.id = (int)id;
    o.a = o.b = -1;
    o.act[0].node = o.act[1].node = -1;
    if (strcmp(tok[1], "main") == 0) {
        o.parent = -1;
    } else {
        char *dot = strchr(tok[1], '.');
        if (dot == NULL) FAIL("bad scope '%s'", tok[1]);
        *dot = '\0';
        int pi = lookup(m, tok[1], NULL);
        *dot = '.';
        if (pi < 0) FAIL("scope '%s': no earlier op with that id", tok[1]);
        int t;
        for (t = 0; t < T_COUNT; t++)
            if (strcmp(dot + 1, tag_names[t]) == 0) break;
        if (t == T_COUNT || !tag_allowed(&p->ops[pi], (enum tag)t))
            FAIL("scope '%s': op %d has no such callback", tok[1], p->ops[pi].id);
        o.parent = pi;
        o.ptag = (enum tag)t;
    }
    int k;
    for (k = 0; k < K_COUNT; k++)
        if (strcmp(tok[2], kind_names[k]) == 0) break;
    if (k == K_COUNT) FAIL("unknown op kind '%s'", tok[2]);
    o.kind = (enum op_kind)k;
    char **arg = tok + 3;
    int nargs = ntok - 3;
    int64_t d;
    switch (o.kind) {
    case K_NEW:
    case K_MICRO:
    case K_GROUP:
    case K_LOCK:
    case K_EVENT:
    case K_TRY:
        if (nargs != 0) FAIL("%s takes no argument", tok[2]);
        break;
    case K_PAIR:
        if (nargs != 0) FAIL("pair takes no argument");
        if (o.parent >= 0) FAIL("pair outside main");
        if (fuzz && p->npairs >= 4) FAIL("too many pairs");
        p->npairs++;
        break;
    case K_SOCK_WRITE:
    case K_SOCK_READ:
    case K_SOCK_EOF:
    case K_SOCK_SHUTDOWN:
    case K_SOCK_CLOSE: {
        int want = (o.kind == K_SOCK_WRITE || o.kind == K_SOCK_READ) ? 3 : 2;
        if (nargs != want || (o.a = parse_obj(p, m, arg[0], K_PAIR, K_PAIR)) < 0)
            FAIL("%s PAIR c|s%s", tok[2],
                 o.kind == K_SOCK_WRITE  ? " TEXT"
                 : o.kind == K_SOCK_READ ? " N"
                                         : "");
        if (strcmp(arg[1], "c") == 0)
            o.mode = 0;
        else if (strcmp(arg[1], "s") == 0)
            o.mode = 1;
        else
            FAIL("%s: bad end '%s'", tok[2], arg[1]);
        if (o.kind == K_SOCK_READ) {
            if (parse_int(arg[2], 1, 65536, &d) != 0) FAIL("sock_read: bad count '%s'", arg[2]);
            o.delay = (uint64_t)d;
        }
        if (o.kind == K_SOCK_WRITE && parse_text(arg[2], &o) != 0)
            FAIL("sock_write: bad text '%s'", arg[2]);
        break;
    }
    case K_ASYNC:
        if (nargs != 1 || parse_action(m, arg[0], &o.act[0], 0) != 0)
            FAIL("async ACTION (val:, throw:, ret: or pass)");
        break;
    case K_AWAIT:
        if (nargs != 1 || (o.a = parse_node(p, m, arg[0])) < 0) FAIL("await NODE");
        break;
    case K_THROW:
        if (nargs != 1 || parse_code(arg[0], &o.code) != 0) FAIL("throw CODE");
        break;
    case K_SEM:
    case K_BSEM:
        if (nargs != 1 || parse_int(arg[0], 0, 1000, &d) != 0) FAIL("%s COUNT", tok[2]);
        o.delay = (uint64_t)d;
        break;
    case K_LOCK_ACQUIRE:
    case K_LOCK_RELEASE:
        if (nargs != 2 || (o.a = parse_obj(p, m, arg[0], K_LOCK, K_LOCK)) < 0 ||
            parse_int(arg[1], 0, 1000, &d) != 0)
            FAIL("%s LOCK OWNER", tok[2]);
        o.mode = (int)d;
        break;
    case K_SEM_ACQUIRE:
    case K_SEM_RELEASE:
        if (nargs != 1 || (o.a = parse_obj(p, m, arg[0], K_SEM, K_BSEM)) < 0)
            FAIL("%s SEM", tok[2]);
        break;
    case K_EVENT_WAIT:
    case K_EVENT_SET:
    case K_EVENT_CLEAR:
        if (nargs != 1 || (o.a = parse_obj(p, m, arg[0], K_EVENT, K_EVENT)) < 0)
            FAIL("%s EVENT", tok[2]);
        break;
    case K_QUEUE:
        if (nargs != 2 || parse_int(arg[1], 0, 1000, &d) != 0) FAIL("queue KIND MAXSIZE");
        o.delay = (uint64_t)d;
        if (strcmp(arg[0], "fifo") == 0)
            o.mode = 0;
        else if (strcmp(arg[0], "lifo") == 0)
            o.mode = 1;
        else if (strcmp(arg[0], "prio") == 0)
            o.mode = 2;
        else
            FAIL("queue: bad kind '%s'", arg[0]);
        break;
    case K_PUT:
    case K_PUT_NOWAIT:
        if (nargs != 2 || (o.a = parse_obj(p, m, arg[0], K_QUEUE, K_QUEUE)) < 0 ||
            parse_value(arg[1], &o.v) != 0)
            FAIL("%s QUEUE VALUE", tok[2]);
        break;
    case K_GET:
    case K_GET_NOWAIT:
    case K_TASK_DONE:
    case K_JOIN:
        if (nargs != 1 || (o.a = parse_obj(p, m, arg[0], K_QUEUE, K_QUEUE)) < 0)
            FAIL("%s QUEUE", tok[2]);
        break;
    case K_SHUTDOWN:
        if (nargs != 2 || (o.a = parse_obj(p, m, arg[0], K_QUEUE, K_QUEUE)) < 0)
            FAIL("shutdown QUEUE drain|now");
        if (strcmp(arg[1], "now") == 0)
            o.mode = 1;
        else if (strcmp(arg[1], "drain") != 0)
            FAIL("shutdown: bad mode '%s'", arg[1]);
        break;
    case K_RESOLVED:
        if (nargs != 1 || parse_value(arg[0], &o.v) != 0) FAIL("resolved VALUE");
        break;
    case K_REJECTED:
        if (nargs != 1 || parse_code(arg[0], &o.code) != 0) FAIL("rejected CODE");
        break;
    case K_RESOLVE:
    case K_REJECT:
    case K_RESOLVE_WITH:
        if (nargs != 2) FAIL("%s NODE ARG", tok[2]);
        o.a = lookup(m, arg[0], NULL);
        if (o.a < 0 || p->ops[o.a].kind != K_NEW)
            FAIL("%s: '%s' is not a new node", tok[2], arg[0]);
        if (o.kind == K_RESOLVE && parse_value(arg[1], &o.v) != 0) FAIL("resolve NODE VALUE");
        if (o.kind == K_REJECT && parse_code(arg[1], &o.code) != 0) FAIL("reject NODE CODE");
        if (o.kind == K_RESOLVE_WITH && (o.b = parse_node(p, m, arg[1])) < 0)
            FAIL("resolve_with NODE NODE");
        break;
    case K_THEN:
        if (nargs != 3) FAIL("then NODE ACTION ACTION");
        if ((o.a = parse_node(p, m, arg[0])) < 0) FAIL("then: bad node '%s'", arg[0]);
        if (parse_action(m, arg[1], &o.act[0], 1) != 0) FAIL("then: bad action '%s'", arg[1]);
        if (parse_action(m, arg[2], &o.act[1], 1) != 0) FAIL("then: bad action '%s'", arg[2]);
        break;
    case K_CATCH:
    case K_FINALLY:
        if (nargs != 2) FAIL("%s NODE ACTION", tok[2]);
        if ((o.a = parse_node(p, m, arg[0])) < 0) FAIL("%s: bad node '%s'", tok[2], arg[0]);
        if (parse_action(m, arg[1], &o.act[o.kind == K_CATCH ? 1 : 0], 0) != 0)
            FAIL("%s: bad action '%s'", tok[2], arg[1]);
        break;
    case K_SLEEP:
        if (nargs != 1 || parse_int(arg[0], 0, 100000, &d) != 0) FAIL("sleep DELAY");
        o.delay = fuzz ? (uint64_t)d % 3 : (uint64_t)d;
        break;
    case K_TIMEOUT:
        if (nargs != 3) FAIL("timeout NODE DELAY wait_for|race");
        if ((o.a = parse_node(p, m, arg[0])) < 0) FAIL("timeout: bad node '%s'", arg[0]);
        if (parse_int(arg[1], 0, 100000, &d) != 0) FAIL("timeout: bad delay '%s'", arg[1]);
        o.delay = fuzz ? (uint64_t)d % 3 : (uint64_t)d;
        if (strcmp(arg[2], "race") == 0)
            o.flags = VOW_TIMEOUT_RACE;
        else if (strcmp(arg[2], "wait_for") != 0)
            FAIL("timeout: bad form '%s'", arg[2]);
        break;
    case K_CANCEL:
        if (nargs != 1 || (o.a = parse_node(p, m, arg[0])) < 0) FAIL("cancel NODE");
        break;
    case K_CREATE_TASK:
        if (nargs != 1 || parse_action(m, arg[0], &o.act[0], 0) != 0 || o.act[0].kind == A_PASS)
            FAIL("create_task ACTION (val:, throw: or ret:)");
        break;
    case K_GROUP_ADD:
        if (nargs != 2) FAIL("group_add GROUP NODE");
        if ((o.a = parse_group(p, m, arg[0])) < 0) FAIL("group_add: bad group '%s'", arg[0]);
        if ((o.b = parse_node(p, m, arg[1])) < 0) FAIL("group_add: bad node '%s'", arg[1]);
        break;
    case K_GROUP_SPAWN:
        if (nargs != 2) FAIL("group_spawn GROUP ACTION");
        if ((o.a = parse_group(p, m, arg[0])) < 0) FAIL("group_spawn: bad group '%s'", arg[0]);
        if (parse_action(m, arg[1], &o.act[0], 0) != 0 || o.act[0].kind == A_PASS)
            FAIL("group_spawn: bad action '%s'", arg[1]);
        break;
    case K_GROUP_JOIN:
        if (nargs != 1 || (o.a = parse_group(p, m, arg[0])) < 0) FAIL("group_join GROUP");
        break;
    case K_WAIT:
    case K_ALL:
    case K_ALL_SETTLED:
    case K_RACE:
    case K_ANY:
        if (o.kind == K_WAIT) {
            if (nargs < 3) FAIL("wait MODE DELAY FLAG NODE...");
            if (strcmp(arg[0], "first") == 0)
                o.mode = VOW_FIRST_COMPLETED;
            else if (strcmp(arg[0], "exception") == 0)
                o.mode = VOW_FIRST_EXCEPTION;
            else if (strcmp(arg[0], "all") == 0)
                o.mode = VOW_ALL_COMPLETED;
            else
                FAIL("wait: bad mode '%s'", arg[0]);
            if (strcmp(arg[1], "-") == 0)
                o.delay = UINT64_MAX;
            else if (parse_int(arg[1], 0, 100000, &d) == 0)
                o.delay = fuzz ? (uint64_t)d % 3 : (uint64_t)d;
            else
                FAIL("wait: bad delay '%s'", arg[1]);
            if (strcmp(arg[2], "cancel") == 0)
                o.flags = VOW_WAIT_CANCEL_PENDING;
            else if (strcmp(arg[2], "keep") != 0)
                FAIL("wait: bad flag '%s'", arg[2]);
            arg += 3;
            nargs -= 3;
        }
        if (fuzz && nargs > 64) FAIL("too many inputs");
        for (int j = 0; j < nargs; j++) {
            int n = parse_node(p, m, arg[j]);
            if (n < 0) {
                free(o.inputs.v);
                FAIL("%s: bad node '%s'", tok[2], arg[j]);
            }
            vec_push(&o.inputs, n);
        }
        break;
    case K_TIMER:
        if (nargs != 1 || parse_int(arg[0], 0, 100000, &d) != 0) FAIL("timer DELAY");
        o.delay = fuzz ? (uint64_t)d % 3 : (uint64_t)d;
        break;
    default: FAIL("internal: kind");
    }
    if ((o.kind == K_AWAIT || o.kind == K_TRY || o.kind == K_THROW) &&
        !in_body(p, o.parent, o.ptag))
        FAIL("%s outside an async body", tok[2]);
#undef FAIL
    if (p->nops == p->capops) {
        p->capops = p->capops ? p->capops * 2 : 32;
        p->ops = xrealloc(p->ops, (size_t)p->capops * sizeof *p->ops);
    }
    p->ops[p->nops] = o;
    m->idx[id] = ++p->nops;
    return 0;
}

proof_prog *proof_parse(const char *text, size_t len, unsigned flags, char *err, size_t errlen) {
    int strict = (flags & PROOF_STRICT) != 0;
    int max_ops = (flags & PROOF_FUZZ) ? 400 : 1000000;
    proof_prog *p = xrealloc(NULL, sizeof *p);
    memset(p, 0, sizeof *p);
    p->flags = flags;
    p->index = -1;
    idmap m;
    m.max_id = (flags & PROOF_FUZZ) ? 4095 : (1 << 22);
    m.idx = calloc((size_t)m.max_id + 1, sizeof *m.idx);
    if (m.idx == NULL) abort();
    if (err && errlen) err[0] = '\0';

    char *buf = xrealloc(NULL, len + 1);
    memcpy(buf, text, len);
    buf[len] = '\0';
    size_t pos = 0;
    int lineno = 0;
    char msg[200];
    while (pos < len) {
        size_t end = pos;
        while (end < len && buf[end] != '\n' && buf[end] != '\0') end++;
        buf[end] = '\0';
        char *line = buf + pos;
        pos = end + 1;
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *tok[MAX_TOK];
        int ntok = 0, too_many = 0;
        for (char *s = strtok(line, " \t\r"); s; s = strtok(NULL, " \t\r")) {
            if (ntok == MAX_TOK) {
                too_many = 1;
                break;
            }
            tok[ntok++] = s;
        }
        if (ntok == 0) continue;
        if (too_many) {
            snprintf(msg, sizeof msg, "too many tokens");
        } else if (p->nops >= max_ops) {
            snprintf(msg, sizeof msg, "too many ops");
        } else if (parse_line(p, &m, tok, ntok, msg, sizeof msg) == 0) {
            continue;
        }
        if (strict) {
            if (err) snprintf(err, errlen, "line %d: %s", lineno, msg);
            free(buf);
            free(m.idx);
            proof_free(p);
            return NULL;
        }
    }
    free(buf);

    /* Resolve the actions' node references. */
    for (int i = 0; i < p->nops; i++) {
        for (int j = 0; j < 2; j++) {
            action *a = &p->ops[i].act[j];
            if (a->kind != A_RET) continue;
            int k = m.idx[a->ret_id] - 1;
            a->node = (k >= 0 && is_node_kind(p->ops[k].kind)) ? k : -1;
            if (a->node < 0 && strict) {
                if (err)
                    snprintf(err, errlen, "op %d: ret:%d is not a node", p->ops[i].id, a->ret_id);
                free(m.idx);
                proof_free(p);
                return NULL;
            }
        }
    }
    free(m.idx);

    size_t n = (size_t)p->nops;
    p->kids = xrealloc(NULL, (n * T_COUNT + 1) * sizeof *p->kids);
    memset(p->kids, 0, (n * T_COUNT + 1) * sizeof *p->kids);
    p->runs = xrealloc(NULL, n * T_COUNT + 1);
    memset(p->runs, 0, n * T_COUNT + 1);
    p->node = xrealloc(NULL, (n + 1) * sizeof *p->node);
    memset(p->node, 0, (n + 1) * sizeof *p->node);
    p->group = xrealloc(NULL, (n + 1) * sizeof *p->group);
    memset(p->group, 0, (n + 1) * sizeof *p->group);
    p->obj = xrealloc(NULL, (n + 1) * sizeof *p->obj);
    memset(p->obj, 0, (n + 1) * sizeof *p->obj);
    p->cbs = xrealloc(NULL, (n + 1) * sizeof *p->cbs);
    p->sock = xrealloc(NULL, (2 * n + 1) * sizeof *p->sock);
    memset(p->sock, 0, (2 * n + 1) * sizeof *p->sock);
    p->srv = xrealloc(NULL, (n + 1) * sizeof *p->srv);
    memset(p->srv, 0, (n + 1) * sizeof *p->srv);
    p->acc = xrealloc(NULL, (n + 1) * sizeof *p->acc);
    memset(p->acc, 0, (n + 1) * sizeof *p->acc);
    for (int i = 0; i < p->nops; i++) {
        op *o = &p->ops[i];
        if (o->parent < 0)
            vec_push(&p->main_scope, i);
        else
            vec_push(&p->kids[o->parent * T_COUNT + o->ptag], i);
        if (o->kind == K_ALL_SETTLED) vec_push(&p->settled_nodes, i);
        p->cbs[i].p = p;
        p->cbs[i].op = i;
    }
    return p;
}

size_t proof_op_count(const proof_prog *p) { return p ? (size_t)p->nops : 0; }

/* ---- trace lines --------------------------------------------------------------------- */

static void out(proof_prog *p, const char *fmt, ...) VOW_PRINTF(2, 3);
static void out(proof_prog *p, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        size_t room = p->line_cap - p->line_len;
        va_start(ap, fmt);
        int n = vsnprintf(p->line + p->line_len, room, fmt, ap);
        va_end(ap);
        if (n < 0) abort();
        if ((size_t)n < room) {
            p->line_len += (size_t)n;
            return;
        }
        p->line_cap = p->line_cap * 2 + (size_t)n + 64;
        p->line = xrealloc(p->line, p->line_cap);
    }
}

static void line_begin(proof_prog *p) {
    if (p->line_cap == 0) {
        p->line_cap = 256;
        p->line = xrealloc(NULL, p->line_cap);
    }
    p->line_len = 0;
    p->line[0] = '\0';
}

static void line_start(proof_prog *p, int op_i, enum tag t) {
    line_begin(p);
    out(p, "%d.%s", p->ops[op_i].id, tag_names[t]);
}

static void line_end(proof_prog *p) {
    if (p->emit) p->emit(p->ud, p->index, p->line);
}

static void fmt_error(proof_prog *p, const vow_error_t *e) {
    int code = vow_error_code(e);
    if (code == VOW_EAGGREGATE) {
        out(p, "EAGGREGATE[");
        for (size_t i = 0; i < vow_error_count(e); i++) {
            if (i) out(p, ",");
            fmt_error(p, vow_error_at(e, i));
        }
        out(p, "]");
    } else {
        out(p, "%s", vow_err_name(code));
    }
}

static void fmt_value(proof_prog *p, const vow_value_t *v, int depth) {
    if (depth > 64) die("value nested too deeply", p, -1);
    switch (vow_value_kind(v)) {
    case VOW_VAL_NONE: out(p, "u"); return;
    case VOW_VAL_INT: out(p, "%" PRId64, vow_value_int(v)); return;
    case VOW_VAL_DOUBLE: out(p, "%g", vow_value_double(v)); return;
    case VOW_VAL_PTR: break;
    }
    const vow_bytes_t *bytes = vow_value_bytes(v);
    if (bytes != NULL) {
        /* A socket read's bytes (FORMAT.md, Sockets): "s:" and the text; over 64 bytes, its
         * first 16, then the length and the FNV-1a hash of all of them. */
        if (bytes->len <= 64) {
            out(p, "s:%.*s", (int)bytes->len, (const char *)bytes->data);
        } else {
            uint32_t h = 2166136261u;
            for (size_t k = 0; k < bytes->len; k++) h = (h ^ bytes->data[k]) * 16777619u;
            out(p, "s:%.16s...(%zu,%08" PRIx32 ")", (const char *)bytes->data, bytes->len, h);
        }
        return;
    }
    const vow_wait_result_t *w = vow_wait_result_of(v);
    if (w != NULL) {
        /* asyncio.wait's (done, pending): the input indexes of each, in input order. */
        out(p, "{");
        for (size_t i = 0; i < vow_wait_done_count(w); i++)
            out(p, "%s%zu", i ? "," : "", vow_wait_done_index(w, i));
        out(p, "|");
        for (size_t i = 0; i < vow_wait_pending_count(w); i++)
            out(p, "%s%zu", i ? "," : "", vow_wait_pending_index(w, i));
        out(p, "}");
        return;
    }
    const vow_list_t *l = vow_list_of(v);
    if (l == NULL) {
        tobj *o = vow_value_ptr(v);
        if (o == NULL || o->magic != TOBJ_MAGIC) die("a pointer value that is not ours", p, -1);
        if (o->dtor_runs != 0) die("a value read after its destructor ran", p, -1);
        out(p, "%" PRId64, o->v);
        return;
    }
    /* allSettled's lists print their items with f:/r:; the list is shared (never copied)
     * as it flows downstream, so its origin is the all_settled node holding it. */
    int settled = 0;
    for (int j = 0; j < p->settled_nodes.n && !settled; j++) {
        vow_t *n = p->node[p->settled_nodes.v[j]];
        if (n != NULL && vow_state(n) == VOW_FULFILLED && vow_list_of(vow_value(n)) == l)
            settled = 1;
    }
    out(p, "[");
    for (size_t i = 0; i < vow_list_len(l); i++) {
        if (i) out(p, ",");
        if (vow_list_state(l, i) == VOW_FULFILLED) {
            if (settled) out(p, "f:");
            fmt_value(p, vow_list_value(l, i), depth + 1);
        } else {
            out(p, settled ? "r:" : "!");
            fmt_error(p, vow_list_error(l, i));
        }
    }
    out(p, "]");
}

/* ---- running ------------------------------------------------------------------------- */

static void run_scope(proof_prog *p, int op_i, enum tag t);

/* The state of one async body's run, on its coroutine's stack. */
typedef struct coro_ctx {
    vow_value_t last;    /* the value of the last await that fulfilled (owned): `pass` */
    vow_error_t *thrown; /* RUN_THROW: the error in flight (owned) */
} coro_ctx;

/* How a list of ops ended: normally, by a throw (an await that rejected, a throw op) that
 * a try may catch, or unwound because the loop is being torn down (proof_stop). */
enum { RUN_OK = 0, RUN_THROW, RUN_ABORT };
static int run_list(proof_prog *p, const intvec *ops, coro_ctx *co);

static void count_run(proof_prog *p, int op_i, enum tag t) {
    unsigned char *r = &p->runs[op_i * T_COUNT + t];
    if (*r != 0) die("a callback ran twice", p, op_i);
    *r = 1;
}

static vow_value_t make_value(proof_prog *p, val_desc v) {
    switch (v.kind) {
    case V_INT: return vow_int(v.i);
    case V_BOX: {
        tobj *o = tobj_new(p);
        o->v = v.i;
        return vow_ptr(o, tobj_dtor);
    }
    default: return vow_none();
    }
}

static vow_error_t *make_error(proof_prog *p, int code) {
    vow_error_t *e = vow_error_new(code, NULL);
    tobj *o = tobj_new(p);
    o->v = code;
    if (vow_error_set_payload(e, o, tobj_dtor) != 0) die("vow_error_set_payload failed", p, -1);
    return e;
}

static vow_t *node_ref(proof_prog *p, int i) {
    if (i < 0 || p->node[i] == NULL) {
        if (p->flags & PROOF_STRICT) {
            /* The program refers to a node that does not exist yet: a generator bug,
             * shown as a trace line so that it cannot pass unnoticed. */
            if (p->emit) p->emit(p->ud, p->index, "!missing-node");
        }
        return NULL;
    }
    return vow_ref(p->node[i]);
}

/* The reaction's result for its action. `v`/`e`: what the reaction received. */
static vow_result_t act_result(proof_prog *p, const action *a, const vow_value_t *v,
                               vow_error_t *e) {
    switch (a->kind) {
    case A_VAL: return vow_ok(make_value(p, a->v));
    case A_PASS:
        if (v != NULL) return vow_ok(vow_value_share(v));
        if (e != NULL) return vow_fail(vow_error_ref(e));
        return vow_ok_none();
    case A_THROW: return vow_fail(make_error(p, a->code));
    case A_RET: {
        vow_t *n = node_ref(p, a->node);
        return n != NULL ? vow_follow(n) : vow_ok_none();
    }
    default: return vow_ok_none();
    }
}

static vow_result_t on_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    tobj *c = ctx;
    proof_prog *p = c->p;
    count_run(p, c->op, T_OK);
    line_start(p, c->op, T_OK);
    out(p, " ");
    fmt_value(p, v, 0);
    line_end(p);
    run_scope(p, c->op, T_OK);
    return act_result(p, &p->ops[c->op].act[0], v, NULL);
}

static vow_result_t on_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    tobj *c = ctx;
    proof_prog *p = c->p;
    count_run(p, c->op, T_ERR);
    line_start(p, c->op, T_ERR);
    out(p, " ");
    fmt_error(p, e);
    line_end(p);
    run_scope(p, c->op, T_ERR);
    return act_result(p, &p->ops[c->op].act[1], NULL, e);
}

static vow_result_t on_fin(vow_loop_t *loop, void *ctx) {
    (void)loop;
    tobj *c = ctx;
    proof_prog *p = c->p;
    count_run(p, c->op, T_FIN);
    line_start(p, c->op, T_FIN);
    line_end(p);
    run_scope(p, c->op, T_FIN);
    return act_result(p, &p->ops[c->op].act[0], NULL, NULL);
}

static void on_timer(vow_loop_t *loop, void *arg) {
    (void)loop;
    cbref *c = arg;
    count_run(c->p, c->op, T_TIMER);
    line_start(c->p, c->op, T_TIMER);
    line_end(c->p);
    run_scope(c->p, c->op, T_TIMER);
}

static void on_micro(vow_loop_t *loop, void *arg) {
    (void)loop;
    cbref *c = arg;
    count_run(c->p, c->op, T_MICRO);
    line_start(c->p, c->op, T_MICRO);
    line_end(c->p);
    run_scope(c->p, c->op, T_MICRO);
}

/* A task body (create_task, group_spawn): its trace line, its scope, then a promise for
 * its action (ret:N follows node N). */
static vow_t *on_task(vow_loop_t *loop, void *arg) {
    tobj *c = arg;
    proof_prog *p = c->p;
    count_run(p, c->op, T_TASK);
    line_start(p, c->op, T_TASK);
    line_end(p);
    run_scope(p, c->op, T_TASK);
    const action *a = &p->ops[c->op].act[0];
    switch (a->kind) {
    case A_VAL: return vow_resolved(loop, make_value(p, a->v));
    case A_THROW: return vow_rejected(loop, make_error(p, a->code));
    case A_RET: {
        vow_t *n = node_ref(p, a->node);
        return n != NULL ? n : vow_resolved(loop, vow_none());
    }
    default: return vow_resolved(loop, vow_none());
    }
}

/* An async body: runs on its own coroutine (vow_async), from its call up to its first
 * await, then on each resume. Its trace line first, its ops (await, try and throw among
 * them), then its action: val:, throw:, ret:N (vow_follow: an async function's
 * `return promise`), pass (the last await's value). */
static vow_result_t on_async(vow_loop_t *loop, void *arg) {
    (void)loop;
    tobj *c = arg;
    proof_prog *p = c->p;
    count_run(p, c->op, T_ASYNC);
    line_start(p, c->op, T_ASYNC);
    line_end(p);
    coro_ctx co = {vow_none(), NULL};
    int rc = run_list(p, &p->kids[c->op * T_COUNT + T_ASYNC], &co);
    if (rc != RUN_OK) {
        vow_value_release(&co.last);
        if (rc == RUN_THROW) return vow_fail(co.thrown);
        return vow_fail_code(VOW_ECANCELED, NULL); /* torn down: nobody reads it */
    }
    const action *a = &p->ops[c->op].act[0];
    if (a->kind == A_PASS) return vow_ok(co.last);
    vow_value_release(&co.last);
    return act_result(p, a, NULL, NULL);
}

/* `await N`: one trace line with what it got ("ID.aw VALUE", or "ID.aw !ERROR" before the
 * rejection is thrown). */
static int do_await(proof_prog *p, int i, coro_ctx *co) {
    op *o = &p->ops[i];
    vow_t *n = node_ref(p, o->a);
    if (n == NULL) n = vow_resolved(p->loop, vow_none()); /* JavaScript: await undefined */
#ifdef PROOF_PLANT_AWAIT_DETOUR
    /* The planted defect of the coroutine self-test (tests/compare_proof.cmake): an await
     * of a settled promise goes through a then, one job too many (V8's await before 7.2
     * took three). */
    if (vow_state(n) != VOW_PENDING) n = vow_then(n, NULL, NULL, NULL, NULL);
#endif
    vow_outcome_t res;
    int rc = vow_await(n, &res);
    if (p->stopped) {
        vow_outcome_release(&res);
        return RUN_ABORT;
    }
    if (res.state == VOW_PENDING) {
        fprintf(stderr, "proof: vow_await: %s\n", vow_strerror(rc));
        die("vow_await refused (misuse)", p, i);
    }
    line_begin(p);
    out(p, "%d.aw ", o->id);
    if (res.state == VOW_FULFILLED) {
        fmt_value(p, &res.value, 0);
        line_end(p);
        vow_value_release(&co->last);
        co->last = res.value; /* ownership moves */
        return RUN_OK;
    }
    out(p, "!");
    fmt_error(p, res.error);
    line_end(p);
    co->thrown = res.error; /* ownership moves */
    return RUN_THROW;
}

static tobj *reaction_ctx(proof_prog *p, int op_i) {
    tobj *c = tobj_new(p);
    c->p = p;
    c->op = op_i;
    return c;
}

static void set_node(proof_prog *p, int i, vow_t *n) {
    if (p->node[i] != NULL) die("an op ran twice", p, i);
    if (n == NULL) die("vow returned NULL (out of memory?)", p, i);
    p->node[i] = n;
}

/* A node settled at once with a call's answer: fulfilled (vow_none) on 0, else rejected
 * with that code (lock_release, sem_release). */
static vow_t *answer_node(vow_loop_t *loop, int rc) {
    return rc == 0 ? vow_resolved(loop, vow_none()) : vow_rejected(loop, vow_error_new(rc, NULL));
}

/* The owner tag of a lock op: the number as a pointer (0 is NULL). */
static const void *owner_tag(const op *o) { return (const void *)(uintptr_t)o->mode; }

static void exec_op(proof_prog *p, int i) {
    op *o = &p->ops[i];
    vow_loop_t *loop = p->loop;
    vow_t *a;
    switch (o->kind) {
    case K_NEW: set_node(p, i, vow_new(loop)); break;
    case K_RESOLVED: set_node(p, i, vow_resolved(loop, make_value(p, o->v))); break;
    case K_REJECTED: set_node(p, i, vow_rejected(loop, make_error(p, o->code))); break;
    case K_RESOLVE:
        if (p->node[o->a] != NULL) (void)vow_resolve(p->node[o->a], make_value(p, o->v));
        break;
    case K_REJECT:
        if (p->node[o->a] != NULL) (void)vow_reject(p->node[o->a], make_error(p, o->code));
        break;
    case K_RESOLVE_WITH:
        if (p->node[o->a] != NULL) {
            vow_t *b = node_ref(p, o->b);
            if (b != NULL) (void)vow_resolve_with(p->node[o->a], vow_follow(b));
        }
        break;
    case K_THEN:
    case K_CATCH:
    case K_FINALLY: {
        if ((a = node_ref(p, o->a)) == NULL) break;
        tobj *c = reaction_ctx(p, i);
        vow_t *d;
        if (o->kind == K_THEN)
            d = vow_then(a, o->act[0].kind != A_NONE ? on_ok : NULL,
                         o->act[1].kind != A_NONE ? on_err : NULL, c, tobj_dtor);
        else if (o->kind == K_CATCH)
            d = vow_catch(a, on_err, c, tobj_dtor);
        else
            d = vow_finally(a, on_fin, c, tobj_dtor);
        set_node(p, i, d);
        break;
    }
    case K_SLEEP: set_node(p, i, vow_sleep(loop, o->delay)); break;
    case K_TIMEOUT:
        if ((a = node_ref(p, o->a)) == NULL) break;
        set_node(p, i, vow_timeout(a, o->delay, o->flags));
        break;
    case K_CANCEL:
        if (o->a >= 0 && p->node[o->a] != NULL) (void)vow_cancel(p->node[o->a]);
        break;
    case K_CREATE_TASK:
        set_node(p, i, vow_create_task(loop, on_task, reaction_ctx(p, i), tobj_dtor));
        break;
    case K_GROUP:
        if ((p->group[i] = vow_task_group_new(loop)) == NULL)
            die("vow_task_group_new failed", p, i);
        break;
    case K_GROUP_ADD:
        if (o->a < 0 || p->group[o->a] == NULL) break;
        if ((a = node_ref(p, o->b)) == NULL) break;
        (void)vow_task_group_add(p->group[o->a], a); /* refused after join or a failure */
        break;
    case K_GROUP_SPAWN:
        if (o->a < 0 || p->group[o->a] == NULL) break;
        (void)vow_task_group_spawn(p->group[o->a], on_task, reaction_ctx(p, i), tobj_dtor);
        break;
    case K_GROUP_JOIN:
        if (o->a < 0 || p->group[o->a] == NULL) break;
        set_node(p, i, vow_task_group_join(p->group[o->a]));
        break;
    case K_LOCK:
        if ((p->obj[i] = vow_lock_new(loop)) == NULL) die("vow_lock_new failed", p, i);
        break;
    case K_SEM:
    case K_BSEM:
        p->obj[i] = o->kind == K_SEM ? vow_sem_new(loop, (uint32_t)o->delay)
                                     : vow_sem_bounded_new(loop, (uint32_t)o->delay);
        if (p->obj[i] == NULL) die("vow_sem_new failed", p, i);
        break;
    case K_EVENT:
        if ((p->obj[i] = vow_event_new(loop)) == NULL) die("vow_event_new failed", p, i);
        break;
    case K_LOCK_ACQUIRE:
        if (o->a < 0 || p->obj[o->a] == NULL) break;
        set_node(p, i, vow_lock_acquire(p->obj[o->a], owner_tag(o)));
        break;
    case K_LOCK_RELEASE:
        if (o->a < 0 || p->obj[o->a] == NULL) break;
        set_node(p, i, answer_node(loop, vow_lock_release(p->obj[o->a], owner_tag(o))));
        break;
    case K_SEM_ACQUIRE:
        if (o->a < 0 || p->obj[o->a] == NULL) break;
        set_node(p, i, vow_sem_acquire(p->obj[o->a]));
        break;
    case K_SEM_RELEASE:
        if (o->a < 0 || p->obj[o->a] == NULL) break;
        set_node(p, i, answer_node(loop, vow_sem_release(p->obj[o->a])));
        break;
    case K_EVENT_WAIT:
        if (o->a < 0 || p->obj[o->a] == NULL) break;
        set_node(p, i, vow_event_wait(p->obj[o->a]));
        break;
    case K_EVENT_SET:
        if (o->a >= 0 && p->obj[o->a] != NULL && vow_event_set(p->obj[o->a]) != 0)
            die("vow_event_set failed", p, i);
        break;
    case K_EVENT_CLEAR:
        if (o->a >= 0 && p->obj[o->a] != NULL && vow_event_clear(p->obj[o->a]) != 0)
            die("vow_event_clear failed", p, i);
        break;
    case K_QUEUE: {
        size_t max = (size_t)o->delay;
        p->obj[i] = o->mode == 0   ? vow_queue_new(loop, max)
                    : o->mode == 1 ? vow_queue_lifo_new(loop, max)
                                   : vow_queue_priority_new(loop, max, NULL, NULL);
        if (p->obj[i] == NULL) die("vow_queue_new failed", p, i);
        break;
    }
    case K_PUT:
        if (o->a < 0 || p->obj[o->a] == NULL) break;
        set_node(p, i, vow_queue_put(p->obj[o->a], make_value(p, o->v)));
        break;
    case K_PUT_NOWAIT: {
        if (o->a < 0 || p->obj[o->a] == NULL) break;
        vow_value_t item = make_value(p, o->v);
        int rc = vow_queue_put_nowait(p->obj[o->a], &item);
        if (rc != 0) vow_value_release(&item); /* refused: still ours */
        set_node(p, i, answer_node(loop, rc));
        break;
    }
    case K_GET:
        if (o->a < 0 || p->obj[o->a] == NULL) break;
        set_node(p, i, vow_queue_get(p->obj[o->a]));
        break;
    case K_GET_NOWAIT: {
        if (o->a < 0 || p->obj[o->a] == NULL) break;
        vow_value_t item;
        int rc = vow_queue_get_nowait(p->obj[o->a], &item);
        set_node(p, i, rc == 0 ? vow_resolved(loop, item) : answer_node(loop, rc));
        break;
    }
    case K_TASK_DONE:
        if (o->a < 0 || p->obj[o->a] == NULL) break;
        set_node(p, i, answer_node(loop, vow_queue_task_done(p->obj[o->a])));
        break;
    case K_JOIN:
        if (o->a < 0 || p->obj[o->a] == NULL) break;
        set_node(p, i, vow_queue_join(p->obj[o->a]));
        break;
    case K_SHUTDOWN:
        if (o->a >= 0 && p->obj[o->a] != NULL && vow_queue_shutdown(p->obj[o->a], o->mode) != 0)
            die("vow_queue_shutdown failed", p, i);
        break;
    case K_WAIT:
    case K_ALL:
    case K_ALL_SETTLED:
    case K_RACE:
    case K_ANY: {
        vow_t *in[64];
        vow_t **inputs =
            o->inputs.n <= 64 ? in : xrealloc(NULL, (size_t)o->inputs.n * sizeof *inputs);
        size_t n = 0;
        for (int j = 0; j < o->inputs.n; j++) {
            vow_t *x = node_ref(p, o->inputs.v[j]);
            if (x != NULL) inputs[n++] = x;
        }
        vow_t *d;
        if (o->kind == K_WAIT)
            d = vow_wait(loop, inputs, n, (vow_wait_mode_t)o->mode, o->delay, o->flags);
        else if (o->kind == K_ALL)
            d = vow_all(loop, inputs, n);
        else if (o->kind == K_ALL_SETTLED)
            d = vow_all_settled(loop, inputs, n);
        else if (o->kind == K_RACE)
            d = vow_race(loop, inputs, n, 0);
        else
            d = vow_any(loop, inputs, n, 0);
        if (inputs != in) free(inputs);
        set_node(p, i, d);
        break;
    }
    case K_TIMER:
        if (vow_set_timeout(loop, on_timer, &p->cbs[i], o->delay, NULL) != 0)
            die("vow_set_timeout failed", p, i);
        break;
    case K_MICRO:
        if (vow_microtask(loop, on_micro, &p->cbs[i]) != 0) die("vow_microtask failed", p, i);
        break;
    case K_ASYNC: set_node(p, i, vow_async(loop, on_async, reaction_ctx(p, i), tobj_dtor)); break;
    case K_PAIR: break; /* set up before the program started (proof_io_setup) */
    case K_SOCK_WRITE:
    case K_SOCK_READ:
    case K_SOCK_EOF:
    case K_SOCK_SHUTDOWN:
    case K_SOCK_CLOSE: {
        vow_sock_t *s = o->a >= 0 ? p->sock[2 * o->a + o->mode] : NULL;
        if (s == NULL) {
            if (p->flags & PROOF_STRICT) die("a socket op without its pair", p, i);
            break;
        }
        if (o->kind == K_SOCK_WRITE)
            set_node(p, i, vow_sock_write(s, o->text, o->tlen));
        else if (o->kind == K_SOCK_READ)
#ifdef PROOF_PLANT_IO_SHORT_READ
            /* The planted defect of the socket self-test (tests/compare_proof.cmake): a read
             * of exactly n > 1 bytes takes one byte too few (it never waits for more bytes
             * than the program wrote, so it cannot hang). */
            set_node(p, i, vow_sock_read_exactly(s, (size_t)o->delay - (o->delay > 1)));
#else
            set_node(p, i, vow_sock_read_exactly(s, (size_t)o->delay));
#endif
        else if (o->kind == K_SOCK_EOF)
            set_node(p, i, vow_sock_read(s, 65536));
        else if (o->kind == K_SOCK_SHUTDOWN)
            set_node(p, i, vow_sock_shutdown(s));
        else if (vow_sock_close(s) != 0)
            die("vow_sock_close failed", p, i);
        break;
    }
    default: die("unknown op kind", p, i);
    }
}

/* Runs ops in order. In an async body (co not NULL) an await may suspend it, and a throw
 * ends it (RUN_THROW, the error in co->thrown) unless a try around it catches it: the
 * catch block's trace line "ID.catch ERROR", then its ops. */
static int run_list(proof_prog *p, const intvec *ops, coro_ctx *co) {
    for (int j = 0; j < ops->n; j++) {
        int i = ops->v[j], rc = RUN_OK;
        op *o = &p->ops[i];
        if (p->stopped) return co != NULL ? RUN_ABORT : RUN_OK;
        if (co == NULL && (o->kind == K_AWAIT || o->kind == K_TRY || o->kind == K_THROW))
            die("await, try or throw outside an async body", p, i);
        switch (o->kind) {
        case K_AWAIT: rc = do_await(p, i, co); break;
        case K_THROW:
            co->thrown = make_error(p, o->code);
            rc = RUN_THROW;
            break;
        case K_TRY:
            count_run(p, i, T_TRY);
            rc = run_list(p, &p->kids[i * T_COUNT + T_TRY], co);
            if (rc == RUN_THROW) {
                vow_error_t *e = co->thrown;
                co->thrown = NULL;
                count_run(p, i, T_CATCH);
                line_start(p, i, T_CATCH);
                out(p, " ");
                fmt_error(p, e);
                line_end(p);
                vow_error_unref(e);
                rc = run_list(p, &p->kids[i * T_COUNT + T_CATCH], co);
            }
            break;
        default: exec_op(p, i);
        }
        if (rc != RUN_OK) return rc;
    }
    return RUN_OK;
}

static void run_scope(proof_prog *p, int op_i, enum tag t) {
    (void)run_list(p, &p->kids[op_i * T_COUNT + t], NULL);
}

/* ---- sockets: the pairs (issue 17) ---------------------------------------------------- */

/* Setup of pair i is over (either way): the server and its accept stream go. */
static void pair_setup_over(proof_prog *p, int i) {
    vow_server_close(p->srv[i]);
    p->srv[i] = NULL;
    vow_stream_unref(p->acc[i]);
    p->acc[i] = NULL;
}

/* Both ends are there: [the connect's socket, the accepted one]. */
static vow_result_t on_pair_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    cbref *c = ctx;
    proof_prog *p = c->p;
    const vow_list_t *l = vow_list_of(v);
    int ok = vow_list_len(l) == 2;
    for (size_t e = 0; ok && e < 2; e++) {
        const vow_value_t *x = vow_list_value(l, e);
        ok = x != NULL && !vow_stream_is_end(x) && vow_value_ptr(x) != NULL;
    }
    if (ok) {
        for (size_t e = 0; e < 2; e++)
            p->sock[2 * c->op + (int)e] = vow_sock_ref(vow_value_ptr(vow_list_value(l, e)));
        p->pairs_ready++;
    } else if (p->io_setup_err == 0) {
        p->io_setup_err = VOW_ECLOSED; /* the accept stream ended */
    }
    pair_setup_over(p, c->op);
    return vow_ok_none();
}

static vow_result_t on_pair_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    cbref *c = ctx;
    if (c->p->io_setup_err == 0) c->p->io_setup_err = vow_error_code(e);
    pair_setup_over(c->p, c->op);
    return vow_ok_none();
}

int proof_io_pairs(const proof_prog *p) {
    int n = 0;
    for (int i = 0; p != NULL && i < p->nops; i++) n += p->ops[i].kind == K_PAIR;
    return n;
}

int proof_io_setup(proof_prog *p, vow_loop_t *loop) {
    for (int i = 0; i < p->nops; i++) {
        if (p->ops[i].kind != K_PAIR) continue;
        vow_server_t *srv = NULL;
        int rc = vow_tcp_listen(loop, "127.0.0.1", 0, NULL, &srv);
        if (rc != 0) return rc;
        p->srv[i] = srv;
        int port = vow_server_port(srv);
        if (port <= 0) return port < 0 ? port : VOW_EINVAL;
        vow_t *in[2];
        in[0] = vow_tcp_connect(loop, "127.0.0.1", (uint16_t)port);
        p->acc[i] = vow_server_accept(srv);
        in[1] = p->acc[i] != NULL ? vow_stream_next(p->acc[i]) : NULL;
        if (in[0] == NULL || in[1] == NULL) {
            vow_unref(in[0]);
            vow_unref(in[1]);
            return VOW_ENOMEM;
        }
        vow_t *d = vow_then(vow_all(loop, in, 2), on_pair_ok, on_pair_err, &p->cbs[i], NULL);
        if (d == NULL) return VOW_ENOMEM;
        vow_unref(d);
    }
    return 0;
}

int proof_io_ready(const proof_prog *p) {
    if (p->io_setup_err != 0) return p->io_setup_err;
    return p->pairs_ready == proof_io_pairs(p) ? 0 : VOW_EAGAIN;
}

void proof_io_close(proof_prog *p) {
    for (int i = 0; p != NULL && i < 2 * p->nops; i++)
        if (p->sock[i] != NULL) (void)vow_sock_close(p->sock[i]);
}

void proof_start(proof_prog *p, vow_loop_t *loop, int index, proof_emit_fn emit, void *ud) {
    p->loop = loop;
    p->index = index;
    p->emit = emit;
    p->ud = ud;
    (void)run_list(p, &p->main_scope, NULL);
}

void proof_stop(proof_prog *p) {
    if (p == NULL) return;
    p->stopped = 1;
    p->emit = NULL;
}

void proof_end(proof_prog *p) {
    if (p == NULL) return;
    for (int i = 0; i < p->nops; i++) {
        vow_t *n = p->node[i];
        if (n == NULL) continue;
        line_begin(p);
        out(p, "%d.end ", p->ops[i].id);
        switch (vow_state(n)) {
        case VOW_PENDING: out(p, "p"); break;
        case VOW_FULFILLED:
            out(p, "f ");
            fmt_value(p, vow_value(n), 0);
            break;
        case VOW_REJECTED:
            if (vow_is_cancellation(vow_error(n))) {
                out(p, "c");
            } else {
                out(p, "r ");
                fmt_error(p, vow_error(n));
            }
            break;
        }
        line_end(p);
    }
}

int proof_free_objects(proof_prog *p) {
    if (p == NULL) return 0;
    int any = 0;
    p->emit = NULL; /* what the cancellations run now is not part of the trace */
    for (int i = 0; i < p->nops; i++) {
        void *x = p->obj[i];
        if (x == NULL) continue;
        p->obj[i] = NULL;
        any = 1;
        switch (p->ops[i].kind) {
        case K_LOCK: vow_lock_free(x); break;
        case K_SEM:
        case K_BSEM: vow_sem_free(x); break;
        case K_EVENT: vow_event_free(x); break;
        case K_QUEUE: vow_queue_free(x); break;
        default: die("an object of no known kind", p, i);
        }
    }
    return any;
}

void proof_release(proof_prog *p) {
    if (p == NULL) return;
    (void)proof_free_objects(p);
    for (int i = 0; i < p->nops; i++) {
        vow_unref(p->node[i]);
        p->node[i] = NULL;
        vow_task_group_unref(p->group[i]);
        p->group[i] = NULL;
        if (p->ops[i].kind == K_PAIR) {
            pair_setup_over(p, i);
            for (int e = 0; e < 2; e++) {
                vow_sock_unref(p->sock[2 * i + e]);
                p->sock[2 * i + e] = NULL;
            }
        }
    }
}

void proof_free(proof_prog *p) {
    if (p == NULL) return;
    for (int i = 0; i < p->nops; i++) {
        free(p->ops[i].inputs.v);
        free(p->ops[i].text);
    }
    if (p->kids)
        for (int i = 0; i < p->nops * T_COUNT; i++) free(p->kids[i].v);
    for (int i = 0; i < p->nobjs; i++) free(p->objs[i]);
    free(p->objs);
    free(p->ops);
    free(p->main_scope.v);
    free(p->settled_nodes.v);
    free(p->kids);
    free(p->runs);
    free(p->node);
    free(p->group);
    free(p->obj);
    free(p->cbs);
    free(p->sock);
    free(p->srv);
    free(p->acc);
    free(p->line);
    free(p);
}

void proof_check_and_free(proof_prog *p) {
    if (p == NULL) return;
    for (int i = 0; i < p->nobjs; i++) {
        if (p->objs[i]->dtor_runs != 1) {
            fprintf(stderr,
                    "proof: FATAL: program %d: a destructor ran %d times, not once "
                    "(value/payload/context %" PRId64 ", op index %d)\n",
                    p->index, p->objs[i]->dtor_runs, p->objs[i]->v, p->objs[i]->op);
            abort();
        }
    }
    proof_free(p);
}

/* ---- the counting allocator shared by run.c and fuzz.c ------------------------------------ */

#define VOW_PROOF_HDR 16 /* keeps max_align_t alignment */
static long proof_live_allocs;

static void *count_malloc(size_t n) {
    unsigned char *b = malloc(n + VOW_PROOF_HDR);
    if (b == NULL) return NULL;
    proof_live_allocs++;
    return b + VOW_PROOF_HDR;
}
static void count_free(void *p) {
    if (p == NULL) return;
    proof_live_allocs--;
    free((unsigned char *)p - VOW_PROOF_HDR);
}
static void *count_realloc(void *p, size_t n) {
    if (p == NULL) return count_malloc(n);
    unsigned char *b = realloc((unsigned char *)p - VOW_PROOF_HDR, n + VOW_PROOF_HDR);
    return b ? b + VOW_PROOF_HDR : NULL;
}
static void *count_calloc(size_t c, size_t n) {
    if (n != 0 && c > (size_t)-1 / n) return NULL;
    void *p = count_malloc(c * n);
    if (p) memset(p, 0, c * n);
    return p;
}

int vow_proof_counting_allocator(void) {
    return vow_replace_allocator(count_malloc, count_realloc, count_calloc, count_free);
}

long vow_proof_live_allocs(void) { return proof_live_allocs; }
