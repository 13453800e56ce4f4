// Serves a download's body from the blob's file with sendfile(2), straight into the client's
// socket, for the service (src/http/socket-send.ts). Every other way a uWS server can send bytes
// copies them from user memory into the socket (uWS has no sendfile): under 32 ranged streams
// that copy was most of the server's CPU, and nginx, which sends from the page cache, spent a
// third as much per byte.
//
// uWebSockets.js lends no descriptor, so socketOf() takes it from the response object: its first
// internal field is uWS's HttpResponse, which is the connection's us_socket_t, and uSockets'
// us_socket_get_native_handle() (exported by the uWS addon, found with dlsym) gives the socket's
// descriptor. That relies on how uWebSockets.js lays out a response, so every descriptor is checked
// before it is used: a stream socket whose local port is the server's and whose peer is the
// address uWS reports for the request; anything else and the caller serves the body the usual way.
//
// The transfers run on one thread of the addon's own (see Sender), on our own duplicates of the
// descriptors: the duplicate keeps the socket's number ours until we close it, whatever uWS does
// with its own. The event loop only hands a transfer over and calls back when it has ended.
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <node_api.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <v8.h>

#define ADDON_NAME "socket-send"
#include "napi-check.h"
#include "uws-symbols.h"

/** The sender thread's name (at most 15 bytes). */
#define SENDER_THREAD_NAME "modelgate-send"

/** How often a transfer looks at its stall clock. */
static const uint64_t STALL_CHECK_MS = 250;

typedef void *(*NativeHandleFn)(int ssl, void *socket);
static NativeHandleFn nativeHandle = nullptr;

// init(): whether uWebSockets.js is loaded and its us_socket_get_native_handle was found.
static napi_value Init(napi_env env, napi_callback_info) {
  if (!nativeHandle) nativeHandle = (NativeHandleFn)uwsSymbol("us_socket_get_native_handle");
  napi_value result;
  CHECK(napi_get_boolean(env, nativeHandle != nullptr, &result));
  return result;
}

static bool portOf(const struct sockaddr_storage *address, int *port) {
  if (address->ss_family == AF_INET) *port = ntohs(((const struct sockaddr_in *)address)->sin_port);
  else if (address->ss_family == AF_INET6) *port = ntohs(((const struct sockaddr_in6 *)address)->sin6_port);
  else return false;
  return true;
}

// Whether the peer of `address` is `expected` as uWS reports it: 4 bytes for IPv4, 16 for IPv6.
static bool peerIs(const struct sockaddr_storage *address, const uint8_t *expected, size_t expectedLength) {
  if (address->ss_family == AF_INET)
    return expectedLength == 4 && memcmp(&((const struct sockaddr_in *)address)->sin_addr, expected, 4) == 0;
  if (address->ss_family == AF_INET6)
    return expectedLength == 16 && memcmp(&((const struct sockaddr_in6 *)address)->sin6_addr, expected, 16) == 0;
  return false;
}

// socketOf(res, local port, peer address bytes): a duplicate of the response's socket descriptor
// (the caller closes it, or hands it to send), or -1 where it cannot be found or fails a check.
static napi_value SocketOf(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t localPort = 0;
  CHECK(napi_get_value_int32(env, argv[1], &localPort));
  void *peer = NULL;
  size_t peerLength = 0;
  CHECK(napi_get_arraybuffer_info(env, argv[2], &peer, &peerLength));
  int fd = -1;
  void *socket = nativeHandle ? uwsSocketOf(argv[0]) : nullptr;
  if (socket) fd = (int)(intptr_t)nativeHandle(0, socket);
  int copy = -1;
  struct stat status;
  int type = 0;
  socklen_t typeLength = sizeof type;
  struct sockaddr_storage local, remote;
  socklen_t localLength = sizeof local, remoteLength = sizeof remote;
  int port = -1;
  if (fd >= 0 && fstat(fd, &status) == 0 && S_ISSOCK(status.st_mode) &&
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &typeLength) == 0 && type == SOCK_STREAM &&
      getsockname(fd, (struct sockaddr *)&local, &localLength) == 0 && portOf(&local, &port) && port == localPort &&
      getpeername(fd, (struct sockaddr *)&remote, &remoteLength) == 0 && peerIs(&remote, (const uint8_t *)peer, peerLength))
    copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  napi_value result;
  CHECK(napi_create_int32(env, copy, &result));
  return result;
}

