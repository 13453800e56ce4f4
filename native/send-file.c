// Sends a range of a local file into a plain TCP socket with sendfile(2), for `modelgate push`
// (src/client/file-send.ts): the kernel hands the file's page-cache pages to the socket, so the
// client neither reads the bytes into a buffer nor copies them again into the socket, which is
// what a read-and-write upload (and `curl -T`) pays per byte. The work runs on a libuv thread:
// the socket is non-blocking (libuv's), so a full send buffer is waited for with poll(), which
// would stall the event loop. A call works on its own duplicate of the socket's descriptor, so a
// socket that Node closes meanwhile cannot hand the number to another file under it; it stops at
// the next check of the caller's abort flag (at most CHECK_MS later).
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <time.h>
#include <unistd.h>

#define ADDON_NAME "send-file"
#include "napi-check.h"

/** How often a wait for room in the send buffer looks at the abort flag and the stall clock. */
#define CHECK_MS 100

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  // Holds the abort flag's buffer while a libuv thread reads it.
  napi_ref flagRef;
  volatile int32_t *abortFlag;
  int socketFd;
  int fileFd;
  int64_t offset;
  int64_t length;
  bool chunked;
  bool last;
  int64_t stallMs;
  int64_t sent;
  int err;
  const char *why;
} SendJob;

static int64_t nowMs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

// Waits until the socket can take more bytes. False, with job->err / job->why set, when the
// caller aborted, the peer went away, or nothing could be sent for stallMs.
static bool waitWritable(SendJob *job, int64_t *lastProgress) {
  for (;;) {
    if (__atomic_load_n(job->abortFlag, __ATOMIC_RELAXED)) {
      job->err = ECANCELED;
      job->why = "aborted";
      return false;
    }
    struct pollfd p = {job->socketFd, POLLOUT, 0};
    int ready = poll(&p, 1, CHECK_MS);
    if (ready > 0) {
      if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
        job->err = EPIPE;
        job->why = "the connection closed";
        return false;
      }
      return true;
    }
    if (ready < 0 && errno != EINTR) {
      job->err = errno;
      job->why = "poll";
      return false;
    }
    if (nowMs() - *lastProgress >= job->stallMs) {
      job->err = ETIMEDOUT;
      job->why = "stalled";
      return false;
    }
  }
}

// Writes a small buffer (a chunk's framing) whole.
static bool writeAll(SendJob *job, const char *bytes, size_t length, int64_t *lastProgress) {
  while (length > 0) {
    ssize_t n = write(job->socketFd, bytes, length);
    if (n > 0) {
      bytes += n;
      length -= (size_t)n;
      *lastProgress = nowMs();
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!waitWritable(job, lastProgress)) return false;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      job->err = errno;
      job->why = "write";
      return false;
    }
  }
  return true;
}

static void executeSend(napi_env env, void *data) {
  (void)env;
  SendJob *job = data;
  int64_t lastProgress = nowMs();
  if (job->chunked && job->length > 0) {
    char head[32];
    int n = snprintf(head, sizeof head, "%llx\r\n", (unsigned long long)job->length);
    if (!writeAll(job, head, (size_t)n, &lastProgress)) return;
  }
  off_t offset = (off_t)job->offset;
  while (job->sent < job->length) {
    int64_t left = job->length - job->sent;
    ssize_t n = sendfile(job->socketFd, job->fileFd, &offset, (size_t)(left > (1 << 30) ? (1 << 30) : left));
    if (n > 0) {
      job->sent += n;
      lastProgress = nowMs();
    } else if (n == 0) {
      job->err = ENODATA;
      job->why = "the file ended";
      return;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!waitWritable(job, &lastProgress)) return;
    } else if (errno != EINTR) {
      job->err = errno;
      job->why = "sendfile";
      return;
    }
  }
  if (job->chunked && job->length > 0 && !writeAll(job, "\r\n", 2, &lastProgress)) return;
  if (job->chunked && job->last) writeAll(job, "0\r\n\r\n", 5, &lastProgress);
}

