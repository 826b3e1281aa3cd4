/* vow/net.h - non-blocking stream sockets (TCP over IPv4 and IPv6, Unix domain) and name
 * resolution, as promises: asyncio's streams (open_connection, start_server, StreamReader,
 * StreamWriter) and Node's net, in C.
 *
 * SOCKETS. A vow_sock_t is one connected stream socket, reference-counted. Every function
 * that hands one out (in a promise's value or a stream's item: vow_ptr with a destructor
 * that drops the reference) gives one reference; take your own with
 * vow_sock_ref(vow_value_ptr(v)) before the value goes. The last vow_sock_unref closes the
 * socket (as vow_sock_close) and frees it once nothing of vow uses it. A socket belongs to
 * its loop's thread.
 *
 * READING. The socket keeps a read buffer. A read takes what it asks for from the buffer,
 * reading the socket when the buffer does not hold it yet; bytes received before a read
 * was cancelled or timed out stay in the buffer for the next read. One read at a time:
 * a read while another waits rejects with VOW_EBUSY. A read fulfils with a bytes value
 * (vow_value_bytes): the bytes, owned by the value.
 *
 * WRITING. vow_sock_write copies the bytes into the socket's write buffer, writes what the
 * kernel takes at once, and resumes the partial writes when the socket is writable again.
 * Its promise fulfils when the bytes still unsent are at most the write buffer's limit
 * (vow_sock_set_write_limit; 64 KiB by default): asyncio's write() then drain(). So a
 * producer that awaits each write never buffers more than the limit plus one write.
 * Writes go out in call order. Cancelling a waiting write rejects its promise, but its
 * bytes, already in the buffer, still go out.
 *
 * ERRORS. Rejections carry negative errno codes: VOW_ECONNREFUSED, VOW_ECONNRESET,
 * VOW_EPIPE (sockets write with MSG_NOSIGNAL, or SO_NOSIGPIPE: SIGPIPE never kills the
 * process), VOW_ETIMEDOUT, VOW_ENETUNREACH, VOW_EHOSTUNREACH, VOW_EADDRINUSE... A read or
 * write on a socket that failed rejects with the same code again; on a closed socket, with
 * VOW_ECLOSED.
 *
 * LIVENESS. A read, a write with bytes unsent, a connect and a server's accepting keep the
 * loop alive; an idle open socket or server does not (as an unref'd Node socket would not:
 * a program that only holds a socket open has nothing left to wait for).
 */
#ifndef VOW_NET_H
#define VOW_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vow/common.h"
#include "vow/loop.h"
#include "vow/promise.h"
#include "vow/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

struct addrinfo;

/* ---------------------------------------------------------------------------------
 * Bytes: what reads fulfil with.
 * --------------------------------------------------------------------------------- */
typedef struct vow_bytes {
    size_t len;
    unsigned char data[]; /* len bytes, then a '\0' (not counted), so text prints as is */
} vow_bytes_t;

/* The bytes a read's value holds (borrowed from the value), or NULL when v is NULL or is
 * not a bytes value. */
VOW_EXTERN const vow_bytes_t *vow_value_bytes(const vow_value_t *v);

/* ---------------------------------------------------------------------------------
 * Connecting.
 * --------------------------------------------------------------------------------- */
typedef struct vow_sock vow_sock_t;

/* Connects to host:port over TCP. host is an IPv4 or IPv6 literal ("127.0.0.1", "::1"),
 * or a name resolved first with vow_getaddrinfo (the loop's resolver), each address then
 * tried in order until one connects. One reference to a promise that fulfils with
 * vow_ptr(socket) (see SOCKETS) once connected. Cancelling it (a vow_timeout around it)
 * stops the attempt and closes the socket being connected. NULL when loop is NULL or
 * closed, or out of memory; a promise rejected with VOW_EINVAL (host NULL or empty, port
 * 0), the resolver's error, or the connect's (VOW_ECONNREFUSED... the last address's). */
VOW_EXTERN vow_t *vow_tcp_connect(vow_loop_t *loop, const char *host, uint16_t port);

