/* Shared helpers for the libFuzzer harnesses tests/fuzz/fuzz_<reader>.c.
 *
 * Each harness defines LLVMFuzzerTestOneInput(data, size) and feeds the bytes
 * to one reader of outside files; anything the reader accepts is then used
 * (encoded with, read from, written back) so that a half-validated structure
 * shows up as a sanitizer report. A harness never prints and never fails on a
 * refused input: refusing is the reader's job. The same file is built twice:
 * with clang's -fsanitize=fuzzer for `make fuzz`, and with tests/fuzz/replay.c
 * for `make test`, which runs it over tests/fuzz/corpus/<reader>/ and
 * tests/fuzz/regress/<reader>/ (every crash the fuzzer found, kept). */
#ifndef XF_TESTS_FUZZ_H
#define XF_TESTS_FUZZ_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A per-process scratch directory (in /dev/shm when there is one), made once. */
static inline const char *fuzz_dir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        snprintf(dir, sizeof dir, "%s/xfmr-fuzz-%ld", base, (long)getpid());
        mkdir(dir, 0700);
    }
    return dir;
}

/* Path of scratch file `name`, written with the n bytes at p. Returns NULL if
 * the write fails (then the input is skipped). */
static inline const char *fuzz_file(const char *name, const void *p, size_t n) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    if (fclose(f) != 0 || w != n) return NULL;
    return path;
}

/* Remove the scratch directory and the files in it (one level, as made here). */
static inline void fuzz_cleanup(void) {
    const char *dir = fuzz_dir();
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* A malloc'd NUL-terminated copy of the input (for readers of C strings). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) return NULL;
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
