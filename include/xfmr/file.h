/* xfmr: files, read and written safely. A whole-file read with a size cap, an
 * atomic whole-file write (a reader sees the old file or the new one, never a
 * part) and a read-only mapping. Every function returns an xf_status and, on
 * failure, leaves a one-line message naming the path and the problem
 * (xf_last_error()). POSIX only. */
#ifndef XFMR_FILE_H
#define XFMR_FILE_H

#include <stddef.h>

#include "xfmr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read the whole file `path` into a new malloc'd buffer.
 * On success *data holds *len bytes followed by one extra NUL byte (not counted
 * in *len), so text can be used as a C string; the caller frees *data.
 * Fails with XF_ERR_IO if the file cannot be opened or read (a directory, say),
 * XF_ERR_FORMAT if it holds more than max_bytes bytes, XF_ERR_OOM if the
 * buffer cannot be allocated. On failure *data is NULL and *len is 0. */
xf_status xf_file_read_all(const char *path, char **data, size_t *len, size_t max_bytes);

/* Atomically replace `path` with the n bytes at `data`: they go to the
 * temporary file "<path>.tmp.<pid>" in the same directory, which is flushed,
 * fsynced and renamed over <path>, then the directory is fsynced, so readers
 * see either the old file or the complete new one. Any failure (XF_ERR_IO
 * naming the step, XF_ERR_ARG on an empty path, XF_ERR_OOM) removes the
 * temporary file and leaves <path> untouched; if only the final directory
 * fsync fails the new file is already in place (the message says so). The new
 * file gets mode 0666 minus umask; a symlink at <path> is itself replaced. */
xf_status xf_file_write_atomic(const char *path, const void *data, size_t n);

/* Read-only private mapping of a whole file. An empty file is allowed and
 * gives ptr NULL, len 0. */
typedef struct {
    void *ptr;  /* first byte of the mapping, NULL when len is 0 */
    size_t len; /* file size in bytes when mapped */
} xf_mmap;

/* Map the regular file `path` into *m (ptr/len as above); release with
 * xf_mmap_close. Fails with XF_ERR_IO if the file cannot be opened, is not a
 * regular file, or cannot be mapped; then *m is {NULL, 0}. If another process
 * truncates the file while it is mapped, touching the lost pages raises
 * SIGBUS: map only files nobody rewrites in place (xfmr writes atomically). */
xf_status xf_mmap_open(xf_mmap *m, const char *path);

/* Unmap and reset *m to {NULL, 0}. Safe on a zeroed or already closed map and
 * on m == NULL. */
void xf_mmap_close(xf_mmap *m);

/* 1 if `path` names a directory (following symlinks), else 0. */
int xf_path_is_dir(const char *path);

#ifdef __cplusplus
}
#endif

#endif