/* Connects to one address (sockaddr_in, sockaddr_in6 or sockaddr_un; copied). Promise,
 * cancellation and errors as vow_tcp_connect; VOW_EINVAL for addr NULL, a length that does
 * not fit its family, or a family other than AF_INET, AF_INET6, AF_UNIX. */
VOW_EXTERN vow_t *vow_connect_addr(vow_loop_t *loop, const struct sockaddr *addr, socklen_t len);

/* Connects to the Unix domain stream socket at `path`. As vow_connect_addr; VOW_EINVAL
 * for path NULL, empty or longer than sun_path holds. */
VOW_EXTERN vow_t *vow_unix_connect(vow_loop_t *loop, const char *path);

/* Adopts a connected stream socket (or one end of a socketpair) the application made: vow
 * makes it non-blocking and owns it from then on (closes it). Stores one reference in
 * *out and returns 0. Errors: VOW_EINVAL (loop or out NULL, fd < 0), VOW_ECLOSED,
 * VOW_ENOMEM, fcntl's code (VOW_EBADF: fd is not open); fd not adopted (still the
 * caller's) on every error, and *out NULL. */
VOW_EXTERN int vow_sock_wrap(vow_loop_t *loop, int fd, vow_sock_t **out);

/* ---------------------------------------------------------------------------------
 * Reading (see READING).
 * --------------------------------------------------------------------------------- */

/* Some bytes: at least 1, at most max, as soon as there are any; 0 bytes (an empty bytes
 * value) at the end of the stream (the peer shut down its side). One reference to the
 * promise; NULL when s is NULL, its loop closed, or out of memory; a promise rejected with
 * VOW_EINVAL (max 0), VOW_EBUSY (a read waits already), VOW_ECLOSED, the socket's error. */
VOW_EXTERN vow_t *vow_sock_read(vow_sock_t *s, size_t max);

/* Exactly n bytes (n > 0). At the end of the stream before n bytes: rejects with VOW_EEOF,
 * and the bytes received stay buffered. Otherwise as vow_sock_read. */
VOW_EXTERN vow_t *vow_sock_read_exactly(vow_sock_t *s, size_t n);

/* The bytes up to and including the first `delim` (dlen bytes, dlen > 0), at most `max`
 * bytes in all (0: no limit). Rejects with VOW_ERANGE when max bytes came without the
 * delimiter, VOW_EEOF when the stream ended without it; the bytes stay buffered either
 * way. delim is copied. Otherwise as vow_sock_read (VOW_EINVAL: delim NULL, dlen 0, or max
 * below dlen). */
VOW_EXTERN vow_t *vow_sock_read_until(vow_sock_t *s, const void *delim, size_t dlen, size_t max);

/* ---------------------------------------------------------------------------------
 * Writing (see WRITING).
 * --------------------------------------------------------------------------------- */

/* Writes len bytes of data (copied; len 0 is allowed and fulfils when the buffer is below
 * the limit). One reference to a promise that fulfils (vow_none) as WRITING says, or
 * rejects with the socket's error (VOW_EPIPE, VOW_ECONNRESET...) or VOW_ECLOSED. NULL when
 * s is NULL, its loop closed, or out of memory (nothing buffered); a promise rejected with
 * VOW_EINVAL (data NULL with len > 0), VOW_EPIPE after vow_sock_shutdown.
 * A write that is fulfilled when the call returns (vow_state says VOW_FULFILLED: the
 * common case, nothing to wait for) answers a promise the loop shares among such writes:
 * already fulfilled with vow_none, so nothing about it can change, but two such writes
 * may return the same pointer. Drop each reference as usual. */
VOW_EXTERN vow_t *vow_sock_write(vow_sock_t *s, const void *data, size_t len);

/* A promise that fulfils once every buffered byte was handed to the kernel. As
 * vow_sock_write for the rest. */
VOW_EXTERN vow_t *vow_sock_drain(vow_sock_t *s);

/* The write buffer's limit (see WRITING); 0 makes every write wait until the buffer is
 * empty. 0 or VOW_EINVAL (s NULL), VOW_ECLOSED. */
VOW_EXTERN int vow_sock_set_write_limit(vow_sock_t *s, size_t limit);

