/* Helpers shared by the io tests: a fresh temporary directory under /tmp
 * (g_dir), paths inside it, writing a file's bytes, and removing the tree. */
#ifndef XF_TEST_IO_UTIL_H
#define XF_TEST_IO_UTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"

static char g_dir[256];

/* Creates g_dir = /tmp/<prefix>-XXXXXX; 0 on success, else prints why and
 * returns 1 (main's exit status). */
static inline int io_tmpdir_create(const char *prefix) {
    snprintf(g_dir, sizeof g_dir, "/tmp/%s-XXXXXX", prefix);
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    return 0;
}

/* g_dir + "/" + name into a static rotating buffer (4 slots). */
static inline const char *tpath(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* The file at path now holds exactly data[0..n). */
static inline void put_bytes(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (fp == NULL) FAILF("cannot create %s: %s", path, strerror(errno));
    if (n && fwrite(data, 1, n, fp) != n) FAILF("cannot write %s", path);
    fclose(fp);
}

static inline int io_rm_entry(const char *path, const struct stat *sb, int flag,
                              struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* Removes g_dir and everything below it. */
static inline void io_tmpdir_remove(void) { nftw(g_dir, io_rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

#endif
