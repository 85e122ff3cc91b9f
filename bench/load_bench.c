/* Load-time benchmark (bench/load.sh): how long xf_model_open takes on a model
 * against reading the same bytes from the page cache.
 *
 * usage: load_bench SPEC FILE [reps]      (reps default 3; best of reps)
 * Prints one JSON line per measurement:
 *   {"bench":"load","what":"xfmr_open","s":..,"cpu_s":..,"mb":..}
 *   {"bench":"load","what":"read_fresh","s":..,"cpu_s":..,"mb":..}
 * read_fresh reads FILE with read(2) into a newly allocated buffer of its size,
 * which is what any load must at least do: the page-cache copy plus the first
 * touch of the destination. MB is 10^6 bytes of FILE. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xfmr/model.h"
#include "xfmr/status.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int read_fresh(const char *path, size_t len) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    char *buf = malloc(len ? len : 1);
    size_t got = 0;
    while (buf && got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    int ok = buf && got == len ? (unsigned char)buf[len / 2] : -1; /* keep the read */
    free(buf);
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: load_bench SPEC FILE [reps]\n");
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    struct stat st;
    if (stat(argv[2], &st) != 0 || reps < 1) {
        fprintf(stderr, "load_bench: cannot stat %s\n", argv[2]);
        return 2;
    }
    double mb = (double)st.st_size / 1e6;
    double best[2] = {1e30, 1e30}, bcpu[2] = {0, 0};
    for (int r = 0; r < reps; r++) {
        double t0 = now_s(), c0 = cpu_s();
        xf_model *m = NULL;
        if (xf_model_open(&m, argv[1])) {
            fprintf(stderr, "load_bench: %s\n", xf_last_error());
            return 1;
        }
        xf_model_free(m);
        double t = now_s() - t0, c = cpu_s() - c0;
        if (t < best[0]) best[0] = t, bcpu[0] = c;
        t0 = now_s(), c0 = cpu_s();
        if (read_fresh(argv[2], (size_t)st.st_size) < 0) {
            fprintf(stderr, "load_bench: cannot read %s\n", argv[2]);
            return 1;
        }
        t = now_s() - t0, c = cpu_s() - c0;
        if (t < best[1]) best[1] = t, bcpu[1] = c;
    }
    static const char *what[2] = {"xfmr_open", "read_fresh"};
    for (int i = 0; i < 2; i++)
        printf("{\"bench\":\"load\",\"what\":\"%s\",\"s\":%.4f,\"cpu_s\":%.4f,\"mb\":%.1f}\n", what[i], best[i],
               bcpu[i], mb);
    return 0;
}