// One transfer: written by the sender thread while it is active, by the event loop before it is
// handed over and after it is handed back (the lists below move it between the two, under the lock).
struct Transfer {
  struct Sender *sender;
  napi_ref done;
  napi_async_context context;
  int socketFd;
  int fileFd;
  // The response head, malloc'd (no C++ library: the addon links only libc).
  char *head;
  size_t headLength;
  size_t headSent;
  int64_t position;
  int64_t end;
  int64_t bodySent;
  int64_t stallMs;
  int64_t budget;
  int64_t lastProgress;
  // Set by abort() on the event loop, read by the sender thread (__atomic builtins: no C++ library).
  int abortRequested;
  const char *error;
  // The list it is on: incoming or done (one at a time), or the sender thread's active list.
  Transfer *next;
  Transfer *previous;
};

// The sender thread of one Node environment (the service's main thread): its own epoll set of the
// transfers' sockets, woken by an eventfd for new transfers and aborts. The transfers run there,
// off the event loop, so the loop that answers resolves does none of a download's kernel work:
// under the bench's 32 ranged streams that loop used 17% of a core for sendfile, and a thread
// using more CPU than each of the 32 clients is the last to be woken on two shared cores (a
// resolve every 2 ms waited 20.9 ms at p99 against 12.7 for an idle app beside nginx, 2026-12-07).
// A single thread for all transfers: a thousand slow clients cost it nothing but epoll entries,
// where libuv's pool would give each a thread of four.
struct Sender {
  napi_env env;
  uv_async_t finished;
  pthread_t thread;
  int epollFd;
  int wakeFd;
  pthread_mutex_t lock;
  // Under the lock: handed to the thread, handed back, an abort or the end requested.
  Transfer *incoming;
  Transfer *done;
  bool abortsPending;
  bool stopping;
  // The thread's own.
  Transfer *active;
  int64_t lastStallCheck;
  // The event loop's own: transfers not yet handed back (the async handle keeps the loop alive while any are).
  int64_t inFlight;
};

static int64_t monotonicMs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void wake(Sender *s) {
  uint64_t one = 1;
  while (write(s->wakeFd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

static void freeTransfer(Transfer *t) {
  free(t->head);
  free(t);
}

// Thread: ends a transfer once: out of epoll, both descriptors closed, handed back to the loop.
static void finish(Transfer *t, const char *error) {
  Sender *s = t->sender;
  t->error = error;
  epoll_ctl(s->epollFd, EPOLL_CTL_DEL, t->socketFd, NULL);
  close(t->socketFd);
  close(t->fileFd);
  if (t->previous) t->previous->next = t->next;
  else s->active = t->next;
  if (t->next) t->next->previous = t->previous;
  pthread_mutex_lock(&s->lock);
  t->previous = NULL;
  t->next = s->done;
  s->done = t;
  pthread_mutex_unlock(&s->lock);
  uv_async_send(&s->finished);
}

static const char *failure(int err) {
  if (err == EPIPE || err == ECONNRESET) return "the client closed the connection";
  return strerror(err);
}

// TCP_CORK on the socket while the head and body go out (nginx's tcp_nopush): the kernel sends
// full segments only, and the head shares the first with the body. Under one curl download of
// 1 GiB, without it the sender thread spent 0.51 CPU-s per GB at 1.88-1.98 GB/s, with it 0.39 at
// 2.34-2.64 (nginx 0.39 at 2.33-2.72; six downloads each, Intel Xeon guest, 2026-12-07 23:25 UTC).
static void setCork(int fd, int on) { setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on); }

// Thread: sends what the socket takes now, up to the transfer's budget: the head's rest first,
// then the body. Returns whether the transfer goes on. The budget spreads the thread over the
// transfers: epoll reports every writable socket, and each sends at most this much a wake.
static bool pump(Transfer *t) {
  int64_t budget = t->budget;
  while (t->headSent < t->headLength) {
    ssize_t n = send(t->socketFd, t->head + t->headSent, t->headLength - t->headSent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        finish(t, failure(errno));
        return false;
      }
      return true;
    }
    t->headSent += (size_t)n;
    t->lastProgress = monotonicMs();
  }
  while (t->position < t->end && budget > 0) {
    off_t offset = (off_t)t->position;
    int64_t want = t->end - t->position;
    if (want > budget) want = budget;
    ssize_t n = sendfile(t->socketFd, t->fileFd, &offset, (size_t)want);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        finish(t, failure(errno));
        return false;
      }
      return true;
    }
    if (n == 0) {
      finish(t, "the blob's file ended before the range did");
      return false;
    }
    t->position += n;
    t->bodySent += n;
    budget -= n;
    t->lastProgress = monotonicMs();
  }
  if (t->position >= t->end) {
    // Out with the last partial segment now, not at close.
    setCork(t->socketFd, 0);
    finish(t, NULL);
    return false;
  }
  return true;
}

