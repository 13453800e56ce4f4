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
// The transfer itself runs on the event loop (a uv_poll on our own duplicate of the descriptor,
// writable events), never on a libuv thread: a thousand slow clients would otherwise each hold one
// of the four. The duplicate keeps the socket's number ours until we close it, whatever uWS does
// with its own. All transfers together send at most the caller's budget in one turn of the loop
// (see TurnShare), so other requests get their turn however many downloads run.
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <v8.h>

#define ADDON_NAME "socket-send"
#include "napi-check.h"

/** How often a transfer looks at its stall clock. */
static const uint64_t STALL_CHECK_MS = 250;

typedef void *(*NativeHandleFn)(int ssl, void *socket);
static NativeHandleFn nativeHandle = nullptr;

static int64_t nowMs(uv_loop_t *loop) { return (int64_t)uv_now(loop); }

// Looks for us_socket_get_native_handle in each shared object loaded so far (Node loads addons with
// local symbols, so dlsym(RTLD_DEFAULT) cannot see it); the uWebSockets.js addon has it.
static int findNativeHandle(struct dl_phdr_info *object, size_t, void *) {
  if (!object->dlpi_name || !*object->dlpi_name) return 0;
  // RTLD_NOLOAD: only a handle to what is loaded already, never a second copy.
  void *library = dlopen(object->dlpi_name, RTLD_NOW | RTLD_NOLOAD);
  if (!library) return 0;
  nativeHandle = (NativeHandleFn)dlsym(library, "us_socket_get_native_handle");
  dlclose(library);
  return nativeHandle != nullptr;
}

// init(): whether uWebSockets.js is loaded and its us_socket_get_native_handle was found.
static napi_value Init(napi_env env, napi_callback_info) {
  if (!nativeHandle) dl_iterate_phdr(findNativeHandle, NULL);
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
  // A napi_value is a v8::Local<v8::Value> (Node's N-API passes it through unchanged).
  v8::Local<v8::Value> value;
  memcpy(static_cast<void *>(&value), &argv[0], sizeof argv[0]);
  if (nativeHandle && value->IsObject()) {
    v8::Local<v8::Object> object = value.As<v8::Object>();
    void *socket = object->InternalFieldCount() >= 1 ? object->GetAlignedPointerFromInternalField(0) : nullptr;
    if (socket) fd = (int)(intptr_t)nativeHandle(0, socket);
  }
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

struct Transfer {
  uv_poll_t poll;
  uv_timer_t timer;
  int openHandles;
  napi_env env;
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
  bool finishing;
  const char *error;
};

// The bytes all transfers on the service's loop have sent in the current turn. With the budget per
// transfer instead, one turn with 32 writable downloads sent up to 32 budgets before a resolve
// waiting behind them was read: under the bench's 32 ranged streams a resolve every 2 ms waited
// 35 ms at the median (68 at p99) where a process with nothing else to do waited 6.7 ms at p99.
// A transfer finding the turn's budget spent sends nothing; its socket is still writable, so the
// (level-triggered) poll calls it again in the next turn, after the requests that came meanwhile,
// and epoll hands back ready descriptors in turn, so every transfer gets its share.
struct TurnShare {
  uv_loop_t *loop;
  uv_prepare_t reset;
  int64_t spent;
};
static TurnShare turnShare = {NULL, {}, 0};

static void onTurn(uv_prepare_t *) { turnShare.spent = 0; }

// Whether transfers on `loop` share the turn's budget: the first loop to send is the service's.
static bool sharesTurn(uv_loop_t *loop) {
  if (turnShare.loop == NULL) {
    if (uv_prepare_init(loop, &turnShare.reset) != 0) return false;
    uv_prepare_start(&turnShare.reset, onTurn);
    // Only the transfers keep the loop alive, not this.
    uv_unref((uv_handle_t *)&turnShare.reset);
    turnShare.loop = loop;
  }
  return turnShare.loop == loop;
}

static void handleClosed(uv_handle_t *handle) {
  Transfer *t = (Transfer *)handle->data;
  if (--t->openHandles > 0) return;
  napi_env env = t->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value done, global, args[2];
    if (napi_get_reference_value(env, t->done, &done) == napi_ok && napi_get_global(env, &global) == napi_ok) {
      if (t->error) napi_create_string_utf8(env, t->error, NAPI_AUTO_LENGTH, &args[0]);
      else napi_get_null(env, &args[0]);
      napi_create_double(env, (double)t->bodySent, &args[1]);
      napi_make_callback(env, t->context, global, done, 2, args, NULL);
    }
    napi_close_handle_scope(env, scope);
  }
  napi_delete_reference(env, t->done);
  napi_async_destroy(env, t->context);
  free(t->head);
  free(t);
}

