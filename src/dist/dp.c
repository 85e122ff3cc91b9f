/* Data-parallel helpers of the trainer (dp.h). */
#include "dist/dp.h"

#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "model/model_internal.h"

size_t dp_valid(const int32_t *targets, size_t n) {
    size_t v = 0;
    for (size_t i = 0; i < n; i++) v += targets[i] != XF_IGNORE_INDEX;
    return v;
}

static int gather_i32(const int32_t *mine, int32_t *all, size_t n) {
    return dist_allgather_i32(mine, all, n) != XF_OK;
}

xf_status dp_moe_attach(xf_model *m) {
    int P = xf_dist_size();
    if (P <= 1 || m->nmoe == 0 || m->moe.world) return XF_OK;
    xf_moe_world *w = calloc(1, sizeof *w);
    size_t KE = m->moe.K * m->moe.E;
    if (w) w->scratch = malloc(((size_t)P + 1) * KE * sizeof(int32_t));
    if (!w || !w->scratch) {
        free(w);
        return xf_fail(XF_ERR_OOM, "out of memory for the MoE routing exchange");
    }
    w->rank = xf_dist_rank();
    w->size = P;
    w->allgather = gather_i32;
    m->moe.world = w;
    return XF_OK;
}

void dp_moe_detach(xf_model *m) {
    if (!m || !m->moe.world) return;
    free(m->moe.world->scratch);
    free(m->moe.world);
    m->moe.world = NULL;
}

xf_status dp_moe_check(xf_model *m) {
    if (!m->moe.world || !m->moe.world->failed) return XF_OK;
    m->moe.world->failed = 0;
    return xf_fail(XF_ERR_IO, "rank %d: the MoE routing exchange failed: %s", xf_dist_rank(), xf_last_error());
}

/* Per MoE layer: tokens[E], assigned, dropped, entropy, aux, z, tokens_seen,
 * packed into one vector of doubles (forwards is the same on every rank). */
xf_status dp_sum_moe_stats(xf_model *m) {
    if (xf_dist_size() <= 1 || m->nmoe == 0) return XF_OK;
    size_t E = m->moe.E, per = E + 6, n = m->nmoe * per;
    double *v = malloc(n * sizeof(double));
    if (!v) return xf_fail(XF_ERR_OOM, "out of memory for the MoE statistics");
    for (size_t i = 0; i < m->nmoe; i++) {
        const xf_moe_acc *a = &m->macc[i];
        double *o = v + i * per;
        memcpy(o, a->tokens, E * sizeof(double));
        double t[6] = {a->assigned, a->dropped, a->entropy, a->aux, a->z, (double)a->tokens_seen};
        memcpy(o + E, t, sizeof t);
    }
    xf_status s = dist_allreduce_sum_f64(v, n);
    for (size_t i = 0; !s && i < m->nmoe; i++) {
        xf_moe_acc *a = &m->macc[i];
        const double *o = v + i * per;
        memcpy(a->tokens, o, E * sizeof(double));
        a->assigned = o[E];
        a->dropped = o[E + 1];
        a->entropy = o[E + 2];
        a->aux = o[E + 3];
        a->z = o[E + 4];
        a->tokens_seen = (size_t)o[E + 5];
    }
    free(v);
    return s;
}