/* Half-closes: once every buffered byte is written, shuts the sending side down
 * (shutdown(SHUT_WR): the peer reads the end of the stream); reading goes on. One
 * reference to a promise that fulfils then, or rejects with the socket's error. NULL when
 * s is NULL, its loop closed, or out of memory; a second call answers as the first. */
VOW_EXTERN vow_t *vow_sock_shutdown(vow_sock_t *s);

/* Closes the socket now: unsent bytes are dropped, a waiting read, write, drain or
 * shutdown rejects with VOW_ECLOSED. The caller's reference stays (vow_sock_unref it).
 * 0 (also when closed already); VOW_EINVAL (s NULL). */
VOW_EXTERN int vow_sock_close(vow_sock_t *s);

/* One more reference (returns s; NULL passes through). */
VOW_EXTERN vow_sock_t *vow_sock_ref(vow_sock_t *s);
/* Drops one (NULL ignored); the last one closes the socket (vow_sock_close). */
VOW_EXTERN void vow_sock_unref(vow_sock_t *s);

/* The socket's descriptor (borrowed: for setsockopt and getsockname; never close it or
 * read from it), or VOW_EINVAL (s NULL), VOW_ECLOSED once closed. */
VOW_EXTERN int vow_sock_fd(const vow_sock_t *s);

/* Counters of one socket, for tests and monitoring. */
typedef struct vow_sock_stats {
    uint64_t bytes_read;     /* read from the kernel */
    uint64_t bytes_written;  /* handed to the kernel */
    uint64_t partial_writes; /* writes the kernel took part of, resumed later */
    size_t buffered_in;      /* in the read buffer, not yet read */
    size_t buffered_out;     /* in the write buffer, not yet written */
} vow_sock_stats_t;

/* Fills *out. 0; VOW_EINVAL (s or out NULL). Works on a closed socket too. */
VOW_EXTERN int vow_sock_stats(const vow_sock_t *s, vow_sock_stats_t *out);

/* ---------------------------------------------------------------------------------
 * Servers.
 * --------------------------------------------------------------------------------- */
typedef struct vow_server vow_server_t;

/* SO_REUSEPORT: several sockets (one loop per thread, or per process) share the port, the
 * kernel spreading connections between them. VOW_ENOTSUP where the system has none. */
#define VOW_LISTEN_REUSEPORT 0x1u
/* IPv6 only (IPV6_V6ONLY) for an IPv6 address; without it "::" takes IPv4 too. */
#define VOW_LISTEN_V6ONLY 0x2u

typedef struct vow_listen_opts {
    int backlog;          /* listen()'s; 0: 511 (Node's and libuv's default) */
    unsigned flags;       /* VOW_LISTEN_* */
    size_t accept_buffer; /* connections accepted ahead of the consumer; 0: 16 */
} vow_listen_opts_t;

/* Listens on host:port over TCP (SO_REUSEADDR always). host: an IPv4 or IPv6 literal
 * ("127.0.0.1", "::1", "0.0.0.0", "::"); port 0 takes an ephemeral port
 * (vow_server_port tells which). opts may be NULL (the defaults). Stores the server in
 * *out (the caller owns it: vow_server_close) and returns 0. Errors: VOW_EINVAL (loop,
 * host or out NULL, host not a literal, unknown flag), VOW_ECLOSED, VOW_ENOTSUP, VOW_ENOMEM,
 * and bind's and listen's codes (VOW_EADDRINUSE, VOW_EACCES...); *out NULL on error. */
VOW_EXTERN int vow_tcp_listen(vow_loop_t *loop, const char *host, uint16_t port,
                              const vow_listen_opts_t *opts, vow_server_t **out);

/* Listens on a Unix domain stream socket at path (which must not exist: remove a stale
 * one first; vow_server_close removes it). As vow_tcp_listen (REUSEPORT and V6ONLY do
 * not apply: VOW_EINVAL). */
VOW_EXTERN int vow_unix_listen(vow_loop_t *loop, const char *path, const vow_listen_opts_t *opts,
                               vow_server_t **out);

