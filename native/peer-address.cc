// The peer address of a request without a system call, for fleet telemetry (src/http/peer-address.ts),
// which counts every resolve without a deployment header by the caller's address. uWebSockets.js
// reads that address with getpeername(2) each time and hands it back in a new ArrayBuffer: under
// wrk that read took a bare uWS app from 199,000 to 150,000 requests per CPU-second (2026-12-07),
// most of it the ArrayBuffer and the call into uWS, not the system call (0.16 µs here).
//
// The address is known when the connection is accepted: uSockets passes it to its context's
// on_open handler. watch() puts a handler of ours in front of uWS's on the listen socket's context
// (and one in front of on_close), which keeps each connection's address in a table indexed by the
// socket's descriptor, with the socket it belongs to. peerIpv4(res) takes the socket from the
// response (its first internal field is uWS's HttpResponse, which is the connection's us_socket_t)
// and looks it up: no system call, no allocation.
//
// Why a remembered address is never another connection's: every connection of a watched context
// comes from accept, which calls on_open with its socket and address before any request of it is
// read, and a descriptor belongs to one open connection at a time; an entry is used only when the
// socket matches too, and on_close forgets it. A socket that is no longer in the table (a watched
// context whose connections predate watch(), an entry forgotten) is read with getpeername.
//
// uSockets has no getter for a context's handlers, so watch() finds where it keeps them by setting
// one and seeing which word of the context changed (exactly one must, to our handler; else nothing
// is hooked and reads go through uWS). As a check on those assumptions, the first 64 hits
// and one in 1024 after are compared with getpeername; a disagreement turns remembering off for good.
#include <netinet/in.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <v8.h>

#define ADDON_NAME "peer-address"
#include "napi-check.h"
#include "uws-symbols.h"

struct us_socket_t;
typedef struct us_socket_t *(*OpenHandler)(struct us_socket_t *s, int isClient, char *ip, int ipLength);
typedef struct us_socket_t *(*CloseHandler)(struct us_socket_t *s, int code, void *reason);
typedef void *(*NativeHandleFn)(int ssl, void *socket);
typedef void *(*SocketContextFn)(int ssl, void *socket);
typedef void (*SetOpenFn)(int ssl, void *context, OpenHandler handler);
typedef void (*SetCloseFn)(int ssl, void *context, CloseHandler handler);

static NativeHandleFn nativeHandle = nullptr;
static SocketContextFn socketContext = nullptr;
static SetOpenFn setOnOpen = nullptr;
static SetCloseFn setOnClose = nullptr;

/** A context whose handlers are ours: uWS's, which ours call after. */
struct Watched {
  void *context;
  OpenHandler open;
  CloseHandler close;
  // Where in the context our on_open sits: a context freed and another allocated at its address
  // (an app that is gone) has uWS's there, and is watched afresh.
  int openWord;
};
static const int MAX_WATCHED = 8;
static Watched watched[MAX_WATCHED];
static int watchedCount = 0;
// The handlers run on the thread of uWS's loop; watch() is accepted from that thread only, the
// first to call it (the table has no lock).
static pthread_t loopThread;

/**
 * What accept said of the connection that has descriptor `fd`, while `socket` is open: its peer as
 * an IPv4 key (ipv4Key), worked out once at accept, or -1 (IPv6, or no address given).
 */
struct Peer {
  void *socket;
  double key;
};
static Peer *peers = nullptr;
static size_t peersSize = 0;

static bool remembering = true;
static uint64_t hits = 0, checks = 0, misses = 0;
static const uint64_t CHECK_FIRST = 64;
static const uint64_t CHECK_EVERY = 1024;

static Watched *watchedOf(void *context) {
  for (int i = 0; i < watchedCount; i++)
    if (watched[i].context == context) return &watched[i];
  return nullptr;
}

static int fdOf(void *socket) { return (int)(intptr_t)nativeHandle(0, socket); }

