/* Thread-local error message behind xf_status (see include/xfmr/status.h). */
#include "xfmr/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define XF_MSG_CAP 1024

static _Thread_local char g_msg[XF_MSG_CAP];

const char *xf_last_error(void) { return g_msg; }

void xf_clear_error(void) { g_msg[0] = '\0'; }

const char *xf_status_name(xf_status s) {
    static const char *names[] = {"ok", "argument", "out of memory", "io", "format",
                                  "shape", "unsupported"};
    _Static_assert(sizeof(names) / sizeof(names[0]) == XF_ERR_COUNT, "status names out of step");
    return (s >= 0 && s < XF_ERR_COUNT) ? names[s] : "unknown";
}

xf_status xf_fail(xf_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    /* messages are one line: fold any newline a caller passed through */
    for (char *p = g_msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return s;
}

void xf_error_prefix(const char *fmt, ...) {
    char prefix[512], old[XF_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    size_t pl = strlen(prefix);
    if (pl > XF_MSG_CAP - 3) pl = XF_MSG_CAP - 3;
    memcpy(g_msg, prefix, pl);
    memcpy(g_msg + pl, ": ", 2);
    size_t room = XF_MSG_CAP - pl - 3, ol = strlen(old);
    if (ol > room) ol = room;
    memcpy(g_msg + pl + 2, old, ol);
    g_msg[pl + 2 + ol] = '\0';
}
