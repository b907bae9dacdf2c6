# distutils: libraries = nghttp2
"""A gRPC server's transport in C: HTTP/2 (libnghttp2) on its own epoll loop, run without the
GIL in one thread; Python is entered once per complete request message.

Python sees calls by a 64-bit id and bytes only (native_server.py gives them meaning):
  handler.unary(call_id, path, peer, message)  a unary (or server-streaming) request is whole
  handler.open(call_id, path, peer)            a client-streaming call's headers arrived
  handler.message(call_id, message)            one of its request messages
  handler.half_close(call_id)                  the client sent its last message
  handler.cancelled(call_id)                   the client reset the call or went away
and answers, from any thread, with Front.send / Front.finish / Front.reply (queued; an eventfd
wakes the loop). gRPC's framing (5-byte message prefix, grpc-status, grpc-message and
grpc-status-details-bin trailers, grpc-timeout) is done here; HTTP/2 itself (flow control,
PING, SETTINGS, RST_STREAM, GOAWAY, header compression) is nghttp2's.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.errno cimport EAGAIN, EINTR, errno
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcmp, memcpy, memmove, strcmp, strlen

import logging

log = logging.getLogger("kvick.p4runtime")


cdef extern from "<sys/epoll.h>" nogil:
    cdef union epoll_data:
        void *ptr
        int fd
        uint32_t u32
        uint64_t u64
    cdef struct epoll_event:
        uint32_t events
        epoll_data data
    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event *event)
    int epoll_wait(int epfd, epoll_event *events, int maxevents, int timeout)
    enum:
        EPOLLIN
        EPOLLOUT
        EPOLLERR
        EPOLLHUP
        EPOLL_CTL_ADD
        EPOLL_CTL_MOD
        EPOLL_CTL_DEL
        EPOLL_CLOEXEC

cdef extern from "<sys/eventfd.h>" nogil:
    int eventfd(unsigned int initval, int flags)
    enum:
        EFD_NONBLOCK
        EFD_CLOEXEC

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    struct sockaddr:
        pass
    struct sockaddr_storage:
        unsigned short ss_family
    int accept4(int fd, sockaddr *addr, socklen_t *addrlen, int flags)
    ssize_t recv(int fd, void *buf, size_t n, int flags)
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
    enum:
        SOCK_NONBLOCK
        SOCK_CLOEXEC
        MSG_NOSIGNAL
        AF_INET
        AF_INET6

cdef extern from "<netinet/in.h>" nogil:
    enum:
        IPPROTO_TCP

cdef extern from "<netinet/tcp.h>" nogil:
    enum:
        TCP_NODELAY

cdef extern from "<arpa/inet.h>" nogil:
    const char *inet_ntop(int af, const void *src, char *dst, socklen_t size)

cdef extern from *:
    """
    #include <netinet/in.h>
    #include <time.h>
    #include <pthread.h>
    #include <stdio.h>
    static void h2f_peer_name(const struct sockaddr_storage *ss, char *out, size_t size) {
        char host[64];
        if (ss->ss_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            snprintf(out, size, "ipv4:%s:%u", host, ntohs(a->sin_port));
        } else if (ss->ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            snprintf(out, size, "ipv6:[%s]:%u", host, ntohs(a->sin6_port));
        } else {
            snprintf(out, size, "unix:");
        }
    }
    static int64_t h2f_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    }
    static unsigned long h2f_self(void) { return (unsigned long)pthread_self(); }
    """
    void h2f_peer_name(const sockaddr_storage *ss, char *out, size_t size) nogil
    int64_t h2f_now_ns() nogil
    unsigned long h2f_self() nogil

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    int pthread_mutex_init(pthread_mutex_t *m, void *attr)
    int pthread_mutex_lock(pthread_mutex_t *m)
    int pthread_mutex_unlock(pthread_mutex_t *m)
    int pthread_mutex_destroy(pthread_mutex_t *m)

cdef extern from "<unistd.h>" nogil:
    ssize_t read(int fd, void *buf, size_t n)
    ssize_t write(int fd, const void *buf, size_t n)
    int close(int fd)

cdef extern from "<nghttp2/nghttp2.h>" nogil:
    ctypedef struct nghttp2_session:
        pass
    ctypedef struct nghttp2_session_callbacks:
        pass
    ctypedef struct nghttp2_option:
        pass
    ctypedef struct nghttp2_nv:
        uint8_t *name
        uint8_t *value
        size_t namelen
        size_t valuelen
        uint8_t flags
    ctypedef struct nghttp2_frame_hd:
        size_t length
        int32_t stream_id
        uint8_t type
        uint8_t flags
    ctypedef struct nghttp2_headers:
        nghttp2_frame_hd hd
        int cat
    ctypedef struct nghttp2_goaway:
        nghttp2_frame_hd hd
        int32_t last_stream_id
        uint32_t error_code
    ctypedef union nghttp2_frame:
        nghttp2_frame_hd hd
        nghttp2_headers headers
        nghttp2_goaway goaway
    ctypedef union nghttp2_data_source:
        int fd
        void *ptr
    ctypedef ssize_t (*nghttp2_data_source_read_callback)(
        nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
        uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
    ctypedef struct nghttp2_data_provider:
        nghttp2_data_source source
        nghttp2_data_source_read_callback read_callback
    ctypedef struct nghttp2_settings_entry:
        int32_t settings_id
        uint32_t value

    ctypedef int (*on_begin_headers_cb)(nghttp2_session *, const nghttp2_frame *, void *)
    ctypedef int (*on_header_cb)(nghttp2_session *, const nghttp2_frame *, const uint8_t *,
                                 size_t, const uint8_t *, size_t, uint8_t, void *)
    ctypedef int (*on_frame_cb)(nghttp2_session *, const nghttp2_frame *, void *)
    ctypedef int (*on_data_chunk_cb)(nghttp2_session *, uint8_t, int32_t, const uint8_t *,
                                     size_t, void *)
    ctypedef int (*on_stream_close_cb)(nghttp2_session *, int32_t, uint32_t, void *)

    int nghttp2_session_callbacks_new(nghttp2_session_callbacks **callbacks_ptr)
    void nghttp2_session_callbacks_del(nghttp2_session_callbacks *callbacks)
    void nghttp2_session_callbacks_set_on_begin_headers_callback(
        nghttp2_session_callbacks *, on_begin_headers_cb)
    void nghttp2_session_callbacks_set_on_header_callback(nghttp2_session_callbacks *,
                                                          on_header_cb)
    void nghttp2_session_callbacks_set_on_frame_recv_callback(nghttp2_session_callbacks *,
                                                              on_frame_cb)
    void nghttp2_session_callbacks_set_on_frame_send_callback(nghttp2_session_callbacks *,
                                                              on_frame_cb)
    void nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        nghttp2_session_callbacks *, on_data_chunk_cb)
    void nghttp2_session_callbacks_set_on_stream_close_callback(nghttp2_session_callbacks *,
                                                                on_stream_close_cb)
    int nghttp2_option_new(nghttp2_option **option_ptr)
    void nghttp2_option_del(nghttp2_option *option)
    int nghttp2_session_server_new2(nghttp2_session **session_ptr,
                                    const nghttp2_session_callbacks *callbacks,
                                    void *user_data, const nghttp2_option *option)
    void nghttp2_session_del(nghttp2_session *session)
    ssize_t nghttp2_session_mem_recv(nghttp2_session *session, const uint8_t *data, size_t n)
    ssize_t nghttp2_session_mem_send(nghttp2_session *session, const uint8_t **data_ptr)
    int nghttp2_session_want_read(nghttp2_session *session)
    int nghttp2_session_want_write(nghttp2_session *session)
    void *nghttp2_session_get_stream_user_data(nghttp2_session *session, int32_t stream_id)
    int nghttp2_session_set_stream_user_data(nghttp2_session *session, int32_t stream_id,
                                             void *data)
    int nghttp2_session_get_stream_remote_close(nghttp2_session *session, int32_t stream_id)
    int nghttp2_submit_settings(nghttp2_session *session, uint8_t flags,
                                const nghttp2_settings_entry *iv, size_t niv)
    int nghttp2_session_set_local_window_size(nghttp2_session *session, uint8_t flags,
                                              int32_t stream_id, int32_t window_size)
    int nghttp2_submit_response(nghttp2_session *session, int32_t stream_id,
                                const nghttp2_nv *nva, size_t nvlen,
                                const nghttp2_data_provider *data_prd)
    int nghttp2_submit_trailer(nghttp2_session *session, int32_t stream_id,
                               const nghttp2_nv *nva, size_t nvlen)
    int nghttp2_submit_rst_stream(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                                  uint32_t error_code)
    int nghttp2_session_resume_data(nghttp2_session *session, int32_t stream_id)
    int nghttp2_session_terminate_session(nghttp2_session *session, uint32_t error_code)
    const char *nghttp2_strerror(int lib_error_code)
    enum:
        NGHTTP2_ERR_DEFERRED
        NGHTTP2_ERR_CALLBACK_FAILURE
        NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE
        NGHTTP2_FLAG_NONE
        NGHTTP2_FLAG_END_STREAM
        NGHTTP2_FLAG_END_HEADERS
        NGHTTP2_DATA_FLAG_EOF
        NGHTTP2_DATA_FLAG_NO_END_STREAM
        NGHTTP2_HEADERS
        NGHTTP2_DATA
        NGHTTP2_GOAWAY
        NGHTTP2_HCAT_REQUEST
        NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS
        NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE
        NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE
        NGHTTP2_NO_ERROR
        NGHTTP2_PROTOCOL_ERROR
        NGHTTP2_INTERNAL_ERROR
        NGHTTP2_CANCEL
        NGHTTP2_ENHANCE_YOUR_CALM
        NGHTTP2_NV_FLAG_NONE


# gRPC status codes used by the transport itself
DEF ST_OK = 0
DEF ST_CANCELLED = 1
DEF ST_UNKNOWN = 2
DEF ST_DEADLINE_EXCEEDED = 4
DEF ST_RESOURCE_EXHAUSTED = 8
DEF ST_UNIMPLEMENTED = 12
DEF ST_INTERNAL = 13

DEF MAX_CONNS = 4096          # connection slots (a call id has 16 bits for one)
DEF RECV_CHUNK = 65536
DEF STREAM_WINDOW = 1 << 20   # per stream: a big Write or pipeline config flows without stalls
DEF CONN_WINDOW = 16 << 20
DEF MAX_STREAMS = 65536       # per connection; the servers' own limits count per client
DEF LISTEN_TAG = 1 << 20    # epoll tags beyond any connection slot
DEF WAKE_TAG = (1 << 20) + 1
DEF PATH_MAX = 128

DEF CMD_DATA = 1
DEF CMD_FINISH = 2
DEF CMD_CANCEL = 3


cdef struct Conn
cdef struct Cmd
cdef struct Call


cdef struct Chunk:
    Chunk *next
    size_t length
    size_t offset
    # the bytes follow


cdef struct Call:
    Conn *conn
    int32_t stream_id
    uint64_t call_id
    char path[PATH_MAX]
    int bad_request        # 0, or the HTTP status to answer (415: not gRPC)
    int streaming          # request messages go to Python one by one
    int py_owned           # Python knows this call and has not finished it
    int response_started   # response HEADERS submitted
    int deferred           # the data source said DEFERRED: resume on new data
    int finished           # trailers are known
    int trailers_sent
    int32_t pending        # messages queued in `out`
    int64_t deadline_ns    # 0: none
    Call *deadline_next
    Call *deadline_prev
    Call *conn_next        # the connection's open calls
    Call *conn_prev
    int status
    char *grpc_message     # percent-encoded, owned
    char *details          # base64, owned (grpc-status-details-bin)
    uint8_t *inbuf
    size_t inlen
    size_t incap
    Chunk *out_head
    Chunk *out_tail


DEF MAX_STREAM_PATHS = 8


cdef struct Server:
    int listen_fd
    int epfd
    int wake_fd
    void *front            # the Front object (borrowed: it owns this struct)
    char stream_paths[MAX_STREAM_PATHS][PATH_MAX]  # methods whose requests stream
    int n_stream_paths
    size_t max_message
    Conn *conns[MAX_CONNS]
    uint32_t high_slot
    pthread_mutex_t lock
    Cmd *cmd_head
    Cmd *cmd_tail
    unsigned long loop_thread
    int stopping
    int python_gone        # the loop has ended: no more calls into Python
    nghttp2_session_callbacks *callbacks
    nghttp2_option *option
    Call *deadlines        # calls with a grpc-timeout, in no order
    uint64_t n_connections
    uint64_t n_calls
    uint64_t n_protocol_errors
    uint64_t n_bad_requests
    uint64_t n_cancelled
    uint64_t n_deadlines
    uint64_t n_dropped


cdef struct Conn:
    int fd
    uint32_t slot
    uint16_t epoch
    nghttp2_session *session
    char peer[80]
    uint8_t *pending       # bytes nghttp2 produced that the socket did not take yet
    size_t pending_len
    size_t pending_off
    int want_out           # EPOLLOUT registered
    int dirty              # has something to send
    int closing
    int protocol_error     # counted once per connection
    Call *calls            # open calls (nghttp2_session_del tells of none)
    Server *srv


cdef struct Cmd:
    Cmd *next
    uint64_t call_id
    int kind
    Chunk *chunk
    int status
    char *grpc_message
    char *details


cdef inline uint64_t make_call_id(Conn *conn, int32_t stream_id) noexcept nogil:
    return (<uint64_t>conn.slot << 48) | (<uint64_t>conn.epoch << 32) | <uint32_t>stream_id


cdef char *dup_bytes(object value):
    """A NUL-terminated malloc'd copy of bytes (None: NULL)."""
    if value is None:
        return NULL
    cdef Py_ssize_t n = PyBytes_GET_SIZE(value)
    cdef char *out = <char *>malloc(n + 1)
    if out == NULL:
        raise MemoryError()
    memcpy(out, PyBytes_AS_STRING(value), n)
    out[n] = 0
    return out


