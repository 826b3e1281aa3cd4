/* src/queue.h - intrusive singly linked FIFOs and stacks, for any layer (never installed).
 *
 * A FIFO is a {head, tail} pair of pointers to nodes that link through a field the caller
 * names; the nodes are the caller's own records (no allocation). Used by the job queue,
 * the unhandled-rejection reports, the cancellation worklist and the deferred-free stack.
 * A promise's reaction list needs O(1) removal from the middle and is doubly linked
 * (promise/reaction.c). */
#ifndef VOW_SRC_QUEUE_H
#define VOW_SRC_QUEUE_H

#include <stddef.h>

#define VOW__FIFO(type)                                                                            \
    struct {                                                                                       \
        type *head, *tail;                                                                         \
    }

#define VOW__FIFO_EMPTY(q) ((q)->head == NULL)

/* Appends `node` (its `field` is overwritten). */
#define VOW__FIFO_PUSH(q, node, field)                                                             \
    do {                                                                                           \
        (node)->field = NULL;                                                                      \
        if ((q)->tail != NULL)                                                                     \
            (q)->tail->field = (node);                                                             \
        else                                                                                       \
            (q)->head = (node);                                                                    \
        (q)->tail = (node);                                                                        \
    } while (0)

/* Removes the first node into `out` (NULL when empty). */
#define VOW__FIFO_POP(q, out, field)                                                               \
    do {                                                                                           \
        (out) = (q)->head;                                                                         \
        if ((out) != NULL) {                                                                       \
            (q)->head = (out)->field;                                                              \
            if ((q)->head == NULL) (q)->tail = NULL;                                               \
            (out)->field = NULL;                                                                   \
        }                                                                                          \
    } while (0)

/* A LIFO stack: a pointer to the top node, linked through `field`. */
#define VOW__STACK_PUSH(top, node, field)                                                          \
    do {                                                                                           \
        (node)->field = (top);                                                                     \
        (top) = (node);                                                                            \
    } while (0)

#define VOW__STACK_POP(top, out, field)                                                            \
    do {                                                                                           \
        (out) = (top);                                                                             \
        if ((out) != NULL) (top) = (out)->field;                                                   \
    } while (0)

/* A doubly linked list (any struct with `head` and `tail`) of nodes with `next` and `prev`
 * fields: append, and unlink a node from anywhere in O(1) (a line of waiters). */
#define VOW__DLIST_PUSH(l, node)                                                                   \
    do {                                                                                           \
        (node)->next = NULL;                                                                       \
        (node)->prev = (l)->tail;                                                                  \
        if ((l)->tail != NULL)                                                                     \
            (l)->tail->next = (node);                                                              \
        else                                                                                       \
            (l)->head = (node);                                                                    \
        (l)->tail = (node);                                                                        \
    } while (0)

#define VOW__DLIST_UNLINK(l, node)                                                                 \
    do {                                                                                           \
        if ((node)->prev != NULL)                                                                  \
            (node)->prev->next = (node)->next;                                                     \
        else                                                                                       \
            (l)->head = (node)->next;                                                              \
        if ((node)->next != NULL)                                                                  \
            (node)->next->prev = (node)->prev;                                                     \
        else                                                                                       \
            (l)->tail = (node)->prev;                                                              \
        (node)->next = (node)->prev = NULL;                                                        \
    } while (0)

#endif /* VOW_SRC_QUEUE_H */
