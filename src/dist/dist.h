/* The processes of one training run, over Open MPI (docs/scale-out.md).
 *
 * The only module that calls MPI. A process started without mpirun (no
 * OMPI_COMM_WORLD_SIZE in the environment) never touches MPI: it is rank 0 of
 * a world of 1 and every collective below returns at once.
 *
 * Every reduction is deterministic and gives the same bits on every rank: the
 * sum of a float vector is a reduce-scatter by all-to-all (each rank owns a
 * 1/N part and adds the N contributions in rank order, in double) followed by
 * an all-gather, in buckets of XF_DIST_BUCKET floats. Library code never
 * aborts: xf_dist_abort is for the CLI. A watchdog thread (on in a world > 1)
 * calls the hang handler when one collective has waited longer than the
 * timeout (XFMR_DIST_TIMEOUT seconds, default 300). */
#ifndef XFMR_DIST_H
#define XFMR_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/dist.h"
#include "xfmr/status.h"

/* init, rank, size, abort, finalize, on_hang: the public xfmr/dist.h */
enum { XF_DIST_BUCKET = 1 << 20 }; /* floats per allreduce bucket (4 MiB) */


/* x[0..n) <- the sum over ranks of every rank's x, identical bits on every rank. */
xf_status dist_allreduce_sum(float *x, size_t n);
xf_status dist_allreduce_sum_f64(double *x, size_t n);
/* all[r*n .. r*n + n) <- rank r's mine[0..n), on every rank. */
xf_status dist_allgather_i32(const int32_t *mine, int32_t *all, size_t n);
/* x has the same length on every rank; rank r owns [lo(r), lo(r+1)) with
 * lo(r) = n*r/N (dist_range): afterwards every rank holds every range. */
xf_status dist_allgather(float *x, size_t n);
/* The range of n items rank r owns in a world of `size`. */
void dist_range(size_t n, int r, int size, size_t *lo, size_t *hi);
/* Rank 0 receives every rank's own range of x (the others send theirs). */
xf_status dist_gather0(float *x, size_t n, const float *mine);
/* MPI_Alltoallv over bytes: item counts per peer, elem bytes per item. */
xf_status dist_alltoallv(const void *send, const size_t *scount, void *recv, const size_t *rcount, size_t elem);
xf_status dist_barrier(void);


/* Test hook (tests/cli/test_mpi.sh): XFMR_TEST_RANK_FAULT=R:S:kill|hang makes
 * rank R, about to run step S (1-based), die by SIGKILL or stop forever. */
void dist_test_fault(size_t step);

#endif
