// Maps ranges of an (immutable) blob file read-only, so a download hands the page cache's own pages
// to the socket instead of copying them into a buffer first (src/http/mapped-source.ts). Pages not
// in the page cache are read in on a libuv thread, so a cold cache does not block the event loop;
// empty() drops a mapping at once, so an aborted download holds nothing until a garbage collection.
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ADDON_NAME "mapped-range"
#include "napi-check.h"

typedef struct {
  void *addr;
  size_t length;
} Mapping;

static void unmap(Mapping *m) {
  if (m->addr) munmap(m->addr, m->length);
  m->addr = NULL;
}

// A slot's address space is owned by a wrap on its ArrayBuffer: freed when the garbage collector
// frees the slot (the external ArrayBuffer itself owns nothing).
static void finalizeWrap(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  unmap(data);
  free(data);
}

static void finalizeBuffer(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
}

// Slots: a fixed stretch of address space behind one long-lived ArrayBuffer, into which ranges of a
// file are mapped in turn (MAP_FIXED replaces whatever was there). Reusing the ArrayBuffer keeps the
// garbage collector out of it: a fresh external ArrayBuffer per mapped range counts as external
// memory and set off a major collection every few ranges (perf: a third of the server's CPU).
// An empty slot holds a private anonymous read-only mapping: it reads as zeros and holds no memory.
static void *blank(void *addr, size_t length) {
  return mmap(addr, length, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (addr ? MAP_FIXED : 0), -1, 0);
}

// createSlot(size): ArrayBuffer of `size` bytes (a multiple of the page size), empty.
static napi_value createSlot(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t size;
  CHECK(napi_get_value_int64(env, argv[0], &size));
  if (size <= 0 || size % sysconf(_SC_PAGESIZE) != 0) {
    napi_throw_range_error(env, NULL, "mapped-range: a slot's size must be a positive multiple of the page size");
    return NULL;
  }
  void *addr = blank(NULL, (size_t)size);
  if (addr == MAP_FAILED) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  Mapping *m = malloc(sizeof(Mapping));
  if (!m) {
    munmap(addr, (size_t)size);
    napi_throw_error(env, NULL, "mapped-range: out of memory");
    return NULL;
  }
  m->addr = addr;
  m->length = (size_t)size;
  napi_value result;
  if (napi_create_external_arraybuffer(env, addr, (size_t)size, finalizeBuffer, NULL, &result) != napi_ok ||
      napi_wrap(env, result, m, finalizeWrap, NULL, NULL) != napi_ok) {
    unmap(m);
    free(m);
    napi_throw_error(env, NULL, "mapped-range: cannot create the slot's ArrayBuffer");
    return NULL;
  }
  return result;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  // Holds the slot while a libuv thread maps into its address space.
  napi_ref slot;
  void *addr;
  int fd;
  int64_t offset;
  size_t length;
  int err;
} FillJob;

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

struct cachestatRange {
  uint64_t off;
  uint64_t len;
};
struct cachestatCounts {
  uint64_t nrCache, nrDirty, nrWriteback, nrEvicted, nrRecentlyEvicted;
};

// Whether every page of the file's range is in the page cache: cachestat (Linux 6.5+) counts them
// in one pass over the cache; before it, mincore on a mapping of the range asks page by page
// (which cost about as much as populating: measured with the bare mapped-file uWS app).
static int allCached(int fd, int64_t offset, size_t length) {
  long page = sysconf(_SC_PAGESIZE);
  size_t pages = (length + (size_t)page - 1) / (size_t)page;
  struct cachestatRange range = {(uint64_t)offset, (uint64_t)length};
  struct cachestatCounts counts;
  if (syscall(__NR_cachestat, fd, &range, &counts, 0) == 0) return counts.nrCache >= pages;
  void *probe = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, (off_t)offset);
  if (probe == MAP_FAILED) return 0;
  unsigned char *resident = malloc(pages);
  int cached = resident && mincore(probe, length, resident) == 0;
  for (size_t i = 0; cached && i < pages; i++) cached = resident[i] & 1;
  free(resident);
  munmap(probe, length);
  return cached;
}