// Thread: takes on the transfers handed over (each sends what it can at once, then waits for its
// socket to be writable), ends those aborted, and says whether to stop.
static bool takeRequests(Sender *s) {
  pthread_mutex_lock(&s->lock);
  Transfer *incoming = s->incoming;
  s->incoming = NULL;
  bool aborts = s->abortsPending;
  s->abortsPending = false;
  bool stopping = s->stopping;
  pthread_mutex_unlock(&s->lock);
  if (stopping) {
    // Handed back unsent; the environment is going away, so no callback runs (see stopSender).
    pthread_mutex_lock(&s->lock);
    s->incoming = incoming;
    pthread_mutex_unlock(&s->lock);
    return false;
  }
  while (incoming) {
    Transfer *t = incoming;
    incoming = t->next;
    t->next = s->active;
    t->previous = NULL;
    if (s->active) s->active->previous = t;
    s->active = t;
    struct epoll_event event;
    event.events = EPOLLOUT;
    event.data.ptr = t;
    if (epoll_ctl(s->epollFd, EPOLL_CTL_ADD, t->socketFd, &event) != 0) {
      finish(t, strerror(errno));
      continue;
    }
    if (__atomic_load_n(&t->abortRequested, __ATOMIC_ACQUIRE)) finish(t, "aborted");
    else {
      setCork(t->socketFd, 1);
      pump(t);
    }
  }
  if (aborts) {
    for (Transfer *t = s->active, *next; t; t = next) {
      next = t->next;
      if (__atomic_load_n(&t->abortRequested, __ATOMIC_ACQUIRE)) finish(t, "aborted");
    }
  }
  return true;
}

// Thread: ends the transfers whose client took no byte for their stall time.
static void checkStalls(Sender *s) {
  int64_t now = monotonicMs();
  if (now - s->lastStallCheck < (int64_t)STALL_CHECK_MS) return;
  s->lastStallCheck = now;
  for (Transfer *t = s->active, *next; t; t = next) {
    next = t->next;
    if (now - t->lastProgress >= t->stallMs) finish(t, "the client stopped reading");
  }
}

static void *senderMain(void *data) {
  Sender *s = (Sender *)data;
  // Named, so that top -H and /proc/<pid>/task show the downloads' CPU apart from the event loop's.
  pthread_setname_np(pthread_self(), SENDER_THREAD_NAME);
  struct epoll_event events[64];
  for (;;) {
    int n = epoll_wait(s->epollFd, events, 64, (int)STALL_CHECK_MS);
    if (n < 0 && errno != EINTR) break;
    // Each writable transfer first: none of these was finished since epoll_wait returned, since
    // transfers end only in their own pump until the requests and stall checks below.
    bool woken = false;
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) {
        uint64_t count;
        while (read(s->wakeFd, &count, sizeof count) < 0 && errno == EINTR) {
        }
        woken = true;
        continue;
      }
      Transfer *t = (Transfer *)events[i].data.ptr;
      if (events[i].events & (EPOLLERR | EPOLLHUP) && !(events[i].events & EPOLLOUT)) {
        int err = 0;
        socklen_t length = sizeof err;
        getsockopt(t->socketFd, SOL_SOCKET, SO_ERROR, &err, &length);
        finish(t, err ? failure(err) : "the client closed the connection");
        continue;
      }
      pump(t);
    }
    if (woken && !takeRequests(s)) break;
    checkStalls(s);
  }
  return NULL;
}

