/* Tests for src/io/file.c: capped whole-file reads, the atomic writer (commit,
 * abort, unwritable directory, write failure, rename failure: the original
 * stays byte-for-byte intact and no temp file is left), mkdir -p and mmap.
 * Everything happens in a fresh directory under /tmp, removed at the end. */
#include "test.h"
#include "io_util.h"

#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/file.h"
#include "xfmr/status.h"

/* 1 if the file at path holds exactly data[0..n). */
static int file_equals(const char *path, const char *data, size_t n) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return 0;
    char buf[4096];
    size_t got = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    return got == n && memcmp(buf, data, n) == 0;
}

/* Number of entries in dir whose name contains `needle`. */
static int count_entries(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    int c = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, needle)) c++;
    closedir(d);
    return c;
}

TEST(test_read_all) {
    const char *p = tpath("read.txt");
    put_bytes(p, "hello\nworld", 11);
    char *data;
    size_t len;
    CHECK_OK(xf_file_read_all(p, &data, &len, 1000));
    CHECK(len == 11);
    CHECK(memcmp(data, "hello\nworld", 11) == 0);
    CHECK(data[11] == '\0');
    free(data);

    CHECK_OK(xf_file_read_all(p, &data, &len, 11)); /* exactly at the cap */
    free(data);

    CHECK(xf_file_read_all(p, &data, &len, 10) == XF_ERR_FORMAT);
    CHECK(data == NULL && len == 0);
    CHECK(strstr(xf_last_error(), p) != NULL);

    const char *e = tpath("empty.txt");
    put_bytes(e, "", 0);
    CHECK_OK(xf_file_read_all(e, &data, &len, 0));
    CHECK(len == 0 && data != NULL && data[0] == '\0');
    free(data);
}

TEST(test_read_all_errors) {
    char *data;
    size_t len;
    const char *missing = tpath("does-not-exist");
    CHECK(xf_file_read_all(missing, &data, &len, 100) == XF_ERR_IO);
    CHECK(data == NULL);
    CHECK(strstr(xf_last_error(), missing) != NULL);
    CHECK(xf_file_read_all(g_dir, &data, &len, 100) == XF_ERR_IO);
    CHECK(strstr(xf_last_error(), g_dir) != NULL);
    CHECK(strstr(xf_last_error(), "directory") != NULL);
}

TEST(test_atomic_write_commit) {
    const char *p = tpath("atomic.bin");
    put_bytes(p, "old contents", 12);
    CHECK_OK(xf_file_write_atomic(p, "new", 3));
    CHECK(file_equals(p, "new", 3));
    CHECK(count_entries(g_dir, ".tmp.") == 0);

    xf_afile *f;
    CHECK_OK(afile_open(&f, p));
    CHECK_OK(afile_write(f, "ab", 2));
    CHECK_OK(afile_write(f, "", 0));
    CHECK_OK(afile_write(f, "cd", 2));
    CHECK(file_equals(p, "new", 3)); /* nothing visible before commit */
    CHECK_OK(afile_commit(f));
    CHECK(file_equals(p, "abcd", 4));
    CHECK(count_entries(g_dir, ".tmp.") == 0);

    const char *fresh = tpath("fresh.bin"); /* target need not exist */
    CHECK_OK(xf_file_write_atomic(fresh, "x", 1));
    CHECK(file_equals(fresh, "x", 1));
}

TEST(test_atomic_abort_keeps_original) {
    const char *p = tpath("abort.bin");
    put_bytes(p, "original", 8);
    xf_afile *f;
    CHECK_OK(afile_open(&f, p));
    CHECK_OK(afile_write(f, "replacement that never lands", 28));
    CHECK(count_entries(g_dir, ".tmp.") == 1);
    afile_abort(f);
    CHECK(file_equals(p, "original", 8));
    CHECK(count_entries(g_dir, ".tmp.") == 0);
    afile_abort(NULL);
}

/* The target's directory is read-only: the write fails naming the file, the
 * original is untouched and no temp file appears. Root ignores directory
 * permissions, so as root the attempt runs in a child that drops to uid
 * 65534 (nobody). */
TEST(test_atomic_unwritable_dir) {
    const char *sub = tpath("ro");
    CHECK(mkdir(sub, 0755) == 0);
    char target[600];
    snprintf(target, sizeof target, "%s/model.bin", sub);
    put_bytes(target, "precious", 8);
    CHECK(chmod(sub, 0555) == 0);
    CHECK(chmod(g_dir, 0755) == 0);

    if (geteuid() != 0) {
        xf_status s = xf_file_write_atomic(target, "clobber", 7);
        CHECK(s == XF_ERR_IO);
        CHECK(strstr(xf_last_error(), target) != NULL);
    } else {
        fflush(stdout);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
            xf_status s = xf_file_write_atomic(target, "clobber", 7);
            if (s != XF_ERR_IO) _exit(1);
            if (strstr(xf_last_error(), target) == NULL) _exit(2);
            _exit(0);
        }
        int wst = 0;
        CHECK(waitpid(pid, &wst, 0) == pid);
        CHECK_MSG(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "child status %d", wst);
    }
    CHECK(file_equals(target, "precious", 8));
    CHECK(count_entries(sub, ".tmp.") == 0);
    CHECK(chmod(sub, 0755) == 0);
}

