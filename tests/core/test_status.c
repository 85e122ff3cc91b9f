/* Error messages behind xf_status (src/core/status.c): the message and code
 * xf_fail records, newlines folded to keep one line, truncation of an
 * overlong message, the prefix callers add, clearing, the status names, and
 * that each thread keeps its own message. */
#include <pthread.h>
#include <string.h>

#include "test.h"
#include "xfmr/status.h"

TEST(test_fail_records_one_line) {
    xf_clear_error();
    CHECK(strcmp(xf_last_error(), "") == 0);
    CHECK(xf_fail(XF_ERR_FORMAT, "%s: bad byte %d", "f.bin", 7) == XF_ERR_FORMAT);
    CHECK(strcmp(xf_last_error(), "f.bin: bad byte 7") == 0);
    CHECK(xf_fail(XF_ERR_IO, "a\nb\r\nc") == XF_ERR_IO);
    CHECK_MSG(strcmp(xf_last_error(), "a b  c") == 0, "got '%s'", xf_last_error());
    xf_clear_error();
    CHECK(xf_last_error()[0] == '\0');
}

TEST(test_fail_truncates) {
    static char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    xf_fail(XF_ERR_ARG, "%s", big);
    size_t n = strlen(xf_last_error());
    CHECK_MSG(n == 1023, "message of %zu bytes", n); /* a 1024-byte buffer, NUL included */
}

TEST(test_error_prefix) {
    xf_fail(XF_ERR_SHAPE, "rows %d != %d", 3, 4);
    xf_error_prefix("layer %d", 2);
    CHECK_MSG(strcmp(xf_last_error(), "layer 2: rows 3 != 4") == 0, "got '%s'", xf_last_error());
    /* a long message keeps the prefix and is cut at the end */
    static char big[2000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    xf_fail(XF_ERR_ARG, "%s", big);
    xf_error_prefix("ctx");
    CHECK(strncmp(xf_last_error(), "ctx: yyy", 8) == 0 && strlen(xf_last_error()) == 1023);
}

TEST(test_status_names) {
    static const char *want[] = {"ok", "argument", "out of memory", "io", "format", "shape", "unsupported"};
    CHECK(sizeof want / sizeof want[0] == XF_ERR_COUNT);
    for (int s = 0; s < XF_ERR_COUNT; s++) CHECK(strcmp(xf_status_name((xf_status)s), want[s]) == 0);
    CHECK(strcmp(xf_status_name(XF_ERR_COUNT), "unknown") == 0);
    CHECK(strcmp(xf_status_name((xf_status)-1), "unknown") == 0);
}

static void *other_thread(void *arg) {
    xf_fail(XF_ERR_IO, "from the other thread");
    *(int *)arg = strcmp(xf_last_error(), "from the other thread") == 0;
    return NULL;
}

TEST(test_message_per_thread) {
    xf_fail(XF_ERR_FORMAT, "from the main thread");
    int ok = 0;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, &ok) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(ok);
    CHECK(strcmp(xf_last_error(), "from the main thread") == 0);
}

int main(void) {
    RUN(test_fail_records_one_line);
    RUN(test_fail_truncates);
    RUN(test_error_prefix);
    RUN(test_status_names);
    RUN(test_message_per_thread);
    return test_summary();
}
