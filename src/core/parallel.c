/* Thread policy (see parallel.h). */
#include "core/parallel.h"

#include <cblas.h>
#include <omp.h>

void xf_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int xf_threads(void) { return omp_get_max_threads(); }
