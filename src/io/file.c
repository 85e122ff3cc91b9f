/* Safe file helpers (see file.h): capped whole-file reads, atomic writes
 * (temp file in the same directory, fflush + fsync + rename + directory fsync),
 * mkdir -p, and read-only mmap. POSIX calls; every failure names the path and
 * the failing step with strerror(errno). */
#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Opens path read-only (retrying on EINTR) and fstats it: on XF_OK *fd is
 * open and *st filled, the caller closes *fd; on failure nothing stays open. */
static xf_status open_read_stat(const char *path, int *fd, struct stat *st) {
    do {
        *fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (*fd < 0 && errno == EINTR);
    if (*fd < 0)
        return xf_fail(XF_ERR_IO, "%s: cannot open for reading: %s", path, strerror(errno));
    if (fstat(*fd, st) != 0) {
        int e = errno;
        close(*fd);
        return xf_fail(XF_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    return XF_OK;
}

xf_status xf_file_read_all(const char *path, char **data, size_t *len, size_t max_bytes) {
    *data = NULL;
    *len = 0;
    if (path == NULL || path[0] == '\0') return xf_fail(XF_ERR_ARG, "read: empty file path");

    int fd;
    struct stat st;
    xf_status s = open_read_stat(path, &fd, &st);
    if (s != XF_OK) return s;
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return xf_fail(XF_ERR_IO, "%s: is a directory, not a file", path);
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > (uintmax_t)max_bytes) {
        close(fd);
        return xf_fail(XF_ERR_FORMAT, "%s: file is %jd bytes, more than the limit of %zu", path,
                       (intmax_t)st.st_size, max_bytes);
    }

    /* Regular files: room for the whole file, the NUL and the read that sees
     * EOF. Pipes and the like (and files that grow while we read) start small
     * and double. Reading stops as soon as more than max_bytes arrived. */
    size_t cap = 4096;
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size < (uintmax_t)SIZE_MAX - 2)
        cap = (size_t)st.st_size + 2;
    char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return xf_fail(XF_ERR_OOM, "%s: cannot allocate %zu bytes to read the file", path, cap);
    }
    size_t used = 0;
    for (;;) {
        if (cap - used < 2) { /* keep one byte for the NUL, one to read into */
            if (cap > SIZE_MAX / 2) {
                free(buf);
                close(fd);
                return xf_fail(XF_ERR_OOM, "%s: file too large to read into memory", path);
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                close(fd);
                return xf_fail(XF_ERR_OOM, "%s: cannot allocate %zu bytes to read the file", path,
                               cap * 2);
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + used, cap - used - 1);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            close(fd);
            return xf_fail(XF_ERR_IO, "%s: read failed: %s", path, strerror(e));
        }
        if (r == 0) break;
        used += (size_t)r;
        if (used > max_bytes) {
            free(buf);
            close(fd);
            return xf_fail(XF_ERR_FORMAT, "%s: file holds more than the limit of %zu bytes", path,
                           max_bytes);
        }
    }
    close(fd);
    buf[used] = '\0';
    *data = buf;
    *len = used;
    return XF_OK;
}

/* ---- atomic writer ---------------------------------------------------- */

struct xf_afile {
    FILE *fp;   /* the temporary file, buffered */
    char *path; /* target path (owned copy) */
    char *tmp;  /* "<path>.tmp.<pid>" (owned) */
    int err;    /* errno of the first failed write; 0 while all is well */
};

static void afile_free(xf_afile *f) {
    free(f->path);
    free(f->tmp);
    free(f);
}

