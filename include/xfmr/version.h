/* xfmr: the library's version. The macros give the version of the headers a
 * program was compiled against; xf_version() the version of the library it
 * runs with (they differ when a shared library was swapped underneath). */
#ifndef XFMR_VERSION_H
#define XFMR_VERSION_H

#define XF_VERSION_MAJOR 0
#define XF_VERSION_MINOR 1
#define XF_VERSION_PATCH 0
#define XF_VERSION_STRING "0.1.0"
/* One number that grows with each release: major * 10000 + minor * 100 + patch. */
#define XF_VERSION (XF_VERSION_MAJOR * 10000 + XF_VERSION_MINOR * 100 + XF_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* "MAJOR.MINOR.PATCH" of the library linked in (a static string). */
const char *xf_version(void);

#ifdef __cplusplus
}
#endif

#endif