/* The connections, as a stream (vow/stream.h): each item is vow_ptr(socket) (see SOCKETS).
 * One reference to the server's one stream (a second call: another reference to it).
 * Back-pressure: the server accepts while the stream's buffer (opts.accept_buffer) has
 * room or a next waits, and stops watching the listening socket otherwise (the kernel's
 * backlog then holds new connections). An accept that fails for want of descriptors or
 * memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) does not end the stream: it is counted
 * (vow_server_errors) and accepting resumes 50 ms later, or when a socket of this loop
 * closes, whichever comes first; ECONNABORTED is skipped. Any other error fails the
 * stream with its code. vow_server_close ends the stream. A next waiting on the stream
 * keeps the loop alive (LIVENESS), and only while it waits: when it is cancelled (a
 * vow_timeout around it) and no other waits, the loop may end; the accept it started
 * stays in flight for the stream (as a stream's pull does), and a connection it takes
 * waits in the stream's buffer. NULL when srv is NULL, its loop closed, or out of
 * memory. */
VOW_EXTERN vow_stream_t *vow_server_accept(vow_server_t *srv);

/* The port the server listens on (host order), or VOW_EINVAL (srv NULL or a Unix
 * server). */
VOW_EXTERN int vow_server_port(const vow_server_t *srv);

/* How many accepts failed for a passing reason (see vow_server_accept), and the last one's
 * code in *last (when last is not NULL; 0 when none). VOW_EINVAL for srv NULL. */
VOW_EXTERN long vow_server_errors(const vow_server_t *srv, int *last);

/* Stops listening and closes the listening socket (a Unix server removes its path); the
 * accept stream ends after the connections already accepted; connections accepted earlier
 * are not touched. Frees the server (srv must not be used again). NULL is ignored. */
VOW_EXTERN void vow_server_close(vow_server_t *srv);

/* ---------------------------------------------------------------------------------
 * Name resolution (on the loop's thread pool, vow/thread.h).
 * --------------------------------------------------------------------------------- */

/* A resolver: getaddrinfo's contract (0 and *res set, or an EAI_* code; EAI_SYSTEM with
 * errno set). It runs on a pool thread: it must not touch the loop or any promise. */
typedef int (*vow_resolver_fn)(const char *host, const char *service, const struct addrinfo *hints,
                               struct addrinfo **res, void *ctx);
/* Frees what the resolver returned in *res (freeaddrinfo for getaddrinfo's). It runs on
 * the loop's thread, when the lookup's value goes (or at once, for a cancelled lookup's). */
typedef void (*vow_resolver_free_fn)(struct addrinfo *res, void *ctx);

/* Replaces the loop's resolver (fn NULL: back to getaddrinfo and freeaddrinfo; free_fn
 * is then ignored). Lookups already started keep the resolver they started with; ctx must
 * outlive them. 0; VOW_EINVAL (loop NULL, fn without free_fn), VOW_ECLOSED. */
VOW_EXTERN int vow_set_resolver(vow_loop_t *loop, vow_resolver_fn fn, vow_resolver_free_fn free_fn,
                                void *ctx);

/* Resolves host and/or service (either may be NULL, not both) with the loop's resolver
 * on the pool (copied: the strings and hints may go at once). One reference to a promise
 * that fulfils with vow_ptr(the struct addrinfo list, freed with the value); or rejects:
 * VOW_ENOENT (EAI_NONAME, EAI_NODATA: no such name), VOW_EAGAIN (EAI_AGAIN), VOW_ENOMEM
 * (EAI_MEMORY), the errno for EAI_SYSTEM, VOW_EINVAL for the other EAI codes (the
 * message is gai_strerror's). Cancelling it: a lookup not started never runs; one running
 * finishes on its thread and its result is freed. NULL when loop is NULL or closed, or
 * out of memory; a promise rejected with VOW_EINVAL when host and service are both NULL. */
VOW_EXTERN vow_t *vow_getaddrinfo(vow_loop_t *loop, const char *host, const char *service,
                                  const struct addrinfo *hints);

#ifdef __cplusplus
}
#endif
#endif /* VOW_NET_H */
