/* vow/error.h - error codes and the reference-counted error object.
 *
 * Every vow call that can fail returns 0 (or a non-negative count) on success and a
 * negative code on failure. Where errno has a matching code, vow's code is its negative
 * (VOW_EINVAL == -EINVAL); vow's own codes live in a reserved range below -5000. One
 * X-macro table (VOW_ERRNO_MAP / VOW_OWN_ERR_MAP) generates the enum, vow_strerror()
 * and vow_err_name(), so no code can be missing from one of them.
 *
 * Rejection reasons are vow_error_t objects: reference counted, immutable once shared,
 * with a code, a message, an optional cause (printed as a chain), an optional user
 * payload with a destructor, and, for aggregate errors, the inner errors in input order.
 */
#ifndef VOW_ERROR_H
#define VOW_ERROR_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "vow/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Codes that errno defines: XX(NAME, message). */
#define VOW_ERRNO_MAP(XX)                                                                          \
    XX(EPERM, "operation not permitted")                                                           \
    XX(ENOENT, "no such entry")                                                                    \
    XX(EINTR, "interrupted")                                                                       \
    XX(EAGAIN, "resource temporarily unavailable")                                                 \
    XX(ENOMEM, "out of memory")                                                                    \
    XX(EBUSY, "resource busy")                                                                     \
    XX(EINVAL, "invalid argument")                                                                 \
    XX(ERANGE, "result out of range")                                                              \
    XX(ENOTSUP, "operation not supported")                                                         \
    XX(ETIMEDOUT, "timed out")                                                                     \
    XX(ECANCELED, "operation cancelled")                                                           \
    XX(EBADF, "bad file descriptor")                                                               \
    XX(ECHILD, "no such child process")                                                            \
    XX(EACCES, "permission denied")                                                                \
    XX(EPIPE, "broken pipe")                                                                       \
    XX(EMFILE, "too many open files")                                                              \
    XX(ENFILE, "too many open files in the system")                                                \
    XX(ENOBUFS, "no buffer space available")                                                       \
    XX(EAFNOSUPPORT, "address family not supported")                                               \
    XX(EADDRINUSE, "address already in use")                                                       \
    XX(EADDRNOTAVAIL, "address not available")                                                     \
    XX(ENETUNREACH, "network unreachable")                                                         \
    XX(EHOSTUNREACH, "host unreachable")                                                           \
    XX(ECONNREFUSED, "connection refused")                                                         \
    XX(ECONNRESET, "connection reset by peer")                                                     \
    XX(ECONNABORTED, "connection aborted")                                                         \
    XX(ENOTCONN, "socket not connected")

/* vow's own codes: XX(NAME, value, message). Values stay below VOW_ERR_OWN_BASE. */
#define VOW_OWN_ERR_MAP(XX)                                                                        \
    XX(EAGGREGATE, -5001, "all promises were rejected")                                            \
    XX(ETYPE, -5002, "type error")                                                                 \
    XX(ECLOSED, -5003, "closed (the loop, stream or socket)")                                      \
    XX(ESETTLED, -5004, "promise already resolved")                                                \
    XX(ENEVER, -5005, "promise would never settle: the loop ran out of work")                      \
    XX(EREENTRANT, -5006, "loop is already running")                                               \
    XX(EUSER, -5007, "user-defined error")                                                         \
    XX(ESHUTDOWN, -5008, "queue is shut down")                                                     \
    XX(EEOF, -5009, "end of stream before the bytes asked for")

#define VOW_ERR_OWN_BASE (-5000)

typedef enum {
    VOW_OK = 0,
#define VOW__ERRNO_ENUM(name, msg) VOW_##name = -name,
    VOW_ERRNO_MAP(VOW__ERRNO_ENUM)
#undef VOW__ERRNO_ENUM
#define VOW__OWN_ENUM(name, val, msg) VOW_##name = (val),
        VOW_OWN_ERR_MAP(VOW__OWN_ENUM)
#undef VOW__OWN_ENUM
} vow_errno_t;

/* The message for a code ("timed out"); 0 gives "success", codes outside the table
 * "unknown error". The string is static: never free it. */
VOW_EXTERN const char *vow_strerror(int code);

/* The name of a code without prefix ("ETIMEDOUT", "EAGGREGATE"); 0 gives "OK", codes
 * outside the table "UNKNOWN". The string is static. */
VOW_EXTERN const char *vow_err_name(int code);