static void completeSend(napi_env env, napi_status status, void *data) {
  SendJob *job = data;
  close(job->socketFd);
  if (status == napi_ok && !job->err) {
    napi_value sent;
    napi_create_int64(env, job->sent, &sent);
    napi_resolve_deferred(env, job->deferred, sent);
  } else {
    int err = job->err ? job->err : EIO;
    char message[160];
    snprintf(message, sizeof message, "%s: %s (after %lld of %lld bytes)", job->why ? job->why : "send", strerror(err),
             (long long)job->sent, (long long)job->length);
    napi_value text, code, error, sent;
    napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
    napi_create_string_utf8(env, err == ECANCELED ? "ECANCELED" : err == ETIMEDOUT ? "ETIMEDOUT" : err == ENODATA ? "ENODATA" : "ESEND",
                            NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, text, &error);
    napi_create_int64(env, job->sent, &sent);
    napi_set_named_property(env, error, "sent", sent);
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_reference(env, job->flagRef);
  napi_delete_async_work(env, job->work);
  free(job);
}

// send(socketFd, fileFd, offset, length, options): Promise<number>. options: { chunked, last,
// stallMs, abort } where abort is an Int32Array whose element 0 turns non-zero to stop. With
// `chunked` the range goes as one chunk of HTTP/1.1 chunked transfer coding, and `last` ends the
// body after it (a zero-length range with `last` only ends it). Resolves with the bytes sent
// from the file; rejects with code ECANCELED, ETIMEDOUT (nothing sent for stallMs), ENODATA (the
// file is shorter than the range) or ESEND, and the bytes sent before it in `sent`.
static napi_value sendRange(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t socketFd, fileFd;
  int64_t offset, length, stallMs;
  bool chunked = false, last = false;
  napi_value value, flag;
  if (argc < 5 || napi_get_value_int32(env, argv[0], &socketFd) != napi_ok || napi_get_value_int32(env, argv[1], &fileFd) != napi_ok ||
      napi_get_value_int64(env, argv[2], &offset) != napi_ok || napi_get_value_int64(env, argv[3], &length) != napi_ok ||
      napi_get_named_property(env, argv[4], "chunked", &value) != napi_ok || napi_get_value_bool(env, value, &chunked) != napi_ok ||
      napi_get_named_property(env, argv[4], "last", &value) != napi_ok || napi_get_value_bool(env, value, &last) != napi_ok ||
      napi_get_named_property(env, argv[4], "stallMs", &value) != napi_ok || napi_get_value_int64(env, value, &stallMs) != napi_ok ||
      napi_get_named_property(env, argv[4], "abort", &flag) != napi_ok) {
    napi_throw_type_error(env, NULL, "send-file: expected (socketFd, fileFd, offset, length, { chunked, last, stallMs, abort })");
    return NULL;
  }
  napi_typedarray_type type;
  size_t elements;
  void *flagData;
  if (napi_get_typedarray_info(env, flag, &type, &elements, &flagData, NULL, NULL) != napi_ok || type != napi_int32_array || elements < 1 ||
      socketFd < 0 || fileFd < 0 || offset < 0 || length < 0 || stallMs <= 0) {
    napi_throw_range_error(env, NULL, "send-file: bad descriptor, range, stall time or abort flag");
    return NULL;
  }
  int dupFd = dup(socketFd);
  if (dupFd < 0) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  SendJob *job = calloc(1, sizeof(SendJob));
  if (!job) {
    close(dupFd);
    napi_throw_error(env, NULL, "send-file: out of memory");
    return NULL;
  }
  job->abortFlag = flagData;
  job->socketFd = dupFd;
  job->fileFd = fileFd;
  job->offset = offset;
  job->length = length;
  job->chunked = chunked;
  job->last = last;
  job->stallMs = stallMs;
  napi_value promise, name;
  if (napi_create_reference(env, flag, 1, &job->flagRef) != napi_ok || napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "send-file", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, executeSend, completeSend, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    close(dupFd);
    free(job);
    napi_throw_error(env, NULL, "send-file: cannot queue the send");
    return NULL;
  }
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"send", NULL, sendRange, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, 1, props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