/* A write error (file size limit reached: EFBIG) makes the commit fail; the
 * original survives and the temp file is removed. */
TEST(test_atomic_write_error) {
    const char *p = tpath("fsize.bin");
    put_bytes(p, "keep me", 7);
    struct rlimit old;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = old;
    lim.rlim_cur = 4096;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);

    static char big[65536];
    memset(big, 'z', sizeof big);
    xf_afile *f;
    xf_status so = afile_open(&f, p), sw = XF_OK, sc = XF_OK;
    if (so == XF_OK) {
        sw = afile_write(f, big, sizeof big);
        sc = afile_commit(f); /* fails too: sticky error or flush failure */
    }
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);

    CHECK_OK(so);
    CHECK(sw == XF_ERR_IO || sc == XF_ERR_IO);
    CHECK(sc == XF_ERR_IO);
    CHECK(strstr(xf_last_error(), p) != NULL);
    CHECK(file_equals(p, "keep me", 7));
    CHECK(count_entries(g_dir, ".tmp.") == 0);
}

/* rename onto a non-empty directory fails: the directory is untouched and the
 * temp file is removed. */
TEST(test_atomic_rename_error) {
    const char *d = tpath("is-a-dir");
    CHECK(mkdir(d, 0755) == 0);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/keep", d);
    put_bytes(inner, "k", 1);
    xf_status s = xf_file_write_atomic(d, "data", 4);
    CHECK(s == XF_ERR_IO);
    CHECK(strstr(xf_last_error(), d) != NULL);
    CHECK(xf_path_is_dir(d));
    CHECK(file_equals(inner, "k", 1));
    CHECK(count_entries(g_dir, ".tmp.") == 0);

    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/file", g_dir);
    CHECK(xf_file_write_atomic(nodir, "x", 1) == XF_ERR_IO);
    CHECK(strstr(xf_last_error(), nodir) != NULL);
    xf_afile *f = (xf_afile *)1;
    CHECK(afile_open(&f, nodir) == XF_ERR_IO);
    CHECK(f == NULL);
}

TEST(test_mkdir_p) {
    char p[600];
    snprintf(p, sizeof p, "%s/a/b//c/", g_dir);
    CHECK_OK(mkdir_p(p));
    CHECK(xf_path_is_dir(p));
    CHECK_OK(mkdir_p(p)); /* existing is fine */
    CHECK(xf_path_is_dir(tpath("a/b")));

    const char *file = tpath("plain");
    put_bytes(file, "f", 1);
    CHECK(!xf_path_is_dir(file));
    CHECK(!xf_path_is_dir(tpath("missing")));
    snprintf(p, sizeof p, "%s/sub", file);
    CHECK(mkdir_p(p) == XF_ERR_IO);
    CHECK(strstr(xf_last_error(), p) != NULL);
    CHECK(mkdir_p(file) == XF_ERR_IO);
    CHECK(strstr(xf_last_error(), "not a directory") != NULL);
    CHECK(mkdir_p("") == XF_ERR_ARG);
}

TEST(test_mmap) {
    const char *p = tpath("map.bin");
    put_bytes(p, "0123456789", 10);
    xf_mmap m;
    CHECK_OK(xf_mmap_open(&m, p));
    CHECK(m.len == 10 && m.ptr != NULL);
    CHECK(memcmp(m.ptr, "0123456789", 10) == 0);
    xf_mmap_close(&m);
    CHECK(m.ptr == NULL && m.len == 0);
    xf_mmap_close(&m);
    xf_mmap_close(NULL);

    const char *e = tpath("map-empty.bin");
    put_bytes(e, "", 0);
    CHECK_OK(xf_mmap_open(&m, e));
    CHECK(m.ptr == NULL && m.len == 0);
    xf_mmap_close(&m);

    CHECK(xf_mmap_open(&m, tpath("nope")) == XF_ERR_IO);
    CHECK(strstr(xf_last_error(), "nope") != NULL);
    CHECK(m.ptr == NULL && m.len == 0);
    CHECK(xf_mmap_open(&m, g_dir) == XF_ERR_IO);
    CHECK(strstr(xf_last_error(), "not a regular file") != NULL);
}

static int unlock_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)ftw;
    if (flag == FTW_D && (sb->st_mode & 0700) != 0700) chmod(path, 0700);
    return 0;
}

int main(void) {
    if (io_tmpdir_create("xfmr-test-file") != 0) return 1;
    RUN(test_read_all);
    RUN(test_read_all_errors);
    RUN(test_atomic_write_commit);
    RUN(test_atomic_abort_keeps_original);
    RUN(test_atomic_unwritable_dir);
    RUN(test_atomic_write_error);
    RUN(test_atomic_rename_error);
    RUN(test_mkdir_p);
    RUN(test_mmap);
    nftw(g_dir, unlock_entry, 16, FTW_PHYS);
    io_tmpdir_remove();
    return test_summary();
}
