/* xfmr study's grid file (src/train/study_grid.c): load; every row of an
 * accepted grid must have a name, a known family, a short objective, and
 * config overrides that build a valid config (row_config ran at load). */
#include "fuzz.h"
#include "xfmr/study.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static xf_study_grid g;
    const char *path = fuzz_file("grid.json", data, size);
    if (!path || xf_study_grid_load(&g, path) != XF_OK) return 0;
    if (g.n == 0 || g.n > XF_STUDY_MAX_ROWS) abort();
    for (size_t i = 0; i < g.n; i++) {
        const xf_study_row *r = &g.rows[i];
        if (!r->name[0] || strlen(r->name) >= sizeof r->name || !r->objective[0] || (int)r->arch < 0 ||
            r->arch >= XF_ARCH_COUNT || r->n_sets > XF_STUDY_MAX_SETS)
            abort();
        for (size_t k = 0; k < r->n_sets; k++)
            if (!strchr(r->sets[k], '=')) abort();
    }
    return 0;
}
