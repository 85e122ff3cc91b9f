/* The processes of one run (docs/scale-out.md): a program started by mpirun
 * joins the Open MPI world; started alone it is rank 0 of a world of 1 and
 * never touches MPI. Training (xf_train_run) splits every global batch over
 * the ranks; an embedder calls xf_dist_init first and xf_dist_finalize last. */
#ifndef XFMR_PUBLIC_DIST_H
#define XFMR_PUBLIC_DIST_H

#include "xfmr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Joins the world when launched by mpirun; idempotent. */
xf_status xf_dist_init(void);
int xf_dist_rank(void);
int xf_dist_size(void);
/* Ends the whole job (every rank) with `code`: for a program's top level only. */
void xf_dist_abort(int code);
/* Leaves the world cleanly (every rank must call it); a no-op alone. */
void xf_dist_finalize(void);
/* Called from the watchdog thread with a one-line message when a collective
 * has waited longer than XFMR_DIST_TIMEOUT seconds (default 300); the job is
 * then aborted. */
void xf_dist_on_hang(void (*fn)(const char *msg));

#ifdef __cplusplus
}
#endif
#endif
