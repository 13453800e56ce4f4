// Finds functions of uSockets (the C layer of uWebSockets.js) in the uWebSockets.js addon that is
// already loaded, for the addons that work on uWS's sockets (socket-send.cc, peer-address.cc).
// Node loads addons with local symbols, so dlsym(RTLD_DEFAULT) cannot see them: the loaded objects
// are searched for the one that has us_socket_get_native_handle, and its handle is kept.
#ifndef MODELGATE_UWS_SYMBOLS_H
#define MODELGATE_UWS_SYMBOLS_H

#include <dlfcn.h>
#include <link.h>

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
static void *uwsSymbol(const char *name) {
  if (!uwsLibrary) dl_iterate_phdr(findUwsLibrary, NULL);
  return uwsLibrary ? dlsym(uwsLibrary, name) : nullptr;
}

#endif