// Maps the range without populating it when every page is in the page cache: the socket's copy
// then faults the pages in on the event loop, a few at a time (fault-around), which costs less CPU
// than MAP_POPULATE here. A bare uWS app serving 32 ranges from the mapping (uws-file-mapped.ts),
// A/B in 4 turns, server CPU-s/GB: MAP_POPULATE 0.24-0.38, this 0.23-0.30, never populating
// 0.24-0.28 (the same check with mincore instead of cachestat: 0.26-0.31). A range with a page not
// in the cache is populated here instead, so the disk read stalls this libuv thread, not the event
// loop (unless the page is evicted between the check and the send: then the send waits for it).
static void executeFill(napi_env env, void *data) {
  (void)env;
  FillJob *job = data;
  if (mmap(job->addr, job->length, PROT_READ, MAP_SHARED | MAP_FIXED, job->fd, (off_t)job->offset) == MAP_FAILED) {
    job->err = errno;
    blank(job->addr, job->length);
    return;
  }
  if (allCached(job->fd, job->offset, job->length)) return;
  if (madvise(job->addr, job->length, MADV_POPULATE_READ) == 0) return;
  // Kernels before 5.14: touch each page from this thread.
  long page = sysconf(_SC_PAGESIZE);
  volatile const unsigned char *bytes = job->addr;
  unsigned char sum = 0;
  for (size_t at = 0; at < job->length; at += (size_t)page) sum ^= bytes[at];
  (void)sum;
}

static void completeFill(napi_env env, napi_status status, void *data) {
  FillJob *job = data;
  if (status == napi_ok && !job->err) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, job->deferred, undefined);
  } else {
    napi_value message, error;
    napi_create_string_utf8(env, job->err ? strerror(job->err) : "cannot map the range", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_reference(env, job->slot);
  napi_delete_async_work(env, job->work);
  free(job);
}

// The arguments fill() and attach() take: (slot, fd, offset, length), with offset page-aligned and
// length within the slot; `length` comes back rounded up to whole pages. False, with a JavaScript
// exception pending, if they are not that.
typedef struct {
  napi_value slot;
  void *addr;
  size_t size;
  int32_t fd;
  int64_t offset;
  size_t length;
} SlotRange;

static bool slotRangeArgs(napi_env env, napi_callback_info info, SlotRange *r) {
  size_t argc = 4;
  napi_value argv[4];
  int64_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      napi_get_arraybuffer_info(env, argv[0], &r->addr, &r->size) != napi_ok ||
      napi_get_value_int32(env, argv[1], &r->fd) != napi_ok || napi_get_value_int64(env, argv[2], &r->offset) != napi_ok ||
      napi_get_value_int64(env, argv[3], &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "mapped-range: expected (slot, fd, offset, length)");
    return false;
  }
  long page = sysconf(_SC_PAGESIZE);
  if (!r->addr || r->offset < 0 || length <= 0 || (size_t)length > r->size || r->offset % page != 0) {
    napi_throw_range_error(env, NULL, "mapped-range: offset must be page-aligned and length within the slot");
    return false;
  }
  r->slot = argv[0];
  r->length = (size_t)((length + page - 1) / page * page);
  return true;
}

