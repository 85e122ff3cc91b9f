/* Private: tensor-name tables between xfmr's names and a foreign format's.
 *
 * A row pairs a native pattern with a foreign one. Patterns are literal text
 * with placeholders: "{L}" a layer index and "{E}" an expert index, each a
 * run of decimal digits, e.g.
 *   {"model.layers.{L}.self_attn.q_proj.weight", "blk.{L}.attn_q.weight", OP}
 * `op` is the row's layout change, defined by each format (0 = as it is).
 * Matching is linear in the pattern and the name; a format's table is small
 * and is walked once per tensor, so loading is linear in the tensor count
 * times the table size. */
#ifndef XF_MODEL_NAMEMAP_H
#define XF_MODEL_NAMEMAP_H

#include <stddef.h>

typedef struct {
    const char *native;  /* xfmr's name (src/model/params.c) */
    const char *foreign; /* the other format's name */
    int op;              /* layout change, meaning defined by the format */
} namemap_row;

/* 1 when `name` matches `pattern`; *L and *E get the placeholders' values
 * (-1 when the pattern has none). Numbers over 9 digits never match. */
int namemap_match(const char *pattern, const char *name, long *L, long *E);

/* Write `pattern` with its placeholders replaced into buf[n]; 0 on success,
 * -1 when it does not fit or a needed index is negative. */
int namemap_render(const char *pattern, long L, long E, char *buf, size_t n);

/* The first row whose native (foreign = 0) or foreign (foreign = 1) pattern
 * matches `name`, with its indices; NULL when none does. */
const namemap_row *namemap_find(const namemap_row *rows, size_t n, int foreign, const char *name, long *L,
                                long *E);

/* Translate `name` through the table: buf gets the other side's name. */
const namemap_row *namemap_translate(const namemap_row *rows, size_t n, int foreign, const char *name, char *buf,
                                     size_t bufn);

#endif
