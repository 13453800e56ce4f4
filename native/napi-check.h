// The check the addons put every N-API call of a JavaScript-facing function through: where the call
// fails, a JavaScript error naming the addon (ADDON_NAME, defined before this is included) and the
// call is thrown, and the function returns NULL.
#ifndef MODELGATE_NAPI_CHECK_H
#define MODELGATE_NAPI_CHECK_H

#define CHECK(call)                                                      \
  do {                                                                   \
    if ((call) != napi_ok) {                                             \
      napi_throw_error(env, NULL, ADDON_NAME ": " #call " failed");      \
      return NULL;                                                       \
    }                                                                    \
  } while (0)

#endif