cdef Chunk *framed_chunk(object message) except NULL:
    """One gRPC message: 1 byte 'not compressed', 4 bytes big-endian length, the bytes."""
    cdef Py_ssize_t n = PyBytes_GET_SIZE(message)
    if n > 0xFFFFFFFF:
        raise ValueError("message too large for gRPC framing")
    cdef Chunk *chunk = <Chunk *>malloc(sizeof(Chunk) + 5 + n)
    if chunk == NULL:
        raise MemoryError()
    chunk.next = NULL
    chunk.length = 5 + n
    chunk.offset = 0
    cdef uint8_t *p = (<uint8_t *>chunk) + sizeof(Chunk)
    p[0] = 0
    p[1] = (n >> 24) & 0xFF
    p[2] = (n >> 16) & 0xFF
    p[3] = (n >> 8) & 0xFF
    p[4] = n & 0xFF
    memcpy(p + 5, PyBytes_AS_STRING(message), n)
    return chunk


cdef inline uint8_t *chunk_bytes(Chunk *chunk) noexcept nogil:
    return (<uint8_t *>chunk) + sizeof(Chunk)


cdef int64_t parse_timeout(const uint8_t *value, size_t n) noexcept nogil:
    """grpc-timeout: up to 8 digits and a unit (H M S m u n); the nanoseconds, -1 if bad."""
    if n < 2 or n > 9:
        return -1
    cdef int64_t amount = 0
    cdef size_t i
    for i in range(n - 1):
        if value[i] < 48 or value[i] > 57:
            return -1
        amount = amount * 10 + (value[i] - 48)
    cdef uint8_t unit = value[n - 1]
    if unit == 72:  # H
        return amount * 3600 * 1000000000
    if unit == 77:  # M
        return amount * 60 * 1000000000
    if unit == 83:  # S
        return amount * 1000000000
    if unit == 109:  # m
        return amount * 1000000
    if unit == 117:  # u
        return amount * 1000
    if unit == 110:  # n
        return amount
    return -1


