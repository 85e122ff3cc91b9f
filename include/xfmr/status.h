/* xfmr: status codes and the error message kept for the caller.
 *
 * Library functions return xf_status. On failure they leave a one-line,
 * human-readable message in a thread-local buffer, read with xf_last_error().
 * Only the CLI prints or exits. */
#ifndef XFMR_STATUS_H
#define XFMR_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    XF_OK = 0,
    XF_ERR_ARG,         /* invalid argument or flag value */
    XF_ERR_OOM,         /* allocation failed or size overflowed */
    XF_ERR_IO,          /* open/read/write/rename failed */
    XF_ERR_FORMAT,      /* a file's contents are malformed */
    XF_ERR_SHAPE,       /* shapes or configs disagree */
    XF_ERR_UNSUPPORTED, /* valid but not implemented here */
    XF_ERR_COUNT
} xf_status;

/* The message of the last failure on this thread ("" if none). */
const char *xf_last_error(void);

/* Name of a status code, e.g. "format". */
const char *xf_status_name(xf_status s);

/* Record a printf-style message and return `s`. Used by library code:
 *   return xf_fail(XF_ERR_FORMAT, "%s: header length %zu past end of file", path, n); */
xf_status xf_fail(xf_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefix the current message with "prefix: " (for context added by callers). */
void xf_error_prefix(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

void xf_clear_error(void);

#ifdef __cplusplus
}
#endif

#endif
