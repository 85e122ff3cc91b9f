/* CPU features by cpuid (x86-64), for the GEMM dispatch and `xfmr info
 * --system`: public, declared in include/xfmr/system.h (xf_cpu_info, xf_cpu,
 * the clocks). */
#ifndef XF_CPU_H
#define XF_CPU_H

#include "xfmr/system.h"

#endif