cdef void free_call(Call *call) noexcept nogil:
    cdef Chunk *chunk = call.out_head
    cdef Chunk *next_chunk
    while chunk != NULL:
        next_chunk = chunk.next
        free(chunk)
        chunk = next_chunk
    free(call.inbuf)
    free(call.grpc_message)
    free(call.details)
    free(call)


# ---- nghttp2 callbacks (on the loop thread, without the GIL) ---------------------------------

cdef int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
                          void *user_data) noexcept nogil:
    cdef Conn *conn = <Conn *>user_data
    if frame.hd.type != NGHTTP2_HEADERS or frame.headers.cat != NGHTTP2_HCAT_REQUEST:
        return 0
    cdef Call *call = <Call *>calloc(1, sizeof(Call))
    if call == NULL:
        return NGHTTP2_ERR_CALLBACK_FAILURE
    call.conn = conn
    call.stream_id = frame.hd.stream_id
    call.call_id = make_call_id(conn, frame.hd.stream_id)
    call.bad_request = 415  # until a gRPC content-type is seen
    call.conn_next = conn.calls
    if conn.calls != NULL:
        conn.calls.conn_prev = call
    conn.calls = call
    nghttp2_session_set_stream_user_data(session, frame.hd.stream_id, call)
    return 0


cdef int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                   size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                   void *user_data) noexcept nogil:
    if frame.hd.type != NGHTTP2_HEADERS or frame.headers.cat != NGHTTP2_HCAT_REQUEST:
        return 0  # a client's trailers carry nothing gRPC uses
    cdef Call *call = <Call *>nghttp2_session_get_stream_user_data(session, frame.hd.stream_id)
    if call == NULL:
        return 0
    cdef int64_t timeout
    if namelen == 5 and memcmp(name, b":path", 5) == 0:
        if valuelen >= PATH_MAX:
            valuelen = PATH_MAX - 1  # no such method: it is answered UNIMPLEMENTED
        memcpy(call.path, value, valuelen)
        call.path[valuelen] = 0
    elif namelen == 12 and memcmp(name, b"content-type", 12) == 0:
        if valuelen >= 16 and memcmp(value, b"application/grpc", 16) == 0 and (
                valuelen == 16 or value[16] == 43 or value[16] == 59):  # '+proto', ';...'
            if call.bad_request == 415:
                call.bad_request = 0
    elif namelen == 12 and memcmp(name, b"grpc-timeout", 12) == 0:
        timeout = parse_timeout(value, valuelen)
        if timeout >= 0:
            call.deadline_ns = h2f_now_ns() + timeout
    elif namelen == 13 and memcmp(name, b"grpc-encoding", 13) == 0:
        if not (valuelen == 8 and memcmp(value, b"identity", 8) == 0):
            call.bad_request = -ST_UNIMPLEMENTED  # compressed messages are not supported
    return 0


