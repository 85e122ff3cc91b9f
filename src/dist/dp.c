/* Data-parallel helpers of the trainer (dp.h). */
#include "dist/dp.h"

#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "model/model_internal.h"

size_t xf_dp_valid(const int32_t *targets, size_t n) {
    size_t v = 0;
    for (size_t i = 0; i < n; i++) v += targets[i] != XF_IGNORE_INDEX;
    return v;
}

/* Per MoE layer: tokens[E], load[E], assigned, dropped, entropy, aux, z,
 * tokens_seen, forwards, packed into one vector of doubles. */
xf_status xf_dp_sum_moe_stats(xf_model *m) {
    if (xf_dist_size() <= 1 || m->nmoe == 0) return XF_OK;
    size_t E = m->moe.E, per = 2 * E + 7, n = m->nmoe * per;
    double *v = malloc(n * sizeof(double));
    if (!v) return xf_fail(XF_ERR_OOM, "out of memory for the MoE statistics");
    for (size_t i = 0; i < m->nmoe; i++) {
        const xf_moe_acc *a = &m->macc[i];
        double *o = v + i * per;
        memcpy(o, a->tokens, E * sizeof(double));
        memcpy(o + E, a->load, E * sizeof(double));
        double t[7] = {a->assigned, a->dropped, a->entropy, a->aux, a->z, (double)a->tokens_seen,
                       (double)a->forwards};
        memcpy(o + 2 * E, t, sizeof t);
    }
    xf_status s = xf_dist_allreduce_sum_f64(v, n);
    for (size_t i = 0; !s && i < m->nmoe; i++) {
        xf_moe_acc *a = &m->macc[i];
        const double *o = v + i * per;
        memcpy(a->tokens, o, E * sizeof(double));
        memcpy(a->load, o + E, E * sizeof(double));
        a->assigned = o[2 * E];
        a->dropped = o[2 * E + 1];
        a->entropy = o[2 * E + 2];
        a->aux = o[2 * E + 3];
        a->z = o[2 * E + 4];
        a->tokens_seen = (size_t)o[2 * E + 5];
        a->forwards = (size_t)o[2 * E + 6];
    }
    free(v);
    return s;
}
