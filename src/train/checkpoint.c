/* Training checkpoints as one unit: the commit and the recovery described in
 * checkpoint.h (and docs/formats.md §6). */
#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/file.h"
#include "xfmr/safetensors.h"

xf_status ckpt_path(char *buf, size_t cap, const char *dir, const char *name, int next) {
    int n = snprintf(buf, cap, "%s/%s%s", dir, name, next ? XF_CKPT_NEXT : "");
    if (n < 0 || (size_t)n >= cap) return xf_fail(XF_ERR_ARG, "%s: directory name too long", dir);
    return XF_OK;
}

void ckpt_test_delay(void) {
    static long ms = -1;
    if (ms < 0) {
        const char *e = getenv("XFMR_TEST_SAVE_DELAY_MS");
        ms = e ? atol(e) : 0;
        if (ms < 0) ms = 0;
    }
    if (ms > 0) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

xf_status ckpt_commit(const char *dir) {
    char from[4096], to[4096];
    static const char *const names[] = {XF_CKPT_MODEL, XF_CKPT_STATE};
    for (int i = 0; i < 2; i++) {
        xf_status s = ckpt_path(from, sizeof from, dir, names[i], 1);
        if (!s) s = ckpt_path(to, sizeof to, dir, names[i], 0);
        if (!s) s = rename_durable(from, to);
        if (s) return s;
        ckpt_test_delay(); /* a kill here leaves model = N, state = N - k, state.next = N */
    }
    return XF_OK;
}

enum { ST_MISSING = -1, ST_UNSTAMPED = -2, ST_BAD = -3 };

/* The "step" stamp of DIR/NAME[.next]: >= 0, or one of the ST_ codes. */
static long long stamp(const char *dir, const char *name, int next, char *path, size_t cap) {
    if (ckpt_path(path, cap, dir, name, next)) return ST_BAD;
    if (access(path, F_OK) != 0) return errno == ENOENT ? ST_MISSING : ST_BAD;
    xf_st_file *f = NULL;
    if (xf_st_open(&f, path)) return ST_BAD;
    const char *v = xf_st_meta(f, "step");
    long long r = ST_UNSTAMPED;
    if (v) {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        r = (errno || end == v || *end || x < 0) ? ST_BAD : x;
    }
    xf_st_close(f);
    return r;
}

/* Remove leftovers of writes a kill interrupted: NAME.tmp.<pid> files of the
 * checkpoint's own names (xf_afile's temporaries). */
static void remove_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    static const char *const names[] = {XF_CKPT_MODEL XF_CKPT_NEXT ".tmp.", XF_CKPT_STATE XF_CKPT_NEXT ".tmp.",
                                        "config.json.tmp.", "tokenizer.json.tmp."};
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (strncmp(e->d_name, names[i], strlen(names[i])) == 0 &&
                (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path)
                unlink(path);
        }
    }
    closedir(d);
}

xf_status ckpt_recover(const char *dir, char *note, size_t cap) {
    char pm[4096], ps[4096], pmn[4096], psn[4096];
    if (note && cap) note[0] = '\0';
    long long m = stamp(dir, XF_CKPT_MODEL, 0, pm, sizeof pm), s = stamp(dir, XF_CKPT_STATE, 0, ps, sizeof ps);
    long long mn = stamp(dir, XF_CKPT_MODEL, 1, pmn, sizeof pmn), sn = stamp(dir, XF_CKPT_STATE, 1, psn, sizeof psn);
    xf_status st = XF_OK;
    if (sn >= 0 && (mn == sn || (mn == ST_MISSING && m == sn))) {
        /* both halves of step sn were complete: finish the commit */
        if (mn >= 0 && (st = rename_durable(pmn, pm))) return st;
        if ((st = rename_durable(psn, ps))) return st;
        if (note && cap)
            snprintf(note, cap, "%s: completed the interrupted save of step %lld", dir, sn);
        m = s = sn;
    } else if (mn != ST_MISSING || sn != ST_MISSING) {
        /* a save that never reached its commit: the current pair stands */
        if (mn != ST_MISSING) unlink(pmn);
        if (sn != ST_MISSING) unlink(psn);
        if (note && cap) snprintf(note, cap, "%s: discarded an incomplete save", dir);
    }
    remove_temporaries(dir);
    if (m == ST_BAD || s == ST_BAD)
        return xf_fail(XF_ERR_FORMAT, "%s: unreadable checkpoint (%s)", dir, m == ST_BAD ? pm : ps);
    if (m >= 0 && s >= 0 && m != s)
        return xf_fail(XF_ERR_FORMAT,
                       "%s: inconsistent checkpoint: %s is from step %lld but %s from step %lld; refusing it",
                       dir, XF_CKPT_MODEL, m, XF_CKPT_STATE, s);
    if ((m >= 0) != (s >= 0) && m != ST_MISSING && s != ST_MISSING)
        return xf_fail(XF_ERR_FORMAT, "%s: inconsistent checkpoint: only one of %s and %s carries a step",
                       dir, XF_CKPT_MODEL, XF_CKPT_STATE);
    return XF_OK;
}
