/* ui_mhd.c: libmicrohttpd, loaded when `backprop ui` starts and by no
 * other command.
 *
 * Linked into the program, the library (and GnuTLS, p11-kit and the rest
 * it brings, with their initialisers) would be loaded at every start of
 * backprop: a cost that `backprop runs`, `query` and every trial of a
 * sweep would pay for a server they never start (scripts/bench/NOTES.md,
 * issue 17). So the program is built against its header only and opens
 * the library by its soname, read off it when the build is configured
 * (BP_MHD_SONAME), the way PLplot opens its drivers. ui_http.c calls it
 * through the table ui_mhd, whose types are the header's own. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "bp_err.h"
#include "ui_int.h"

#ifndef BP_MHD_SONAME
#error \
    "BP_MHD_SONAME and BP_MHD_PACKAGE (libmicrohttpd's soname, its Debian package) are set by CMakeLists.txt"
#endif

ui_mhd_api ui_mhd;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char why[256] = "not loaded"; /* what failed; "" once loaded */

#define LOOK_UP(field, symbol)                                             \
    if (!(*(void **)&ui_mhd.field = dlsym(lib, #symbol))) {                \
        snprintf(why, sizeof why, "%s has no %s", BP_MHD_SONAME, #symbol); \
        return;                                                            \
    }

/* Kept open to the end of the process: its threads may outlive a call. */
static void load(void) {
    void *lib = dlopen(BP_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *d = dlerror();
        snprintf(why, sizeof why, "%s", d ? d : BP_MHD_SONAME);
        return;
    }
    LOOK_UP(start_daemon, MHD_start_daemon)
    LOOK_UP(stop_daemon, MHD_stop_daemon)
    LOOK_UP(get_daemon_info, MHD_get_daemon_info)
    LOOK_UP(create_response_from_buffer, MHD_create_response_from_buffer)
    LOOK_UP(add_response_header, MHD_add_response_header)
    LOOK_UP(queue_response, MHD_queue_response)
    LOOK_UP(destroy_response, MHD_destroy_response)
    LOOK_UP(lookup_connection_value, MHD_lookup_connection_value)
    LOOK_UP(get_connection_values, MHD_get_connection_values)
    why[0] = '\0';
}

int ui_mhd_load(bp_err *e) {
    pthread_once(&once, load);
    if (why[0])
        return bp_err_set(e,
                          "cannot load the HTTP library libmicrohttpd (%s); Debian's"
                          " package " BP_MHD_PACKAGE " has it",
                          why);
    return 0;
}