// Ends the transfer once: both descriptors closed now, the callback when libuv lets go of the handles.
static void finish(Transfer *t, const char *error) {
  if (t->finishing) return;
  t->finishing = true;
  t->error = error;
  uv_poll_stop(&t->poll);
  uv_timer_stop(&t->timer);
  close(t->socketFd);
  close(t->fileFd);
  uv_close((uv_handle_t *)&t->poll, handleClosed);
  uv_close((uv_handle_t *)&t->timer, handleClosed);
}

static const char *failure(int err) {
  if (err == EPIPE || err == ECONNRESET) return "the client closed the connection";
  return strerror(err);
}

// Sends what the socket takes now, within the budget: the head's rest first, then the body.
static void pump(Transfer *t) {
  bool shared = turnShare.loop == t->poll.loop;
  int64_t budget = shared ? t->budget - turnShare.spent : t->budget;
  while (t->headSent < t->headLength) {
    ssize_t n = send(t->socketFd, t->head + t->headSent, t->headLength - t->headSent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) finish(t, failure(errno));
      return;
    }
    t->headSent += (size_t)n;
    t->lastProgress = nowMs(t->poll.loop);
  }
  while (t->position < t->end && budget > 0) {
    off_t offset = (off_t)t->position;
    int64_t want = t->end - t->position;
    if (want > budget) want = budget;
    ssize_t n = sendfile(t->socketFd, t->fileFd, &offset, (size_t)want);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) finish(t, failure(errno));
      return;
    }
    if (n == 0) {
      finish(t, "the blob's file ended before the range did");
      return;
    }
    t->position += n;
    t->bodySent += n;
    budget -= n;
    if (shared) turnShare.spent += n;
    t->lastProgress = nowMs(t->poll.loop);
  }
  if (t->position >= t->end) finish(t, NULL);
}

static void onPoll(uv_poll_t *poll, int status, int events) {
  Transfer *t = (Transfer *)poll->data;
  if (t->finishing) return;
  if (status < 0) {
    finish(t, uv_strerror(status));
    return;
  }
  (void)events;
  pump(t);
}

static void onTimer(uv_timer_t *timer) {
  Transfer *t = (Transfer *)timer->data;
  if (!t->finishing && nowMs(timer->loop) - t->lastProgress >= t->stallMs) finish(t, "the client stopped reading");
}

static void releaseNothing(napi_env, void *, void *) {}

// send(socket fd (ours, from socketOf), file fd, offset, length, head, stallMs, budget, done(error, bodyBytes)):
// writes `head` and then `length` bytes of the file from `offset`, all transfers together at most `budget` bytes a turn of the loop; takes ownership of the socket fd
// and a duplicate of the file's. A peer that is gone shows as EPIPE or ECONNRESET at the next send,
// or, while the send buffer is full, as no progress for stallMs. Returns a handle for abort().
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
  uv_loop_t *loop = NULL;
  CHECK(napi_get_uv_event_loop(env, &loop));
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
  t->env = env;
  t->socketFd = socketFd;
  t->fileFd = file;
  t->head = headCopy;
  t->headLength = headLength;
  t->position = offset;
  t->end = offset + length;
  t->stallMs = stallMs;
  t->budget = budget > 0 ? budget : 1;
  t->lastProgress = nowMs(loop);
  sharesTurn(loop);
  napi_value name, handle;
  if (napi_create_reference(env, argv[7], 1, &t->done) != napi_ok ||
      napi_create_string_utf8(env, "modelgate.socketSend", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &t->context) != napi_ok ||
      napi_create_external(env, t, releaseNothing, NULL, &handle) != napi_ok || uv_poll_init(loop, &t->poll, socketFd) != 0) {
    close(socketFd);
    close(file);
    free(t->head);
    free(t);
    napi_throw_error(env, NULL, ADDON_NAME ": cannot start the transfer");
    return NULL;
  }
  uv_timer_init(loop, &t->timer);
  t->poll.data = t;
  t->timer.data = t;
  t->openHandles = 2;
  uv_timer_start(&t->timer, onTimer, STALL_CHECK_MS, STALL_CHECK_MS);
  pump(t);
  if (!t->finishing) uv_poll_start(&t->poll, UV_WRITABLE, onPoll);
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
  finish((Transfer *)data, "aborted");
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