xf_status afile_open(xf_afile **out, const char *path) {
    *out = NULL;
    if (path == NULL || path[0] == '\0') return xf_fail(XF_ERR_ARG, "write: empty file path");
    size_t pl = strlen(path);
    xf_afile *f = calloc(1, sizeof *f);
    if (f == NULL) return xf_fail(XF_ERR_OOM, "%s: out of memory opening for writing", path);
    f->path = malloc(pl + 1);
    f->tmp = malloc(pl + 32); /* ".tmp." + up to 20 digits + NUL */
    if (f->path == NULL || f->tmp == NULL) {
        afile_free(f);
        return xf_fail(XF_ERR_OOM, "%s: out of memory opening for writing", path);
    }
    memcpy(f->path, path, pl + 1);
    snprintf(f->tmp, pl + 32, "%s.tmp.%ld", path, (long)getpid());

    /* O_NOFOLLOW: never write through a symlink planted at the temp name.
     * O_TRUNC: a stale temp file left by a crashed process with our pid is
     * simply overwritten. */
    int fd;
    do {
        fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        xf_status s = xf_fail(XF_ERR_IO, "%s: cannot create temporary file %s: %s", path, f->tmp,
                              strerror(e));
        afile_free(f);
        return s;
    }
    f->fp = fdopen(fd, "wb");
    if (f->fp == NULL) {
        int e = errno;
        close(fd);
        unlink(f->tmp);
        xf_status s = xf_fail(XF_ERR_IO, "%s: cannot open temporary file %s: %s", path, f->tmp,
                              strerror(e));
        afile_free(f);
        return s;
    }
    *out = f;
    return XF_OK;
}

xf_status afile_write(xf_afile *f, const void *data, size_t n) {
    if (f->err != 0)
        return xf_fail(XF_ERR_IO, "%s: an earlier write to %s failed: %s", f->path, f->tmp,
                       strerror(f->err));
    if (n == 0) return XF_OK;
    errno = 0;
    if (fwrite(data, 1, n, f->fp) != n) {
        f->err = errno != 0 ? errno : EIO;
        return xf_fail(XF_ERR_IO, "%s: write to temporary file %s failed: %s", f->path, f->tmp,
                       strerror(f->err));
    }
    return XF_OK;
}

/* Overwrite n bytes at offset off of what was written so far (a header whose
 * counts are known only at the end). The buffered bytes are flushed first. */
xf_status afile_write_at(xf_afile *f, size_t off, const void *data, size_t n) {
    if (f->err == 0 && fflush(f->fp) != 0) f->err = errno != 0 ? errno : EIO;
    if (f->err != 0)
        return xf_fail(XF_ERR_IO, "%s: an earlier write to %s failed: %s", f->path, f->tmp,
                       strerror(f->err));
    const char *p = data;
    while (n > 0) {
        ssize_t w = pwrite(fileno(f->fp), p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            f->err = w < 0 ? errno : EIO;
            return xf_fail(XF_ERR_IO, "%s: write to temporary file %s failed: %s", f->path, f->tmp,
                           strerror(f->err));
        }
        p += w;
        off += (size_t)w;
        n -= (size_t)w;
    }
    return XF_OK;
}

void afile_abort(xf_afile *f) {
    if (f == NULL) return;
    if (f->fp != NULL) fclose(f->fp);
    unlink(f->tmp);
    afile_free(f);
}

/* fsync the directory holding `path`, so the rename itself is durable.
 * Returns 0 or an errno value. Filesystems that cannot sync a directory
 * (EINVAL, ENOTSUP) count as success. */
static int sync_parent_dir(const char *path) {
    size_t pl = strlen(path);
    char *dir = malloc(pl + 2);
    if (dir == NULL) return ENOMEM;
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return errno;
    int rc = 0;
    if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) rc = errno;
    close(fd);
    return rc;
}

xf_status rename_durable(const char *from, const char *to) {
    if (rename(from, to) != 0) return xf_fail(XF_ERR_IO, "%s: cannot rename %s over it: %s", to, from, strerror(errno));
    int e = sync_parent_dir(to);
    if (e != 0) return xf_fail(XF_ERR_IO, "%s: renamed, but syncing its directory failed: %s", to, strerror(e));
    return XF_OK;
}

