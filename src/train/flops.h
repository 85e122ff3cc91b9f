/* Training FLOPs as the benchmark counts them (src/train/bench.c), shared by
 * xfmr bench and xfmr study (which sizes its models to a FLOPs budget). */
#ifndef XF_TRAIN_FLOPS_H
#define XF_TRAIN_FLOPS_H

#include <stddef.h>

#include "xfmr/model.h"

/* FLOPs of one training step (forward + backward) of `batch` rows of T
 * main-stack tokens and, for an encoder-decoder, S encoder tokens: 6 per
 * matmul weight per token it sees (an expert sees K/E of them; the tied LM
 * head counts, embedding lookups do not), plus attention's 4·Tk·C per query
 * token per layer forward, times 3 with the backward. */
double train_step_flops(const xf_model *m, size_t batch, size_t T, size_t S);

#endif
