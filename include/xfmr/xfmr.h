/* xfmr: the whole public API in one include. docs/library.md describes the
 * conventions (ownership, errors, threads) every header follows. */
#ifndef XFMR_XFMR_H
#define XFMR_XFMR_H

#include "xfmr/version.h"
#include "xfmr/status.h"
#include "xfmr/threads.h"
#include "xfmr/rng.h"
#include "xfmr/config.h"
#include "xfmr/model.h"
#include "xfmr/tokenizer.h"
#include "xfmr/data.h"
#include "xfmr/objective.h"
#include "xfmr/train.h"
#include "xfmr/optim.h"
#include "xfmr/generate.h"
#include "xfmr/routes.h"
#include "xfmr/safetensors.h"
#include "xfmr/memory.h"
#include "xfmr/mask.h"
#include "xfmr/file.h"
#include "xfmr/system.h"
#include "xfmr/dist.h"
#include "xfmr/study.h"

#endif
