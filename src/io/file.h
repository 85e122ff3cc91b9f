/* Safe file helpers: whole-file reads with a size cap, atomic replacement of a
 * file (temp file + fsync + rename), directory helpers and read-only mmap.
 * The whole-file read and write and the mmap are public (include/xfmr/file.h);
 * the streaming atomic writer and the directory helpers are declared here.
 *
 * Every function returns an xf_status and, on failure, leaves a one-line
 * message naming the path and the problem (xf_last_error()). Nothing here
 * prints or exits. POSIX only. */
#ifndef XF_IO_FILE_H
#define XF_IO_FILE_H

#include <stddef.h>

#include "xfmr/file.h" /* xf_file_read_all, xf_file_write_atomic, xf_mmap */
#include "xfmr/status.h"

/* Atomic writer. Bytes go to the temporary file "<path>.tmp.<pid>" in the same
 * directory; afile_commit flushes it, fsyncs it, renames it over <path> and
 * fsyncs the directory, so readers see either the old file or the complete new
 * one. afile_abort, or any failure before the rename, removes the temporary
 * file and leaves <path> untouched. The new file gets mode 0666 minus umask;
 * if <path> is a symlink, the link itself is replaced, not its target. */
typedef struct xf_afile xf_afile;

/* Create the temporary file for `path` and return a writer in *out (the caller
 * ends it with afile_commit or afile_abort). Fails with XF_ERR_IO if the
 * temporary file cannot be created (directory missing or not writable, ...),
 * XF_ERR_ARG on an empty path, XF_ERR_OOM; then *out is NULL. */
xf_status afile_open(xf_afile **out, const char *path);

/* Append n bytes. Fails with XF_ERR_IO (disk full, file too large, ...); a
 * failure is sticky: later writes and the commit fail too, and the caller
 * should afile_abort. f stays owned by the caller either way. */
xf_status afile_write(xf_afile *f, const void *data, size_t n);

/* Overwrite n bytes at byte offset off of the bytes written so far (for a
 * header whose counts are known only at the end); off + n must not pass the
 * end. Failures are sticky as for afile_write. */
xf_status afile_write_at(xf_afile *f, size_t off, const void *data, size_t n);

/* Flush, fsync, close, rename over the target, fsync the directory. Frees f
 * whatever happens. Fails with XF_ERR_IO naming the step; a failure before the
 * rename removes the temporary file and leaves the target untouched. If only
 * the final directory fsync fails the new file is already in place (the
 * message says so). */
xf_status afile_commit(xf_afile *f);

/* Discard: close and remove the temporary file, free f. NULL-safe. */
void afile_abort(xf_afile *f);

/* rename(from, to), then fsync the directory of `to`, so the new name survives
 * a crash. Fails with XF_ERR_IO naming both paths. */
xf_status rename_durable(const char *from, const char *to);

/* Create directory `path` and any missing parents (mode 0777 minus umask).
 * An existing directory is fine. Fails with XF_ERR_IO naming the component
 * that could not be created (or that exists and is not a directory),
 * XF_ERR_ARG on an empty path, XF_ERR_OOM. */
xf_status mkdir_p(const char *path);

#endif
