/* xfmr: statistics of Mixture-of-Experts routing decisions, for `xfmr routes`
 * (docs/routes.md). Pure arithmetic: no printing, no model access. The CLI
 * feeds it the routing of each forward (xf_model_moe_routes) and reads back
 * shares, top tokens, class distributions, KL divergences and mutual
 * informations. Every information quantity is in bits (log base 2). */
#ifndef XFMR_ROUTES_H
#define XFMR_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Token classes, defined on the decoded token text (docs/routes.md). The text
 * is the bytes the token contributes to the decoded string (a GPT-2 "Ġthe"
 * decodes to " the"); leading whitespace is skipped to find the first visible
 * byte c:
 *   SPACE        the text is non-empty and all whitespace (space, tab, newline, CR, VT, FF)
 *   DIGIT        c is 0-9
 *   CAP_START    c is A-Z and the token starts a word
 *   LOWER_START  c is a-z and the token starts a word
 *   WORD_INNER   c is an ASCII letter and the token continues a word
 *   PUNCT        c is ASCII punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~)
 *   OTHER        empty text, special tokens (the caller's call), c non-ASCII or a control byte
 * A letter token starts a word when its text has leading whitespace, or it is
 * the first token, or the previous token's text ends in a byte that is not an
 * ASCII letter, digit or non-ASCII byte (so after a space, newline or
 * punctuation, apostrophe included). */
typedef enum {
    XF_TC_PUNCT = 0,
    XF_TC_DIGIT,
    XF_TC_CAP_START,
    XF_TC_LOWER_START,
    XF_TC_WORD_INNER,
    XF_TC_SPACE,
    XF_TC_OTHER,
    XF_TC_COUNT
} xf_token_class;

/* Short name: "punct", "digit", "Cap-start", "lower-start", "inner", "space", "other". */
const char *xf_token_class_name(xf_token_class c);

/* Class of a token whose decoded text is text[0..len). prev_last is the last
 * byte (0..255) of the previous token's text, or -1 when there is none (start
 * of the text, or the previous token was special or empty). */
xf_token_class xf_token_class_of(const char *text, size_t len, int prev_last);

/* ---- information measures on count vectors (bits) ---------------------------
 * Counts are non-negative; they are normalised here. */

/* H(p) of the distribution proportional to counts[n]; 0 when all are 0. */
double xf_entropy_bits(const double *counts, size_t n);

/* KL(P || Q) for P, Q proportional to p[n], q[n]. INFINITY when some p_i > 0
 * has q_i = 0; NAN when either vector sums to 0. */
double xf_kl_bits(const double *p, const double *q, size_t n);

/* Mutual information I(X;Y) of the joint distribution proportional to
 * joint[nx,ny] (row x, column y). h_y and h_y_given_x (either may be NULL)
 * get H(Y) and H(Y|X); I = H(Y) - H(Y|X). 0 when the table is empty. */
double xf_mutual_info_bits(const double *joint, size_t nx, size_t ny, double *h_y, double *h_y_given_x);

/* ---- the accumulator ------------------------------------------------------- */

/* Counts of one MoE layer's routing over many rows (tokens). Every count is of
 * KEPT assignments (an assignment dropped by capacity, sel = -1, only adds to
 * `dropped`) except `rows`, `token` and `cls`, which count rows. */
typedef struct {
    size_t V, E, K;            /* vocabulary, experts, experts per token */
    size_t npos, nseg;         /* position buckets, text segments */
    double rows;               /* rows added */
    double dropped;            /* assignments dropped by capacity */
    double *expert;            /* [E] kept assignments per expert */
    double *token;             /* [V] rows with each token id */
    double *token_expert;      /* [V,E] kept assignments of token id v to expert e */
    double cls[XF_TC_COUNT];   /* rows of each class */
    double *cls_expert;        /* [XF_TC_COUNT,E] */
    double *pos_expert;        /* [npos,E] by position bucket */
    double *seg_expert;        /* [nseg,E] by text segment */
} xf_routes_acc;

/* Zeroed counts (npos, nseg >= 1). Memory: (V + 8 + npos + nseg) * E doubles. */
xf_status xf_routes_acc_init(xf_routes_acc *a, size_t V, size_t E, size_t K, size_t npos, size_t nseg);
void xf_routes_acc_free(xf_routes_acc *a); /* NULL-safe; leaves the struct zeroed */

/* Add n rows: token ids[n], classes cls[n] (xf_token_class values), position
 * buckets pos[n] < npos, segments seg[n] < nseg, and the routing sel[n,K]
 * (expert ids, -1 = dropped). Any value out of range is XF_ERR_ARG and nothing
 * is added. */
xf_status xf_routes_acc_add(xf_routes_acc *a, size_t n, const int32_t *ids, const uint8_t *cls,
                            const int32_t *pos, const int32_t *seg, const int32_t *sel);

/* Share of the layer's assignments (rows * K) that expert e kept, in [0, 1]. */
double xf_routes_share(const xf_routes_acc *a, size_t e);

/* The (at most) n token ids expert e received most, by count descending and
 * then id ascending, only counts > 0. Writes ids[] and counts[] (counts may be
 * NULL) and returns how many. The fraction of token v's occurrences routed to
 * e is token_expert[v*E+e] / token[v]. */
size_t xf_routes_top_tokens(const xf_routes_acc *a, size_t e, size_t n, int32_t *ids, double *counts);

/* Class distribution (sums to 1, or all 0 when empty) of the assignments kept
 * by expert e, or of all kept assignments when e == XF_ROUTES_ALL. */
#define XF_ROUTES_ALL ((size_t)-1)
void xf_routes_class_dist(const xf_routes_acc *a, size_t e, double out[XF_TC_COUNT]);

/* KL(classes of expert e || classes of all kept assignments), bits; NAN when
 * the expert received nothing. */
double xf_routes_class_kl(const xf_routes_acc *a, size_t e);

/* Largest lift q_e(c) / q_all(c) over the classes with q_all(c) > 0 and
 * q_all(c) >= min_share (a rare class, a few digits in a play, would otherwise
 * win on a handful of tokens); *which gets the class (may be NULL). NAN when
 * the expert received nothing or no class qualifies. */
double xf_routes_class_max_lift(const xf_routes_acc *a, size_t e, double min_share, xf_token_class *which);

/* What a variable X tells about the expert choice, over kept assignments. */
typedef enum {
    XF_RV_TOKEN = 0,  /* token id */
    XF_RV_CLASS,      /* token class */
    XF_RV_POSITION,   /* position bucket in the window */
    XF_RV_SEGMENT,    /* segment of the text (a proxy for topic) */
    XF_RV_COUNT
} xf_routes_var;

typedef struct {
    double h_expert;     /* H(expert) */
    double h_cond;       /* H(expert | X) */
    double mi;           /* I(X; expert) = h_expert - h_cond (plug-in estimate) */
    double chance;       /* the plug-in estimate's expected value when X and the expert are
                          * independent (Miller-Madow): (X values seen - 1)(experts seen - 1) / (2 M ln 2),
                          * M = kept assignments */
    size_t values;       /* values of X seen */
} xf_routes_info;

const char *xf_routes_var_name(xf_routes_var v);
void xf_routes_info_of(const xf_routes_acc *a, xf_routes_var v, xf_routes_info *out);

#ifdef __cplusplus
}
#endif

#endif
