// Finds functions of uSockets (the C layer of uWebSockets.js) in the uWebSockets.js addon that is
// already loaded, for the addons that work on uWS's sockets (socket-send.cc, peer-address.cc).
// Node loads addons with local symbols, so dlsym(RTLD_DEFAULT) cannot see them: the loaded objects
// are searched for the one that has us_socket_get_native_handle, and its handle is kept. Also how
// those addons take uWS's objects apart: where they keep the socket.
#ifndef MODELGATE_UWS_SYMBOLS_H
#define MODELGATE_UWS_SYMBOLS_H

#include <dlfcn.h>
#include <link.h>
#include <node_api.h>
#include <string.h>
#include <v8.h>

static void *uwsLibrary = nullptr;

static int findUwsLibrary(struct dl_phdr_info *object, size_t, void *) {
  if (!object->dlpi_name || !*object->dlpi_name) return 0;
  // RTLD_NOLOAD: only a handle to what is loaded already, never a second copy.
  void *library = dlopen(object->dlpi_name, RTLD_NOW | RTLD_NOLOAD);
  if (!library) return 0;
  if (dlsym(library, "us_socket_get_native_handle")) {
    uwsLibrary = library;
    return 1;
  }
  dlclose(library);
  return 0;
}

/** A uSockets function of the loaded uWebSockets.js addon, or null (uWS not loaded, or no such function). */
static inline void *uwsSymbol(const char *name) {
  if (!uwsLibrary) dl_iterate_phdr(findUwsLibrary, NULL);
  return uwsLibrary ? dlsym(uwsLibrary, name) : nullptr;
}

/**
 * The us_socket_t of a uWS response object (its first internal field is uWS's HttpResponse, which is
 * the connection's socket), or null for anything else. A napi_value is a v8::Local<v8::Value>: Node's
 * N-API passes it through unchanged.
 */
static inline void *uwsSocketOf(napi_value response) {
  v8::Local<v8::Value> value;
  memcpy(static_cast<void *>(&value), &response, sizeof response);
  if (!value->IsObject()) return nullptr;
  v8::Local<v8::Object> object = value.As<v8::Object>();
  return object->InternalFieldCount() >= 1 ? object->GetAlignedPointerFromInternalField(0) : nullptr;
}

/** What a napi_value holds where it is a V8 External (uWS hands listen() one of its us_listen_socket_t), else null. */
static inline void *uwsExternal(napi_value external) {
  v8::Local<v8::Value> value;
  memcpy(static_cast<void *>(&value), &external, sizeof external);
  return value->IsExternal() ? value.As<v8::External>()->Value() : nullptr;
}

#endif