cdef int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
                       void *user_data) noexcept nogil:
    cdef Conn *conn = <Conn *>user_data
    if frame.hd.type != NGHTTP2_HEADERS and frame.hd.type != NGHTTP2_DATA:
        return 0
    cdef Call *call = <Call *>nghttp2_session_get_stream_user_data(session, frame.hd.stream_id)
    if call == NULL:
        return 0
    if frame.hd.type == NGHTTP2_HEADERS and frame.headers.cat == NGHTTP2_HCAT_REQUEST:
        request_started(conn.srv, call)
    if frame.hd.flags & NGHTTP2_FLAG_END_STREAM:
        request_ended(conn.srv, call)
    return 0


cdef int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                       const uint8_t *data, size_t length, void *user_data) noexcept nogil:
    cdef Conn *conn = <Conn *>user_data
    cdef Call *call = <Call *>nghttp2_session_get_stream_user_data(session, stream_id)
    if call == NULL or call.bad_request or call.finished:
        return 0  # answered already: the rest is read and dropped
    cdef size_t need = call.inlen + length
    cdef size_t cap
    cdef uint8_t *grown
    if need > conn.srv.max_message + 5 and not call.streaming:
        fail_call(conn.srv, call, ST_RESOURCE_EXHAUSTED,
                  b"request larger than the server accepts")
        return 0
    if need > call.incap:
        cap = call.incap * 2 if call.incap else 4096
        while cap < need:
            cap *= 2
        grown = <uint8_t *>realloc(call.inbuf, cap)
        if grown == NULL:
            fail_call(conn.srv, call, ST_RESOURCE_EXHAUSTED, b"out of memory")
            return 0
        call.inbuf = grown
        call.incap = cap
    memcpy(call.inbuf + call.inlen, data, length)
    call.inlen = need
    if call.streaming:
        deliver_messages(conn.srv, call)
    return 0


cdef void protocol_error(Conn *conn) noexcept nogil:
    if not conn.protocol_error:
        conn.protocol_error = 1
        conn.srv.n_protocol_errors += 1


cdef int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
                       void *user_data) noexcept nogil:
    # nghttp2 answers a connection error in the client's HTTP/2 with GOAWAY(code).
    if frame.hd.type == NGHTTP2_GOAWAY and frame.goaway.error_code != NGHTTP2_NO_ERROR:
        protocol_error(<Conn *>user_data)
    # After the trailers, a client still sending gets RST_STREAM(NO_ERROR), as gRPC does.
    if frame.hd.type == NGHTTP2_HEADERS and frame.hd.flags & NGHTTP2_FLAG_END_STREAM:
        if nghttp2_session_get_stream_remote_close(session, frame.hd.stream_id) == 0:
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame.hd.stream_id,
                                      NGHTTP2_NO_ERROR)
    return 0


cdef int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                         void *user_data) noexcept nogil:
    cdef Conn *conn = <Conn *>user_data
    cdef Call *call = <Call *>nghttp2_session_get_stream_user_data(session, stream_id)
    if call == NULL:
        return 0
    nghttp2_session_set_stream_user_data(session, stream_id, NULL)
    end_call(conn, call)
    return 0


cdef void end_call(Conn *conn, Call *call) noexcept nogil:
    """A call's stream is closed: Python hears of it if it still owned the call."""
    if call.conn_prev != NULL:
        call.conn_prev.conn_next = call.conn_next
    elif conn.calls == call:
        conn.calls = call.conn_next
    if call.conn_next != NULL:
        call.conn_next.conn_prev = call.conn_prev
    unlink_deadline(conn.srv, call)
    if call.py_owned:
        conn.srv.n_cancelled += 1
        tell_cancelled(conn.srv, call.call_id)
    free_call(call)


cdef ssize_t read_response(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                           size_t length, uint32_t *data_flags, nghttp2_data_source *source,
                           void *user_data) noexcept nogil:
    cdef Call *call = <Call *>source.ptr
    cdef size_t copied = 0
    cdef size_t n
    cdef Chunk *chunk
    while copied < length and call.out_head != NULL:
        chunk = call.out_head
        n = chunk.length - chunk.offset
        if n > length - copied:
            n = length - copied
        memcpy(buf + copied, chunk_bytes(chunk) + chunk.offset, n)
        chunk.offset += n
        copied += n
        if chunk.offset == chunk.length:
            call.out_head = chunk.next
            if call.out_head == NULL:
                call.out_tail = NULL
            call.pending -= 1
            free(chunk)
    if call.out_head == NULL and call.finished:
        data_flags[0] |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM
        if not call.trailers_sent:
            call.trailers_sent = 1
            submit_trailers(session, call)
        return copied
    if copied == 0:
        call.deferred = 1
        return NGHTTP2_ERR_DEFERRED
    return copied


cdef inline void set_nv(nghttp2_nv *nv, const char *name, const char *value) noexcept nogil:
    nv.name = <uint8_t *>name
    nv.namelen = strlen(name)
    nv.value = <uint8_t *>value
    nv.valuelen = strlen(value)
    nv.flags = NGHTTP2_NV_FLAG_NONE


cdef void submit_trailers(nghttp2_session *session, Call *call) noexcept nogil:
    cdef nghttp2_nv nva[3]
    cdef char status[8]
    cdef size_t n = 1
    cdef int value = call.status
    if value < 0 or value > 16:
        value = ST_UNKNOWN
    if value >= 10:
        status[0] = 49
        status[1] = 48 + value - 10
        status[2] = 0
    else:
        status[0] = 48 + value
        status[1] = 0
    set_nv(&nva[0], b"grpc-status", status)
    if call.grpc_message != NULL and call.grpc_message[0] != 0:
        set_nv(&nva[n], b"grpc-message", call.grpc_message)
        n += 1
    if call.details != NULL and call.details[0] != 0:
        set_nv(&nva[n], b"grpc-status-details-bin", call.details)
        n += 1
    nghttp2_submit_trailer(session, call.stream_id, nva, n)


