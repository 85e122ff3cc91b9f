/* Open MPI behind dist.h: joining the world, deterministic collectives and the
 * hang watchdog (docs/scale-out.md §Collectives, §Failure). */
#include "dist/dist.h"

#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct {
    int on;          /* joined a world (launched by mpirun) */
    int rank, size;
    float *part;     /* [size * (XF_DIST_BUCKET/size + 1)] contributions to this rank's part */
    int *sc, *sd, *rc, *rd; /* [size] MPI counts and displacements */
    double timeout_s;
    pthread_t dog;
    int dog_on;
    void (*on_hang)(const char *);
} g = {.rank = 0, .size = 1};

/* the collective in progress (NULL: none) and when it began, for the watchdog */
static _Atomic(const char *) g_op;
static _Atomic long long g_since_ms;
static atomic_int g_stop;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void enter(const char *op) {
    atomic_store(&g_since_ms, now_ms());
    atomic_store(&g_op, op);
}
static void leave(void) { atomic_store(&g_op, NULL); }

/* Wakes twice a second; a collective older than the timeout ends the job. */
static void *watchdog(void *arg) {
    (void)arg;
    struct timespec nap = {0, 500 * 1000000L};
    while (!atomic_load(&g_stop)) {
        nanosleep(&nap, NULL);
        const char *op = atomic_load(&g_op);
        if (!op) continue;
        double waited = (double)(now_ms() - atomic_load(&g_since_ms)) / 1e3;
        if (waited < g.timeout_s) continue;
        char msg[256];
        snprintf(msg, sizeof msg,
                 "rank %d of %d: %s has waited %.0f s for the other ranks (XFMR_DIST_TIMEOUT %.0f s): a rank died "
                 "or hangs; aborting the job (restart with --resume from the last checkpoint)",
                 g.rank, g.size, op, waited, g.timeout_s);
        if (g.on_hang) g.on_hang(msg);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    return NULL;
}

static xf_status mpi_fail(int rc, const char *what) {
    char err[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, err, &len) != MPI_SUCCESS) snprintf(err, sizeof err, "error %d", rc);
    return xf_fail(XF_ERR_IO, "rank %d of %d: %s failed: %s", g.rank, g.size, what, err);
}

xf_status xf_dist_init(void) {
    if (g.on) return XF_OK;
    const char *ws = getenv("OMPI_COMM_WORLD_SIZE");
    if (!ws || atoi(ws) <= 1) return XF_OK; /* alone: MPI is never touched */
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return xf_fail(XF_ERR_IO, "MPI_Init failed (launched by mpirun with %s ranks)", ws);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.size);
    size_t P = (size_t)g.size;
    g.part = malloc(P * (XF_DIST_BUCKET / P + 1) * sizeof(float));
    g.sc = malloc(4 * P * sizeof(int));
    if (!g.part || !g.sc) return xf_fail(XF_ERR_OOM, "rank %d: out of memory for the allreduce buffers", g.rank);
    g.sd = g.sc + P;
    g.rc = g.sd + P;
    g.rd = g.rc + P;
    const char *t = getenv("XFMR_DIST_TIMEOUT");
    g.timeout_s = t && atof(t) > 0 ? atof(t) : 300.0;
    g.on = 1;
    if (g.size > 1 && pthread_create(&g.dog, NULL, watchdog, NULL) == 0) g.dog_on = 1;
    return XF_OK;
}

int xf_dist_rank(void) { return g.rank; }
int xf_dist_size(void) { return g.size; }
void xf_dist_on_hang(void (*fn)(const char *msg)) { g.on_hang = fn; }

void dist_range(size_t n, int r, int size, size_t *lo, size_t *hi) {
    /* n*r/size without overflowing n*r */
    size_t q = n / (size_t)size, rem = n % (size_t)size;
    *lo = q * (size_t)r + rem * (size_t)r / (size_t)size;
    *hi = q * (size_t)(r + 1) + rem * (size_t)(r + 1) / (size_t)size;
}

/* One bucket (n <= XF_DIST_BUCKET): all-to-all of the parts, the sum in rank
 * order in double, all-gather of the summed parts. */
static xf_status reduce_bucket(float *x, size_t n) {
    int P = g.size;
    size_t lo, hi;
    for (int r = 0; r < P; r++) {
        dist_range(n, r, P, &lo, &hi);
        g.sc[r] = (int)(hi - lo);
        g.sd[r] = (int)lo;
    }
    dist_range(n, g.rank, P, &lo, &hi);
    int mine = (int)(hi - lo);
    for (int r = 0; r < P; r++) {
        g.rc[r] = mine;
        g.rd[r] = r * mine;
    }
    int rc = MPI_Alltoallv(x, g.sc, g.sd, MPI_FLOAT, g.part, g.rc, g.rd, MPI_FLOAT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "allreduce (all-to-all)");
    for (int i = 0; i < mine; i++) {
        double s = 0;
        for (int r = 0; r < P; r++) s += g.part[(size_t)r * (size_t)mine + (size_t)i];
        x[lo + (size_t)i] = (float)s;
    }
    rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, x, g.sc, g.sd, MPI_FLOAT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "allreduce (all-gather)");
    return XF_OK;
}

xf_status dist_allreduce_sum(float *x, size_t n) {
    if (g.size <= 1) return XF_OK;
    enter("allreduce");
    xf_status s = XF_OK;
    for (size_t off = 0; off < n && !s; off += XF_DIST_BUCKET)
        s = reduce_bucket(x + off, n - off < XF_DIST_BUCKET ? n - off : XF_DIST_BUCKET);
    leave();
    return s;
}

