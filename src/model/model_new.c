/* xf_model_new: a runnable model from any SPEC (include/xfmr/model.h), and the
 * parameter arena's length for arrays laid out like it. */
#include <string.h>

#include "io/file.h"
#include "model/model_internal.h"
#include "xfmr/model.h"

size_t xf_model_param_arena_len(const xf_model *m) { return m->nparams; }

xf_status xf_model_new(xf_model **out, const char *spec, uint64_t seed) {
    *out = NULL;
    if (!spec || !*spec) return xf_fail(XF_ERR_ARG, "no model given");
    /* weights exist for a directory or a foreign file; presets and config files have none */
    if (xf_path_is_dir(spec) || strcmp(xf_model_format_name(spec), "xfmr") != 0) return xf_model_open(out, spec);
    xf_config cfg;
    xf_status s = xf_model_open_config(&cfg, spec);
    if (s) return s;
    if ((s = xf_model_create(out, &cfg))) return s;
    xf_model_init_weights(*out, seed);
    return XF_OK;
}