# ---- calls -----------------------------------------------------------------------------------

cdef void start_or_resume(Call *call) noexcept nogil:
    """Make the response go: its headers the first time, then whatever is queued."""
    cdef nghttp2_nv nva[2]
    cdef nghttp2_data_provider provider
    cdef Conn *conn = call.conn
    conn.dirty = 1
    if not call.response_started:
        call.response_started = 1
        set_nv(&nva[0], b":status", b"200")
        set_nv(&nva[1], b"content-type", b"application/grpc")
        provider.source.ptr = call
        provider.read_callback = read_response
        nghttp2_submit_response(conn.session, call.stream_id, nva, 2, &provider)
    elif call.deferred:
        call.deferred = 0
        nghttp2_session_resume_data(conn.session, call.stream_id)


cdef int is_stream_path(Server *srv, const char *path) noexcept nogil:
    cdef int i
    for i in range(srv.n_stream_paths):
        if strcmp(srv.stream_paths[i], path) == 0:
            return 1
    return 0


cdef void request_started(Server *srv, Call *call) noexcept nogil:
    """The request's headers are complete."""
    srv.n_calls += 1
    if call.deadline_ns:
        call.deadline_next = srv.deadlines
        if srv.deadlines != NULL:
            srv.deadlines.deadline_prev = call
        srv.deadlines = call
    if call.bad_request > 0:
        srv.n_bad_requests += 1
        answer_http(call, call.bad_request)
        return
    if call.bad_request < 0:
        fail_call(srv, call, -call.bad_request, b"compressed messages are not supported")
        return
    if is_stream_path(srv, call.path):
        call.streaming = 1
        call.py_owned = 1
        open_streaming(srv, call)


cdef void request_ended(Server *srv, Call *call) noexcept nogil:
    """The client sent its last frame."""
    if call.bad_request or call.finished:
        return
    if call.streaming:
        if call.inlen:
            fail_call(srv, call, ST_INTERNAL, b"incomplete message at the end of the stream")
            return
        stream_to_python(srv, call, 2, NULL, 0)
        return
    # unary (or server-streaming): exactly one whole message
    cdef size_t length
    if call.inlen < 5:
        fail_call(srv, call, ST_INTERNAL, b"no request message")
        return
    if call.inbuf[0] != 0:
        fail_call(srv, call, ST_UNIMPLEMENTED, b"compressed messages are not supported")
        return
    length = (<size_t>call.inbuf[1] << 24) | (<size_t>call.inbuf[2] << 16) | \
        (<size_t>call.inbuf[3] << 8) | call.inbuf[4]
    if length + 5 != call.inlen:
        fail_call(srv, call, ST_INTERNAL, b"a unary call takes exactly one message")
        return
    call.py_owned = 1
    dispatch_unary(srv, call, length)
    free(call.inbuf)
    call.inbuf = NULL
    call.inlen = call.incap = 0


cdef void deliver_messages(Server *srv, Call *call) noexcept nogil:
    """Every whole message in a streaming call's buffer, to Python in order."""
    cdef size_t start = 0
    cdef size_t length
    while call.inlen - start >= 5 and not call.finished and call.py_owned:
        if call.inbuf[start] != 0:
            fail_call(srv, call, ST_UNIMPLEMENTED, b"compressed messages are not supported")
            return
        length = (<size_t>call.inbuf[start + 1] << 24) | \
            (<size_t>call.inbuf[start + 2] << 16) | \
            (<size_t>call.inbuf[start + 3] << 8) | call.inbuf[start + 4]
        if length > srv.max_message:
            fail_call(srv, call, ST_RESOURCE_EXHAUSTED, b"request larger than the server accepts")
            return
        if call.inlen - start - 5 < length:
            break
        stream_to_python(srv, call, 1, <char *>call.inbuf + start + 5, length)
        start += 5 + length
    if call.finished or not call.py_owned:
        call.inlen = 0
    elif start:
        memmove(call.inbuf, call.inbuf + start, call.inlen - start)
        call.inlen -= start


cdef void fail_call(Server *srv, Call *call, int status, const char *message) noexcept nogil:
    """End a call from the transport (bad framing, too large, past its deadline)."""
    if call.finished:
        return
    cdef int owned = call.py_owned
    call.finished = 1
    call.py_owned = 0
    call.status = status
    cdef size_t n = strlen(message)  # the transport's messages need no percent-encoding
    call.grpc_message = <char *>malloc(n + 1)
    if call.grpc_message != NULL:
        memcpy(call.grpc_message, message, n + 1)
    unlink_deadline(srv, call)
    start_or_resume(call)
    if owned:
        tell_cancelled(srv, call.call_id)


cdef void answer_http(Call *call, int http_status) noexcept nogil:
    """Not a gRPC request: an HTTP error status and the end of the stream."""
    cdef nghttp2_nv nva[1]
    set_nv(&nva[0], b":status", b"415" if http_status == 415 else b"400")
    call.finished = 1
    call.response_started = 1
    call.trailers_sent = 1
    nghttp2_submit_response(call.conn.session, call.stream_id, nva, 1, NULL)
    call.conn.dirty = 1


cdef void unlink_deadline(Server *srv, Call *call) noexcept nogil:
    if call.deadline_ns == 0:
        return
    if call.deadline_prev != NULL:
        call.deadline_prev.deadline_next = call.deadline_next
    elif srv.deadlines == call:
        srv.deadlines = call.deadline_next
    if call.deadline_next != NULL:
        call.deadline_next.deadline_prev = call.deadline_prev
    call.deadline_next = call.deadline_prev = NULL
    call.deadline_ns = 0


