/* Replays a fuzz harness without libFuzzer: every file under each directory
 * given (not recursive) goes through LLVMFuzzerTestOneInput once. A crash or a
 * sanitizer report ends the process (tests/run.sh counts that as a failure);
 * otherwise prints "PASS fuzz_replay_<harness>: N inputs".
 * usage: fuzz_<reader> DIR...   (missing directories are skipped) */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (n == cap) {
            uint8_t *g = realloc(buf, cap * 2);
            if (!g) break;
            buf = g;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    fclose(f);
    if (!buf) return -1;
    /* an exact-size copy, so reading one byte past the input is caught */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

int main(int argc, char **argv) {
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (strncmp(name, "fuzz_", 5) == 0) name += 5;
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (replay_file(path) == 0) count++;
        }
        closedir(d);
    }
    fuzz_cleanup();
    printf("PASS fuzz_replay_%s: %zu inputs\n", name, count);
    return 0;
}