xf_status afile_commit(xf_afile *f) {
    xf_status s = XF_OK;
    if (f->err != 0) {
        s = xf_fail(XF_ERR_IO, "%s: not written: an earlier write to %s failed: %s", f->path,
                    f->tmp, strerror(f->err));
        afile_abort(f);
        return s;
    }
    if (fflush(f->fp) != 0) {
        s = xf_fail(XF_ERR_IO, "%s: flushing temporary file %s failed: %s", f->path, f->tmp,
                    strerror(errno));
        afile_abort(f);
        return s;
    }
    if (fsync(fileno(f->fp)) != 0) {
        s = xf_fail(XF_ERR_IO, "%s: fsync of temporary file %s failed: %s", f->path, f->tmp,
                    strerror(errno));
        afile_abort(f);
        return s;
    }
    FILE *fp = f->fp;
    f->fp = NULL;
    if (fclose(fp) != 0) {
        s = xf_fail(XF_ERR_IO, "%s: closing temporary file %s failed: %s", f->path, f->tmp,
                    strerror(errno));
        afile_abort(f);
        return s;
    }
    if (rename(f->tmp, f->path) != 0) {
        s = xf_fail(XF_ERR_IO, "%s: cannot rename temporary file %s over it: %s", f->path, f->tmp,
                    strerror(errno));
        afile_abort(f);
        return s;
    }
    int e = sync_parent_dir(f->path);
    if (e != 0)
        s = xf_fail(XF_ERR_IO, "%s: written, but syncing its directory failed: %s", f->path,
                    strerror(e));
    afile_free(f);
    return s;
}

xf_status xf_file_write_atomic(const char *path, const void *data, size_t n) {
    xf_afile *f;
    xf_status s = afile_open(&f, path);
    if (s != XF_OK) return s;
    s = afile_write(f, data, n);
    if (s != XF_OK) {
        afile_abort(f);
        return s;
    }
    return afile_commit(f);
}

/* ---- directories -------------------------------------------------------- */

int xf_path_is_dir(const char *path) {
    struct stat st;
    return path != NULL && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* mkdir one component; an existing directory (or symlink to one) is fine. */
static xf_status mkdir_one(const char *dir, const char *path) {
    if (mkdir(dir, 0777) == 0) return XF_OK;
    int e = errno;
    if (e == EEXIST) {
        if (xf_path_is_dir(dir)) return XF_OK;
        return xf_fail(XF_ERR_IO, "%s: cannot create directory: %s exists and is not a directory",
                       path, dir);
    }
    return xf_fail(XF_ERR_IO, "%s: cannot create directory %s: %s", path, dir, strerror(e));
}

xf_status mkdir_p(const char *path) {
    if (path == NULL || path[0] == '\0') return xf_fail(XF_ERR_ARG, "mkdir: empty directory path");
    size_t pl = strlen(path);
    char *buf = malloc(pl + 1);
    if (buf == NULL) return xf_fail(XF_ERR_OOM, "%s: out of memory creating directory", path);
    memcpy(buf, path, pl + 1);
    /* Create each prefix that ends just before a '/', skipping the root and
     * empty components ("a//b"), then the whole path. */
    for (size_t i = 1; i < pl; i++) {
        if (buf[i] != '/' || buf[i - 1] == '/') continue;
        buf[i] = '\0';
        xf_status s = mkdir_one(buf, path);
        buf[i] = '/';
        if (s != XF_OK) {
            free(buf);
            return s;
        }
    }
    xf_status s = mkdir_one(buf, path);
    free(buf);
    return s;
}

/* ---- mmap --------------------------------------------------------------- */

xf_status xf_mmap_open(xf_mmap *m, const char *path) {
    m->ptr = NULL;
    m->len = 0;
    if (path == NULL || path[0] == '\0') return xf_fail(XF_ERR_ARG, "mmap: empty file path");
    int fd;
    struct stat st;
    xf_status s = open_read_stat(path, &fd, &st);
    if (s != XF_OK) return s;
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return xf_fail(XF_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return XF_OK;
    }
    if ((uintmax_t)st.st_size > (uintmax_t)SIZE_MAX) {
        close(fd);
        return xf_fail(XF_ERR_IO, "%s: file of %jd bytes is too large to map", path,
                       (intmax_t)st.st_size);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return xf_fail(XF_ERR_IO, "%s: mmap failed: %s", path, strerror(e));
    m->ptr = p;
    m->len = (size_t)st.st_size;
    return XF_OK;
}

void xf_mmap_close(xf_mmap *m) {
    if (m == NULL) return;
    if (m->ptr != NULL) munmap(m->ptr, m->len);
    m->ptr = NULL;
    m->len = 0;
}