cdef int expire_deadlines(Server *srv) noexcept nogil:
    """Calls past their grpc-timeout end with DEADLINE_EXCEEDED; the milliseconds until the
    next deadline (-1: none)."""
    cdef int64_t now = h2f_now_ns()
    cdef int64_t soonest = -1
    cdef Call *call = srv.deadlines
    cdef Call *next_call
    while call != NULL:
        next_call = call.deadline_next
        if call.deadline_ns <= now:
            srv.n_deadlines += 1
            fail_call(srv, call, ST_DEADLINE_EXCEEDED, b"Deadline Exceeded")
        elif soonest < 0 or call.deadline_ns - now < soonest:
            soonest = call.deadline_ns - now
        call = next_call
    if soonest < 0:
        return -1
    return <int>(soonest // 1000000) + 1


# ---- into Python (each takes the GIL once) ---------------------------------------------------

cdef inline str c_text(const char *text):
    return PyBytes_FromStringAndSize(text, strlen(text)).decode("latin-1")


cdef void open_streaming(Server *srv, Call *call) noexcept with gil:
    if srv.python_gone:
        return
    front = <Front>srv.front
    try:
        front.handler.open(call.call_id, c_text(call.path), c_text(call.conn.peer))
    except BaseException:
        log.exception("gRPC front end: opening %s failed", c_text(call.path))
        call.py_owned = 0
        front.finish(call.call_id, ST_UNKNOWN, b"internal error")


cdef void dispatch_unary(Server *srv, Call *call, size_t length) noexcept with gil:
    if srv.python_gone:
        return
    front = <Front>srv.front
    message = PyBytes_FromStringAndSize(<char *>call.inbuf + 5, length)
    try:
        front.handler.unary(call.call_id, c_text(call.path), c_text(call.conn.peer), message)
    except BaseException:
        log.exception("gRPC front end: %s failed", c_text(call.path))
        front.finish(call.call_id, ST_UNKNOWN, b"internal error")


cdef void stream_to_python(Server *srv, Call *call, int what, const char *data,
                           size_t length) noexcept with gil:
    if srv.python_gone or not call.py_owned:
        return
    front = <Front>srv.front
    try:
        if what == 1:
            front.handler.message(call.call_id, PyBytes_FromStringAndSize(data, length))
        else:
            front.handler.half_close(call.call_id)
    except BaseException:
        log.exception("gRPC front end: a stream message of %s failed", c_text(call.path))
        call.py_owned = 0
        front.finish(call.call_id, ST_UNKNOWN, b"internal error")


cdef void tell_cancelled(Server *srv, uint64_t call_id) noexcept with gil:
    if srv.python_gone:
        return
    try:
        (<Front>srv.front).handler.cancelled(call_id)
    except BaseException:
        log.exception("gRPC front end: cancelling a call failed")


# ---- commands from Python --------------------------------------------------------------------

cdef Cmd *new_cmd(uint64_t call_id, int kind) except NULL:
    cdef Cmd *cmd = <Cmd *>calloc(1, sizeof(Cmd))
    if cmd == NULL:
        raise MemoryError()
    cmd.call_id = call_id
    cmd.kind = kind
    return cmd


cdef void free_cmd(Cmd *cmd) noexcept nogil:
    free(cmd.chunk)
    free(cmd.grpc_message)
    free(cmd.details)
    free(cmd)


cdef void wake(Server *srv) noexcept nogil:
    cdef uint64_t one = 1
    write(srv.wake_fd, &one, 8)


cdef void push_cmd(Server *srv, Cmd *cmd) noexcept nogil:
    # Called with the GIL held: the lock is only ever held for a few pointer moves, by code
    # that never waits for the GIL, so holding both cannot deadlock.
    pthread_mutex_lock(&srv.lock)
    cdef int first = srv.cmd_head == NULL
    if srv.cmd_tail == NULL:
        srv.cmd_head = cmd
    else:
        srv.cmd_tail.next = cmd
    srv.cmd_tail = cmd
    pthread_mutex_unlock(&srv.lock)
    # The loop drains the queue after every call into Python: no wake-up needed from there.
    if first and h2f_self() != srv.loop_thread:
        wake(srv)


cdef void drain_commands(Server *srv) noexcept nogil:
    if srv.cmd_head == NULL:  # a racy peek: a command pushed meanwhile also wakes the loop
        return
    pthread_mutex_lock(&srv.lock)
    cdef Cmd *cmd = srv.cmd_head
    srv.cmd_head = NULL
    srv.cmd_tail = NULL
    pthread_mutex_unlock(&srv.lock)
    cdef Cmd *next_cmd
    while cmd != NULL:
        next_cmd = cmd.next
        apply_cmd(srv, cmd)
        free_cmd(cmd)
        cmd = next_cmd


cdef void apply_cmd(Server *srv, Cmd *cmd) noexcept nogil:
    cdef uint32_t slot = cmd.call_id >> 48
    cdef uint16_t epoch = (cmd.call_id >> 32) & 0xFFFF
    cdef int32_t stream_id = cmd.call_id & 0x7FFFFFFF
    if slot >= MAX_CONNS:
        return
    cdef Conn *conn = srv.conns[slot]
    if conn == NULL or conn.epoch != epoch:
        return  # the connection is gone
    cdef Call *call = <Call *>nghttp2_session_get_stream_user_data(conn.session, stream_id)
    if call == NULL or call.finished:
        return  # the call ended (cancelled by the client, or finished already)
    if cmd.kind == CMD_CANCEL:
        call.py_owned = 0
        call.finished = 1
        nghttp2_submit_rst_stream(conn.session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL)
        conn.dirty = 1
        return
    if cmd.chunk != NULL:
        if call.pending >= 65536:
            srv.n_dropped += 1  # a client that never reads loses messages, not our memory
        else:
            if call.out_tail == NULL:
                call.out_head = cmd.chunk
            else:
                call.out_tail.next = cmd.chunk
            call.out_tail = cmd.chunk
            call.pending += 1
            cmd.chunk = NULL
    if cmd.kind == CMD_FINISH:
        call.finished = 1
        call.py_owned = 0
        call.status = cmd.status
        call.grpc_message = cmd.grpc_message
        call.details = cmd.details
        cmd.grpc_message = NULL
        cmd.details = NULL
        unlink_deadline(srv, call)
    start_or_resume(call)


# ---- connections and the loop ----------------------------------------------------------------

cdef void accept_all(Server *srv) noexcept nogil:
    cdef sockaddr_storage address
    cdef socklen_t size
    cdef int fd
    cdef int one = 1
    cdef uint32_t slot
    cdef Conn *conn
    cdef epoll_event ev
    cdef nghttp2_settings_entry settings[3]
    while True:
        size = sizeof(address)
        fd = accept4(srv.listen_fd, <sockaddr *>&address, &size, SOCK_NONBLOCK | SOCK_CLOEXEC)
        if fd < 0:
            return
        slot = 0
        while slot < MAX_CONNS and srv.conns[slot] != NULL:
            slot += 1
        if slot == MAX_CONNS:
            close(fd)  # every slot taken: the client sees the connection closed
            continue
        conn = <Conn *>calloc(1, sizeof(Conn))
        if conn == NULL:
            close(fd)
            continue
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))
        conn.fd = fd
        conn.slot = slot
        conn.epoch = <uint16_t>(srv.n_connections & 0xFFFF)
        conn.srv = srv
        h2f_peer_name(&address, conn.peer, sizeof(conn.peer))
        if nghttp2_session_server_new2(&conn.session, srv.callbacks, conn, srv.option) != 0:
            close(fd)
            free(conn)
            continue
        srv.conns[slot] = conn
        if slot >= srv.high_slot:
            srv.high_slot = slot + 1
        srv.n_connections += 1
        settings[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS
        settings[0].value = MAX_STREAMS
        settings[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE
        settings[1].value = STREAM_WINDOW
        settings[2].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE
        settings[2].value = 16384
        nghttp2_submit_settings(conn.session, NGHTTP2_FLAG_NONE, settings, 3)
        nghttp2_session_set_local_window_size(conn.session, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW)
        conn.dirty = 1
        ev.events = EPOLLIN
        ev.data.u64 = slot
        epoll_ctl(srv.epfd, EPOLL_CTL_ADD, fd, &ev)


cdef void close_conn(Server *srv, Conn *conn) noexcept nogil:
    """Drop a connection; Python hears of the calls it still had open."""
    srv.conns[conn.slot] = NULL
    epoll_ctl(srv.epfd, EPOLL_CTL_DEL, conn.fd, NULL)
    close(conn.fd)
    while conn.calls != NULL:
        end_call(conn, conn.calls)
    nghttp2_session_del(conn.session)
    free(conn.pending)
    free(conn)


cdef int read_conn(Server *srv, Conn *conn) noexcept nogil:
    """Read what the socket has; 0 when the connection must close."""
    cdef uint8_t buf[RECV_CHUNK]
    cdef ssize_t n
    cdef ssize_t used
    if conn.closing:  # a protocol error: only the GOAWAY is still to go
        return 1
    while True:
        n = recv(conn.fd, buf, RECV_CHUNK, 0)
        if n == 0:
            return 0
        if n < 0:
            if errno == EINTR:
                continue
            return errno == EAGAIN
        used = nghttp2_session_mem_recv(conn.session, buf, n)
        conn.dirty = 1  # WINDOW_UPDATE, SETTINGS and PING acknowledgements, RST_STREAM
        drain_commands(srv)  # answers given while reading go out with this batch
        if used < 0:
            # Bad HTTP/2 (preface, frame, header compression): counted; nghttp2 has queued a
            # GOAWAY, which is sent before the connection closes.
            protocol_error(conn)
            conn.closing = 1
            conn.dirty = 1
            return 1
        if n < RECV_CHUNK:
            return 1


cdef int flush(Server *srv, Conn *conn) noexcept nogil:
    """Send what nghttp2 has for the socket; 0 when the connection must close."""
    cdef const uint8_t *data
    cdef ssize_t n
    cdef ssize_t sent
    cdef epoll_event ev
    conn.dirty = 0
    while True:
        if conn.pending_len > conn.pending_off:
            sent = send(conn.fd, conn.pending + conn.pending_off,
                        conn.pending_len - conn.pending_off, MSG_NOSIGNAL)
            if sent < 0:
                if errno == EINTR:
                    continue
                if errno == EAGAIN:
                    break
                return 0
            conn.pending_off += sent
            if conn.pending_off < conn.pending_len:
                break
            conn.pending_len = conn.pending_off = 0
        n = nghttp2_session_mem_send(conn.session, &data)
        if n < 0:
            return 0
        if n == 0:
            break
        sent = send(conn.fd, data, n, MSG_NOSIGNAL)
        if sent < 0:
            if errno != EAGAIN and errno != EINTR:
                return 0
            sent = 0
        if sent < n:
            free(conn.pending)
            conn.pending = <uint8_t *>malloc(n - sent)
            if conn.pending == NULL:
                return 0
            memcpy(conn.pending, data + sent, n - sent)
            conn.pending_len = n - sent
            conn.pending_off = 0
    cdef int blocked = conn.pending_len > conn.pending_off
    if blocked != conn.want_out:
        conn.want_out = blocked
        ev.events = (EPOLLIN | EPOLLOUT) if blocked else EPOLLIN
        ev.data.u64 = conn.slot
        epoll_ctl(srv.epfd, EPOLL_CTL_MOD, conn.fd, &ev)
    if blocked:
        return 1
    if conn.closing:
        return 0
    return nghttp2_session_want_read(conn.session) or nghttp2_session_want_write(conn.session)


cdef void run_loop(Server *srv) noexcept nogil:
    cdef epoll_event events[64]
    cdef int count
    cdef int i
    cdef int timeout = -1
    cdef uint64_t tag
    cdef uint64_t counter
    cdef uint32_t slot
    cdef Conn *conn
    while not srv.stopping:
        count = epoll_wait(srv.epfd, events, 64, timeout)
        for i in range(count if count > 0 else 0):
            tag = events[i].data.u64
            if tag == LISTEN_TAG:
                accept_all(srv)
            elif tag == WAKE_TAG:
                read(srv.wake_fd, &counter, 8)
            else:
                conn = srv.conns[tag]
                if conn == NULL:
                    continue
                if events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR):
                    if not read_conn(srv, conn):
                        close_conn(srv, conn)
                        continue
                if events[i].events & EPOLLOUT:
                    conn.dirty = 1
        drain_commands(srv)
        timeout = expire_deadlines(srv)
        for slot in range(srv.high_slot):
            conn = srv.conns[slot]
            if conn != NULL and conn.dirty:
                if not flush(srv, conn):
                    close_conn(srv, conn)
        if srv.cmd_head != NULL:
            # Python was told of calls that ended (a connection closed, a deadline passed) and
            # answered from this thread, which does not wake the loop: go round again now.
            timeout = 0
    for slot in range(srv.high_slot):
        if srv.conns[slot] != NULL:
            close_conn(srv, srv.conns[slot])
    srv.python_gone = 1


# ---- the Python object -----------------------------------------------------------------------

cdef class Front:
    """The transport on a listening socket: `run()` (in a thread of its own) serves it until
    `stop()`. `handler` gets the calls (see the module's docstring); `streaming_paths` are
    the methods whose request messages go to Python one by one ("/pkg.Service/Method")."""

    cdef Server *srv
    cdef readonly object handler

    def __cinit__(self, int listen_fd, object handler, streaming_paths, size_t max_message):
        self.srv = <Server *>calloc(1, sizeof(Server))
        if self.srv == NULL:
            raise MemoryError()
        cdef Server *srv = self.srv
        self.handler = handler
        srv.front = <void *>self
        srv.listen_fd = listen_fd
        srv.max_message = max_message
        srv.epfd = srv.wake_fd = -1
        pthread_mutex_init(&srv.lock, NULL)
        for path in streaming_paths:
            encoded = path.encode()
            if srv.n_stream_paths == MAX_STREAM_PATHS or len(encoded) >= PATH_MAX:
                raise ValueError(f"cannot stream {path}")
            memcpy(srv.stream_paths[srv.n_stream_paths], <char *>encoded, len(encoded) + 1)
            srv.n_stream_paths += 1
        srv.epfd = epoll_create1(EPOLL_CLOEXEC)
        srv.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
        if srv.epfd < 0 or srv.wake_fd < 0:
            raise OSError("cannot create the gRPC front end's epoll or eventfd")
        cdef epoll_event ev
        ev.events = EPOLLIN
        ev.data.u64 = LISTEN_TAG
        epoll_ctl(srv.epfd, EPOLL_CTL_ADD, listen_fd, &ev)
        ev.data.u64 = WAKE_TAG
        epoll_ctl(srv.epfd, EPOLL_CTL_ADD, srv.wake_fd, &ev)
        nghttp2_session_callbacks_new(&srv.callbacks)
        nghttp2_session_callbacks_set_on_begin_headers_callback(srv.callbacks, on_begin_headers)
        nghttp2_session_callbacks_set_on_header_callback(srv.callbacks, on_header)
        nghttp2_session_callbacks_set_on_frame_recv_callback(srv.callbacks, on_frame_recv)
        nghttp2_session_callbacks_set_on_frame_send_callback(srv.callbacks, on_frame_send)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(srv.callbacks, on_data_chunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(srv.callbacks, on_stream_close)
        nghttp2_option_new(&srv.option)

    def __dealloc__(self):
        cdef Server *srv = self.srv
        if srv == NULL:
            return
        srv.python_gone = 1
        cdef uint32_t slot
        for slot in range(srv.high_slot):
            if srv.conns[slot] != NULL:
                close_conn(srv, srv.conns[slot])
        cdef Cmd *cmd = srv.cmd_head
        cdef Cmd *next_cmd
        while cmd != NULL:
            next_cmd = cmd.next
            free_cmd(cmd)
            cmd = next_cmd
        if srv.callbacks != NULL:
            nghttp2_session_callbacks_del(srv.callbacks)
        if srv.option != NULL:
            nghttp2_option_del(srv.option)
        if srv.epfd >= 0:
            close(srv.epfd)
        if srv.wake_fd >= 0:
            close(srv.wake_fd)
        pthread_mutex_destroy(&srv.lock)
        free(srv)

    def run(self) -> None:
        """Serve until stop(); call in the front end's own thread."""
        self.srv.loop_thread = h2f_self()
        with nogil:
            run_loop(self.srv)

    def stop(self) -> None:
        self.srv.stopping = 1
        wake(self.srv)

    def send(self, uint64_t call_id, bytes message) -> None:
        """Queue one response message of a call (any thread)."""
        self._push_message(call_id, CMD_DATA, message)

    def finish(self, uint64_t call_id, int status, bytes grpc_message=None,
               bytes details=None) -> None:
        """End a call with its trailers, after the messages queued before (any thread).
        grpc_message is percent-encoded already and details base64-encoded."""
        cdef Cmd *cmd = new_cmd(call_id, CMD_FINISH)
        cmd.status = status
        try:
            cmd.grpc_message = dup_bytes(grpc_message)
            cmd.details = dup_bytes(details)
        except BaseException:
            free_cmd(cmd)
            raise
        push_cmd(self.srv, cmd)

    def reply(self, uint64_t call_id, bytes message) -> None:
        """A unary call's response and status OK, in one command (any thread)."""
        self._push_message(call_id, CMD_FINISH, message)

    cdef _push_message(self, uint64_t call_id, int kind, bytes message):
        """Queue a command of `kind` carrying one framed response message."""
        cdef Cmd *cmd = new_cmd(call_id, kind)
        try:
            cmd.chunk = framed_chunk(message)
        except BaseException:
            free_cmd(cmd)
            raise
        push_cmd(self.srv, cmd)

    def cancel(self, uint64_t call_id) -> None:
        """Reset a call (RST_STREAM CANCEL) (any thread)."""
        push_cmd(self.srv, new_cmd(call_id, CMD_CANCEL))

    def stats(self) -> dict:
        cdef Server *srv = self.srv
        return {"connections": srv.n_connections, "calls": srv.n_calls,
                "protocol_errors": srv.n_protocol_errors, "bad_requests": srv.n_bad_requests,
                "cancelled": srv.n_cancelled, "deadlines_exceeded": srv.n_deadlines,
                "dropped_messages": srv.n_dropped}