// Event loop: calls back each transfer the thread handed back, then frees it.
static void onFinished(uv_async_t *handle) {
  Sender *s = (Sender *)handle->data;
  pthread_mutex_lock(&s->lock);
  Transfer *done = s->done;
  s->done = NULL;
  pthread_mutex_unlock(&s->lock);
  napi_env env = s->env;
  while (done) {
    Transfer *t = done;
    done = t->next;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) == napi_ok) {
      napi_value callback, global, args[2];
      if (napi_get_reference_value(env, t->done, &callback) == napi_ok && napi_get_global(env, &global) == napi_ok) {
        if (t->error) napi_create_string_utf8(env, t->error, NAPI_AUTO_LENGTH, &args[0]);
        else napi_get_null(env, &args[0]);
        napi_create_double(env, (double)t->bodySent, &args[1]);
        napi_make_callback(env, t->context, global, callback, 2, args, NULL);
      }
      napi_close_handle_scope(env, scope);
    }
    napi_delete_reference(env, t->done);
    napi_async_destroy(env, t->context);
    freeTransfer(t);
    if (--s->inFlight == 0) uv_unref((uv_handle_t *)&s->finished);
  }
}

static void senderClosed(uv_handle_t *handle) { free(handle->data); }

static void freeList(Transfer *t, bool open) {
  while (t) {
    Transfer *next = t->next;
    if (open) {
      close(t->socketFd);
      close(t->fileFd);
    }
    freeTransfer(t);
    t = next;
  }
}

// The environment is going away: the thread stops, and transfers still running are closed
// without their callbacks (there is no JavaScript left to call).
static void stopSender(void *data) {
  Sender *s = (Sender *)data;
  pthread_mutex_lock(&s->lock);
  s->stopping = true;
  pthread_mutex_unlock(&s->lock);
  wake(s);
  pthread_join(s->thread, NULL);
  freeList(s->active, true);
  freeList(s->incoming, true);
  freeList(s->done, false);
  close(s->epollFd);
  close(s->wakeFd);
  pthread_mutex_destroy(&s->lock);
  uv_close((uv_handle_t *)&s->finished, senderClosed);
}

// The environment's sender, started at its first transfer; NULL where it cannot be.
static Sender *senderOf(napi_env env) {
  void *existing = NULL;
  if (napi_get_instance_data(env, &existing) == napi_ok && existing) return (Sender *)existing;
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  Sender *s = (Sender *)calloc(1, sizeof(Sender));
  if (!s) return NULL;
  s->env = env;
  s->epollFd = epoll_create1(EPOLL_CLOEXEC);
  s->wakeFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event event;
  event.events = EPOLLIN;
  event.data.ptr = NULL;
  if (s->epollFd < 0 || s->wakeFd < 0 || epoll_ctl(s->epollFd, EPOLL_CTL_ADD, s->wakeFd, &event) != 0 ||
      uv_async_init(loop, &s->finished, onFinished) != 0) {
    if (s->epollFd >= 0) close(s->epollFd);
    if (s->wakeFd >= 0) close(s->wakeFd);
    free(s);
    return NULL;
  }
  s->finished.data = s;
  uv_unref((uv_handle_t *)&s->finished);
  pthread_mutex_init(&s->lock, NULL);
  s->lastStallCheck = monotonicMs();
  // The thread takes no signals: Node's handlers run on the event loop's thread.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  int started = pthread_create(&s->thread, NULL, senderMain, s);
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  if (started != 0) {
    close(s->epollFd);
    close(s->wakeFd);
    pthread_mutex_destroy(&s->lock);
    uv_close((uv_handle_t *)&s->finished, senderClosed);
    return NULL;
  }
  napi_set_instance_data(env, s, NULL, NULL);
  napi_add_env_cleanup_hook(env, stopSender, s);
  return s;
}