/** An IPv4 peer (also IPv4-mapped IPv6) as a.b.c.d = a·2^24 + b·2^16 + c·2^8 + d; else -1. */
static double ipv4Key(const uint8_t *bytes, int length) {
  static const uint8_t MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (length == 16 && memcmp(bytes, MAPPED, 12) == 0) bytes += 12;
  else if (length != 4) return -1;
  return (double)(((uint32_t)bytes[0] << 24) | ((uint32_t)bytes[1] << 16) | ((uint32_t)bytes[2] << 8) | bytes[3]);
}

static void remember(void *socket, const char *ip, int ipLength) {
  int fd = fdOf(socket);
  if (fd < 0) return;
  if ((size_t)fd >= peersSize) {
    size_t size = peersSize ? peersSize : 1024;
    while (size <= (size_t)fd) size *= 2;
    Peer *grown = (Peer *)realloc(peers, size * sizeof(Peer));
    if (!grown) return;  // not remembered: this connection's reads fall back to getpeername
    memset(grown + peersSize, 0, (size - peersSize) * sizeof(Peer));
    peers = grown;
    peersSize = size;
  }
  peers[fd].socket = socket;
  peers[fd].key = ip ? ipv4Key((const uint8_t *)ip, ipLength) : -1;
}

static struct us_socket_t *onOpen(struct us_socket_t *s, int isClient, char *ip, int ipLength) {
  Watched *w = watchedOf(socketContext(0, s));
  if (!isClient) remember(s, ip, ipLength);
  return w->open(s, isClient, ip, ipLength);
}

static struct us_socket_t *onClose(struct us_socket_t *s, int code, void *reason) {
  Watched *w = watchedOf(socketContext(0, s));
  // uSockets has closed the descriptor already; its number is still in the socket.
  int fd = fdOf(s);
  if (fd >= 0 && (size_t)fd < peersSize && peers[fd].socket == s) peers[fd].socket = nullptr;
  return w->close(s, code, reason);
}

// Sets `handler` with `set` and returns what it replaced: the one word of the context that changed,
// which must now be `handler`. Anything else (no word or several changed) is put back and null returned.
static void *replaceHandler(void *context, void (*set)(int, void *, void *), void *handler, int *word) {
  // A us_socket_context_t is a few dozen words; uWS allocates it with its own data after it.
  static const int WORDS = 32;
  void *before[WORDS], *after[WORDS];
  memcpy(before, context, sizeof before);
  set(0, context, handler);
  memcpy(after, context, sizeof after);
  int changed = -1, count = 0;
  for (int i = 0; i < WORDS; i++)
    if (before[i] != after[i]) {
      changed = i;
      count++;
    }
  if (count == 1 && after[changed] == handler && before[changed] != nullptr) {
    *word = changed;
    return before[changed];
  }
  for (int i = 0; i < WORDS; i++)
    if (before[i] != after[i]) ((void **)context)[i] = before[i];
  return nullptr;
}

// watch(listenSocket): puts our handlers in front of uWS's on the context of a plain-TCP listen
// socket (the object uWS's listen() hands its callback), before it accepts anything. True where
// the context is watched (now or already); false where it cannot be (uWS's functions not found,
// another thread, the handlers not found in the context).
static napi_value Watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool ok = false;
  if (!nativeHandle) {
    nativeHandle = (NativeHandleFn)uwsSymbol("us_socket_get_native_handle");
    socketContext = (SocketContextFn)uwsSymbol("us_socket_context");
    setOnOpen = (SetOpenFn)uwsSymbol("us_socket_context_on_open");
    setOnClose = (SetCloseFn)uwsSymbol("us_socket_context_on_close");
  }
  // uWS hands listen() a V8 External of the us_listen_socket_t (napi_get_value_external does not
  // read one N-API did not make: it crashed here).
  void *listenSocket = argc >= 1 ? uwsExternal(argv[0]) : nullptr;
  if (watchedCount == 0) loopThread = pthread_self();
  if (listenSocket && nativeHandle && socketContext && setOnOpen && setOnClose && pthread_equal(loopThread, pthread_self())) {
    // A listen socket starts with the us_socket_t of its descriptor, whose context is the app's.
    void *context = socketContext(0, listenSocket);
    Watched *known = context ? watchedOf(context) : nullptr;
    if (known && ((void **)context)[known->openWord] == (void *)onOpen) ok = true;
    else if (context && (known || watchedCount < MAX_WATCHED)) {
      Watched w = {context, nullptr, nullptr, -1};
      int closeWord = -1;
      w.open = (OpenHandler)replaceHandler(context, (void (*)(int, void *, void *))setOnOpen, (void *)onOpen, &w.openWord);
      w.close = w.open ? (CloseHandler)replaceHandler(context, (void (*)(int, void *, void *))setOnClose, (void *)onClose, &closeWord) : nullptr;
      if (w.open && w.close) {
        *(known ? known : &watched[watchedCount++]) = w;
        ok = true;
      } else if (w.open) {
        setOnOpen(0, context, w.open);  // on_close not found: put uWS's on_open back
      }
    }
  }
  napi_value result;
  CHECK(napi_get_boolean(env, ok, &result));
  return result;
}