xf_status dist_allreduce_sum_f64(double *x, size_t n) {
    if (g.size <= 1 || n == 0) return XF_OK;
    if (n > (size_t)1 << 20) return xf_fail(XF_ERR_ARG, "allreduce of %zu doubles: at most 2^20", n);
    double *all = malloc(n * (size_t)g.size * sizeof(double));
    if (!all) return xf_fail(XF_ERR_OOM, "rank %d: out of memory for an allreduce", g.rank);
    enter("allreduce");
    int rc = MPI_Allgather(x, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, MPI_COMM_WORLD);
    leave();
    if (rc == MPI_SUCCESS)
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (int r = 0; r < g.size; r++) s += all[(size_t)r * n + i];
            x[i] = s;
        }
    free(all);
    return rc == MPI_SUCCESS ? XF_OK : mpi_fail(rc, "allreduce");
}

xf_status dist_allgather_i32(const int32_t *mine, int32_t *all, size_t n) {
    if (g.size <= 1) {
        memcpy(all, mine, n * sizeof(int32_t));
        return XF_OK;
    }
    if (n > INT32_MAX) return xf_fail(XF_ERR_ARG, "all-gather of %zu ints: too many", n);
    enter("all-gather");
    int rc = MPI_Allgather(mine, (int)n, MPI_INT32_T, all, (int)n, MPI_INT32_T, MPI_COMM_WORLD);
    leave();
    return rc == MPI_SUCCESS ? XF_OK : mpi_fail(rc, "all-gather");
}

/* Every rank's range of x (dist_range) moved in pieces that fit an int:
 * to every rank (broadcast from its owner), or only to rank 0 (sent from
 * `mine`, rank r's range, to rank 0's x). */
static xf_status move_ranges(float *x, size_t n, const float *mine, int to_all) {
    if (g.size <= 1) return XF_OK;
    const size_t piece = (size_t)1 << 28;
    enter(to_all ? "all-gather" : "gather");
    int rc = MPI_SUCCESS;
    for (int r = to_all ? 0 : 1; r < g.size && rc == MPI_SUCCESS; r++) {
        size_t lo, hi;
        dist_range(n, r, g.size, &lo, &hi);
        for (size_t off = lo; off < hi && rc == MPI_SUCCESS; off += piece) {
            int c = (int)(hi - off < piece ? hi - off : piece);
            if (to_all) rc = MPI_Bcast(x + off, c, MPI_FLOAT, r, MPI_COMM_WORLD);
            else if (g.rank == 0) rc = MPI_Recv(x + off, c, MPI_FLOAT, r, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            else if (g.rank == r) rc = MPI_Send(mine + (off - lo), c, MPI_FLOAT, 0, 7, MPI_COMM_WORLD);
        }
    }
    leave();
    return rc == MPI_SUCCESS ? XF_OK : mpi_fail(rc, to_all ? "all-gather" : "gather");
}

xf_status dist_allgather(float *x, size_t n) { return move_ranges(x, n, NULL, 1); }
xf_status dist_gather0(float *x, size_t n, const float *mine) { return move_ranges(x, n, mine, 0); }

xf_status dist_alltoallv(const void *send, const size_t *scount, void *recv, const size_t *rcount, size_t elem) {
    if (g.size <= 1) {
        if (scount[0] != rcount[0]) return xf_fail(XF_ERR_ARG, "all-to-all: %zu items sent, %zu expected", scount[0], rcount[0]);
        if (scount[0]) memcpy(recv, send, scount[0] * elem);
        return XF_OK;
    }
    size_t so = 0, ro = 0;
    for (int r = 0; r < g.size; r++) {
        size_t sb = scount[r] * elem, rb = rcount[r] * elem;
        if (sb > INT32_MAX || rb > INT32_MAX || so + sb > INT32_MAX || ro + rb > INT32_MAX)
            return xf_fail(XF_ERR_ARG, "all-to-all: more than 2 GiB in one exchange");
        g.sc[r] = (int)sb;
        g.sd[r] = (int)so;
        g.rc[r] = (int)rb;
        g.rd[r] = (int)ro;
        so += sb;
        ro += rb;
    }
    enter("all-to-all");
    int rc = MPI_Alltoallv(send, g.sc, g.sd, MPI_BYTE, recv, g.rc, g.rd, MPI_BYTE, MPI_COMM_WORLD);
    leave();
    return rc == MPI_SUCCESS ? XF_OK : mpi_fail(rc, "all-to-all");
}

xf_status dist_barrier(void) {
    if (g.size <= 1) return XF_OK;
    enter("barrier");
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    leave();
    return rc == MPI_SUCCESS ? XF_OK : mpi_fail(rc, "barrier");
}

void xf_dist_abort(int code) {
    if (g.on) MPI_Abort(MPI_COMM_WORLD, code);
}

void xf_dist_finalize(void) {
    if (!g.on) return;
    if (g.dog_on) {
        atomic_store(&g_stop, 1);
        pthread_join(g.dog, NULL);
        g.dog_on = 0;
    }
    MPI_Finalize();
    free(g.part);
    free(g.sc);
    g.part = NULL;
    g.sc = NULL;
    g.on = 0;
    g.rank = 0;
    g.size = 1;
}

void dist_test_fault(size_t step) {
    const char *e = getenv("XFMR_TEST_RANK_FAULT");
    int r = -1;
    size_t s = 0;
    char kind[8] = "";
    if (!e || sscanf(e, "%d:%zu:%7s", &r, &s, kind) != 3 || r != g.rank || s != step) return;
    if (!strcmp(kind, "kill")) raise(SIGKILL);
    if (!strcmp(kind, "hang"))
        for (;;) pause();
}