static void releaseNothing(napi_env, void *, void *) {}

// send(socket fd (ours, from socketOf), file fd, offset, length, head, stallMs, budget, done(error, bodyBytes)):
// writes `head` and then `length` bytes of the file from `offset` on the sender thread, each
// transfer at most `budget` bytes each time its socket is writable; takes ownership of the socket
// fd and a duplicate of the file's. A peer that is gone shows as EPIPE or ECONNRESET at the next
// send, or, while the send buffer is full, as no progress for stallMs. Returns a handle for abort().
static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t socketFd, fileFd;
  int64_t offset, length, stallMs, budget;
  CHECK(napi_get_value_int32(env, argv[0], &socketFd));
  CHECK(napi_get_value_int32(env, argv[1], &fileFd));
  CHECK(napi_get_value_int64(env, argv[2], &offset));
  CHECK(napi_get_value_int64(env, argv[3], &length));
  void *head = NULL;
  size_t headLength = 0;
  CHECK(napi_get_buffer_info(env, argv[4], &head, &headLength));
  CHECK(napi_get_value_int64(env, argv[5], &stallMs));
  CHECK(napi_get_value_int64(env, argv[6], &budget));
  Sender *s = senderOf(env);
  if (!s) {
    close(socketFd);
    napi_throw_error(env, NULL, ADDON_NAME ": cannot start the sender thread");
    return NULL;
  }
  int file = fcntl(fileFd, F_DUPFD_CLOEXEC, 0);
  if (file < 0) {
    close(socketFd);
    napi_throw_error(env, NULL, ADDON_NAME ": cannot duplicate the file's descriptor");
    return NULL;
  }
  Transfer *t = (Transfer *)calloc(1, sizeof(Transfer));
  char *headCopy = (char *)malloc(headLength > 0 ? headLength : 1);
  if (!t || !headCopy) {
    free(t);
    free(headCopy);
    close(socketFd);
    close(file);
    napi_throw_error(env, NULL, ADDON_NAME ": out of memory");
    return NULL;
  }
  memcpy(headCopy, head, headLength);
  t->sender = s;
  t->socketFd = socketFd;
  t->fileFd = file;
  t->head = headCopy;
  t->headLength = headLength;
  t->position = offset;
  t->end = offset + length;
  t->stallMs = stallMs;
  t->budget = budget > 0 ? budget : 1;
  t->lastProgress = monotonicMs();
  napi_value name, handle;
  if (napi_create_reference(env, argv[7], 1, &t->done) != napi_ok ||
      napi_create_string_utf8(env, "modelgate.socketSend", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &t->context) != napi_ok || napi_create_external(env, t, releaseNothing, NULL, &handle) != napi_ok) {
    close(socketFd);
    close(file);
    freeTransfer(t);
    napi_throw_error(env, NULL, ADDON_NAME ": cannot start the transfer");
    return NULL;
  }
  // Socket blocking modes are per open file, shared with uWS's descriptor: uWS keeps it non-blocking.
  if (s->inFlight++ == 0) uv_ref((uv_handle_t *)&s->finished);
  pthread_mutex_lock(&s->lock);
  t->next = s->incoming;
  s->incoming = t;
  pthread_mutex_unlock(&s->lock);
  wake(s);
  return handle;
}

// abort(handle): stops a transfer (the client went away); its callback still runs, once. Only
// before that callback: the transfer is freed right after it (src/http/socket-send.ts keeps to that).
static napi_value Abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data = NULL;
  CHECK(napi_get_value_external(env, argv[0], &data));
  Transfer *t = (Transfer *)data;
  Sender *s = t->sender;
  __atomic_store_n(&t->abortRequested, 1, __ATOMIC_RELEASE);
  pthread_mutex_lock(&s->lock);
  s->abortsPending = true;
  pthread_mutex_unlock(&s->lock);
  wake(s);
  return NULL;
}

static napi_value Initialize(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"init", NULL, Init, NULL, NULL, NULL, napi_default, NULL},
      {"socketOf", NULL, SocketOf, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, Send, NULL, NULL, NULL, napi_default, NULL},
      {"abort", NULL, Abort, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Initialize)
