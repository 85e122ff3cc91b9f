/* AdamW over a range of the parameter arena (ZeRO-1, docs/scale-out.md §ZeRO-1). */
#ifndef XFMR_TRAIN_ADAMW_H
#define XFMR_TRAIN_ADAMW_H

#include <stddef.h>

#include "xfmr/train.h"

/* xf_adamw_step on arena indices [lo, hi) only; m and v hold hi - lo floats
 * (m[0] is index lo). xf_adamw_step is this over the whole arena. */
void adamw_update_range(xf_model *model, float *m, float *v, size_t lo, size_t hi, size_t t, float lr,
                    const xf_train_opts *o);

#endif