// fill(slot, fd, offset, length): Promise<void>; maps [offset, offset + length) of the file at the
// slot's start, on a libuv thread (executeFill). offset page-aligned, length at most the slot's size.
static napi_value fill(napi_env env, napi_callback_info info) {
  SlotRange r;
  if (!slotRangeArgs(env, info, &r)) return NULL;
  FillJob *job = calloc(1, sizeof(FillJob));
  if (!job) {
    napi_throw_error(env, NULL, "mapped-range: out of memory");
    return NULL;
  }
  job->addr = r.addr;
  job->fd = r.fd;
  job->offset = r.offset;
  job->length = r.length;
  napi_value promise, name;
  CHECK(napi_create_reference(env, r.slot, 1, &job->slot));
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  CHECK(napi_create_string_utf8(env, "mapped-range-fill", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, executeFill, completeFill, job, &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  return promise;
}

// Windows (src/http/mapped-source.ts): a large blob is served from a few long-lived mappings of
// it, shared by every download of the blob, instead of a mapping per chunk. Each page is then
// faulted in once per window, not once per chunk, and no chunk pays an mmap, a munmap and a TLB
// flush. attach() maps without populating (a whole window read in would stall the first chunk);
// each chunk asks cached() on the event loop, and only a chunk with a page missing goes to a libuv
// thread, populate(), so the disk read stalls that thread and not the event loop.

// attach(slot, fd, offset, length): maps [offset, offset + length) of the file at the slot's
// start, now, without reading anything in. offset page-aligned, length at most the slot's size.
static napi_value attach(napi_env env, napi_callback_info info) {
  SlotRange r;
  if (!slotRangeArgs(env, info, &r)) return NULL;
  if (mmap(r.addr, r.length, PROT_READ, MAP_SHARED | MAP_FIXED, r.fd, (off_t)r.offset) == MAP_FAILED) {
    int err = errno;
    blank(r.addr, r.size);
    napi_throw_error(env, NULL, strerror(err));
  }
  return NULL;
}

// cached(fd, offset, length): whether every page of the file's range is in the page cache, by
// cachestat (one pass over the cache, cheap enough for the event loop); false where the kernel
// has no cachestat (before 6.5), so the caller populates on a libuv thread as before.
static napi_value cached(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  int64_t offset, length;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int64(env, argv[1], &offset));
  CHECK(napi_get_value_int64(env, argv[2], &length));
  long page = sysconf(_SC_PAGESIZE);
  int64_t first = offset / page * page;
  uint64_t pages = (uint64_t)((offset + length - first + page - 1) / page);
  struct cachestatRange range = {(uint64_t)first, pages * (uint64_t)page};
  struct cachestatCounts counts;
  bool all = length > 0 && syscall(__NR_cachestat, fd, &range, &counts, 0) == 0 && counts.nrCache >= pages;
  napi_value result;
  CHECK(napi_get_boolean(env, all, &result));
  return result;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref slot;
  void *addr;
  size_t length;
} PopulateJob;

static void executePopulate(napi_env env, void *data) {
  (void)env;
  PopulateJob *job = data;
  if (madvise(job->addr, job->length, MADV_POPULATE_READ) == 0) return;
  long page = sysconf(_SC_PAGESIZE);
  volatile const unsigned char *bytes = job->addr;
  unsigned char sum = 0;
  for (size_t at = 0; at < job->length; at += (size_t)page) sum ^= bytes[at];
  (void)sum;
}

static void completePopulate(napi_env env, napi_status status, void *data) {
  PopulateJob *job = data;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  (void)status;
  napi_resolve_deferred(env, job->deferred, undefined);
  napi_delete_reference(env, job->slot);
  napi_delete_async_work(env, job->work);
  free(job);
}

// populate(slot, offset, length): Promise<void>; reads the pages of the slot's [offset, offset +
// length) in from the file its window holds, on a libuv thread.
static napi_value populate(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *addr;
  size_t size;
  CHECK(napi_get_arraybuffer_info(env, argv[0], &addr, &size));
  int64_t offset, length;
  CHECK(napi_get_value_int64(env, argv[1], &offset));
  CHECK(napi_get_value_int64(env, argv[2], &length));
  long page = sysconf(_SC_PAGESIZE);
  if (!addr || offset < 0 || length <= 0 || (size_t)(offset + length) > size) {
    napi_throw_range_error(env, NULL, "mapped-range: the range to populate must be within the slot");
    return NULL;
  }
  int64_t first = offset / page * page;
  PopulateJob *job = calloc(1, sizeof(PopulateJob));
  if (!job) {
    napi_throw_error(env, NULL, "mapped-range: out of memory");
    return NULL;
  }
  job->addr = (char *)addr + first;
  job->length = (size_t)((offset + length - first + page - 1) / page * page);
  if ((size_t)first + job->length > size) job->length = size - (size_t)first;
  napi_value promise, name;
  CHECK(napi_create_reference(env, argv[0], 1, &job->slot));
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  CHECK(napi_create_string_utf8(env, "mapped-range-populate", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, executePopulate, completePopulate, job, &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  return promise;
}

// empty(slot): drops whatever file range the slot holds, at once.
static napi_value empty(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *addr;
  size_t size;
  CHECK(napi_get_arraybuffer_info(env, argv[0], &addr, &size));
  if (addr && blank(addr, size) == MAP_FAILED) napi_throw_error(env, NULL, strerror(errno));
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"createSlot", NULL, createSlot, NULL, NULL, NULL, napi_default, NULL},
      {"fill", NULL, fill, NULL, NULL, NULL, napi_default, NULL},
      {"empty", NULL, empty, NULL, NULL, NULL, napi_default, NULL},
      {"attach", NULL, attach, NULL, NULL, NULL, napi_default, NULL},
      {"cached", NULL, cached, NULL, NULL, NULL, napi_default, NULL},
      {"populate", NULL, populate, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, 6, props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
