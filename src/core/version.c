/* The library's version (include/xfmr/version.h). */
#include "xfmr/version.h"

const char *xf_version(void) { return XF_VERSION_STRING; }