/* ---------------------------------------------------------------------------------
 * vow_error_t: a reference-counted error.
 *
 * Every constructor returns one reference, which the caller owns. Constructors never
 * return NULL: when memory runs out they return vow's static out-of-memory error
 * (code VOW_ENOMEM), which ignores ref/unref, and still consume what they were given
 * to consume. Errors are immutable once constructed, except for the payload, which may
 * be attached once before the error is shared.
 * --------------------------------------------------------------------------------- */
typedef struct vow_error vow_error_t;

/* A new error with `code` (any int, none is refused; by convention a VOW_E* code or your
 * own below VOW_ERR_OWN_BASE) and a copy of `message` (NULL: vow_strerror(code)). */
VOW_EXTERN vow_error_t *vow_error_new(int code, const char *message);

/* As vow_error_new, with a printf-style message. `fmt` NULL is no message (the error's
 * message is then vow_strerror(code)), as vow_error_new(code, NULL); a format the C
 * library cannot print (vsnprintf fails) gives no message too. */
VOW_EXTERN vow_error_t *vow_error_newf(int code, const char *fmt, ...) VOW_PRINTF(2, 3);

/* A new error caused by `cause`. Consumes the caller's reference to `cause`
 * (which may be NULL: then this is vow_error_new). */
VOW_EXTERN vow_error_t *vow_error_wrap(int code, const char *message, vow_error_t *cause);

/* An aggregate error (code VOW_EAGGREGATE) holding the `n` errors of `inner`, in order.
 * Consumes the caller's reference to each of them (NULL entries are not allowed:
 * they are skipped). The array itself stays the caller's. `message` NULL gives
 * vow_strerror(VOW_EAGGREGATE). `inner` NULL is an aggregate of none, whatever `n` says.
 * Out of memory it releases the inner errors and answers the immortal ENOMEM error, as
 * every error constructor does; an `n` no array can have (over SIZE_MAX / sizeof(void *))
 * answers that error too, without touching `inner`. */
VOW_EXTERN vow_error_t *vow_error_aggregate(const char *message, vow_error_t **inner, size_t n);

/* Attaches a user payload (your own rejection reason) with an optional destructor,
 * run when the error is freed. Returns 0; VOW_EINVAL if err is NULL; VOW_EBUSY if the
 * error already has a payload; VOW_ENOMEM if err is the static out-of-memory error. On
 * every error return `dtor(payload)` has already run, so the payload never leaks. */
VOW_EXTERN int vow_error_set_payload(vow_error_t *err, void *payload, void (*dtor)(void *));

/* One more reference (returns err; NULL passes through; the immortal out-of-memory
 * error ignores it). */
VOW_EXTERN vow_error_t *vow_error_ref(vow_error_t *err);
/* Drops one reference; the last frees the error, its cause chain, its inner errors and
 * runs the payload destructor. NULL is ignored. */
VOW_EXTERN void vow_error_unref(vow_error_t *err);

/* Inspectors. All borrow `err`; none of them takes a reference. err NULL is answered,
 * never a crash: VOW_EINVAL from vow_error_code, "" from vow_error_message, NULL from
 * vow_error_cause / vow_error_payload / vow_error_at, 0 from vow_error_count. */
VOW_EXTERN int vow_error_code(const vow_error_t *err);
/* The message (borrowed, valid while you hold err; never NULL). */
VOW_EXTERN const char *vow_error_message(const vow_error_t *err);
/* The cause, borrowed (NULL when none). */
VOW_EXTERN vow_error_t *vow_error_cause(const vow_error_t *err);
/* The payload (NULL when none; it stays the error's). */
VOW_EXTERN void *vow_error_payload(const vow_error_t *err);
/* Number of inner errors (0 unless aggregate) and the i-th, borrowed (NULL past end). */
VOW_EXTERN size_t vow_error_count(const vow_error_t *err);
VOW_EXTERN vow_error_t *vow_error_at(const vow_error_t *err, size_t i);

/* Writes the error and its cause chain as one line, "ETIMEDOUT: timed out; caused by
 * ECANCELED: operation cancelled", aggregates as "EAGGREGATE: msg [EINVAL: a, ...]".
 * snprintf semantics: returns the length the full text needs (excluding the NUL),
 * writes at most `len` bytes including the NUL (nothing when buf is NULL or len is 0, to
 * measure first). err NULL formats as "(null)". */
VOW_EXTERN size_t vow_error_format(const vow_error_t *err, char *buf, size_t len);

/* vow_error_format to a stream, followed by a newline. Returns 0; VOW_EINVAL when err or
 * stream is NULL (nothing written). */
VOW_EXTERN int vow_error_print(const vow_error_t *err, FILE *stream);

#ifdef __cplusplus
}
#endif
#endif /* VOW_ERROR_H */
