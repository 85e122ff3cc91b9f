/* Small numeric helpers shared by several modules. xf_logsumexp, which the
 * CLI uses too, is public (include/xfmr/generate.h). */
#ifndef XF_CORE_NUMERIC_H
#define XF_CORE_NUMERIC_H

#include <stddef.h>

#include "xfmr/generate.h" /* xf_logsumexp */

/* (a * b) mod m for a, b < m (m > 0), exact for every size_t: the plain
 * product when it fits, else double-and-add with every partial sum kept below
 * m (so nothing overflows). */
size_t mulmod(size_t a, size_t b, size_t m);

#endif