/** What readPeer gives where the peer cannot be read (no descriptor, the connection gone). */
static const double UNREADABLE = -3;

/** The connection's peer read with getpeername: its IPv4 key, -1 for IPv6, or UNREADABLE. */
static double readPeer(int fd) {
  struct sockaddr_storage remote;
  socklen_t remoteLength = sizeof remote;
  if (fd < 0 || getpeername(fd, (struct sockaddr *)&remote, &remoteLength) != 0) return UNREADABLE;
  if (remote.ss_family == AF_INET) return ipv4Key((const uint8_t *)&((struct sockaddr_in *)&remote)->sin_addr, 4);
  if (remote.ss_family == AF_INET6) return ipv4Key((const uint8_t *)&((struct sockaddr_in6 *)&remote)->sin6_addr, 16);
  return UNREADABLE;
}

// peerIpv4(res): the peer of the response's connection as an IPv4 key (see ipv4Key), or -1 where it
// is IPv6 or cannot be had here (the caller reads it through uWS), or -2 once, on the read whose check
// found the remembered address wrong (remembering is off from then on; the caller reads through uWS).
static napi_value PeerIpv4(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double key = -1;
  void *socket = nativeHandle && argc >= 1 ? uwsSocketOf(argv[0]) : nullptr;
  if (socket) {
    int fd = fdOf(socket);
    bool onLoop = watchedCount > 0 && pthread_equal(loopThread, pthread_self());
    const Peer *p = (remembering && onLoop && fd >= 0 && (size_t)fd < peersSize && peers[fd].socket == socket) ? &peers[fd] : nullptr;
    if (p) {
      key = p->key;
      hits++;
      if (hits <= CHECK_FIRST || hits % CHECK_EVERY == 0) {
        checks++;
        double read = readPeer(fd);
        // An IPv6 peer (-1 both ways) agrees; one that is gone proves nothing either way.
        if (read != key && read != UNREADABLE) {
          remembering = false;
          key = -2;
        }
      }
    } else {
      misses++;
      key = readPeer(fd);
      if (key == UNREADABLE) key = -1;
    }
  }
  napi_value result;
  CHECK(napi_create_double(env, key, &result));
  return result;
}

// stats(): {watching, remembering, hits, checks, misses} for the tests and the start log.
static napi_value Stats(napi_env env, napi_callback_info) {
  napi_value result, v;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_get_boolean(env, watchedCount > 0, &v));
  CHECK(napi_set_named_property(env, result, "watching", v));
  CHECK(napi_get_boolean(env, remembering, &v));
  CHECK(napi_set_named_property(env, result, "remembering", v));
  CHECK(napi_create_double(env, (double)hits, &v));
  CHECK(napi_set_named_property(env, result, "hits", v));
  CHECK(napi_create_double(env, (double)checks, &v));
  CHECK(napi_set_named_property(env, result, "checks", v));
  CHECK(napi_create_double(env, (double)misses, &v));
  CHECK(napi_set_named_property(env, result, "misses", v));
  return result;
}

static napi_value Initialize(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"watch", NULL, Watch, NULL, NULL, NULL, napi_default, NULL},
      {"peerIpv4", NULL, PeerIpv4, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, Stats, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Initialize)
