/* xfmr: byte-level BPE training (xf_bpe_train).
 *
 * 1. Pre-tokenize every input with GPT-2's regex (tok_pretokenize) and count
 *    distinct pre-tokens ("words") in a hash table.
 * 2. Each word becomes a symbol sequence of byte ids (id = byte value) with its
 *    count as weight. Pair counts are summed over words; each pair keeps the list
 *    of words it occurs in.
 * 3. Incremental merging: a max-heap holds (count, pair) entries. Pop the best
 *    (highest count; ties: smaller left id, then smaller right id); entries whose
 *    count no longer matches the pair's current count are stale and skipped.
 *    Merging pair (a,b) into z rewrites only the words in the pair's list; for
 *    each occurrence, left to right and non-overlapping, with left neighbour x
 *    (already rewritten) and right neighbour y (not yet): count(x,a)--,
 *    count(x,z)++, count(b,y)--, count(z,y)++, count(a,b)--. Every pair whose
 *    count changed gets one fresh heap entry at the end of the step. No full
 *    recount ever happens.
 * 4. Stop at the requested vocabulary size, when the best count drops below
 *    min_frequency, or when no pair is left.
 * A merge whose result spells an existing token reuses that token's id (as the
 * Hugging Face trainer does).
 *
 * Layout of the result: 0..255 bytes, 256 <|endoftext|>, 257 <pad>, 258 <unk>,
 * 259 <mask>, merges, then sentinels counting down from the last id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "data/tok_impl.h"
#include "io/file.h"

#define FIRST_MERGE_ID 260
#define TRAIN_FILE_MAX ((size_t)1 << 34)

/* ------------------------------------------------------ word counting */

typedef tok_wslot wslot;
typedef tok_wcount wcount;

static uint64_t hbytes(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

static int wc_grow(wcount *w) {
    size_t nc = w->cap ? w->cap * 2 : 1 << 16;
    wslot *nt = calloc(nc, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < w->cap; i++) {
        if (!w->tab[i].count) continue;
        size_t j = (size_t)w->tab[i].h & (nc - 1);
        while (nt[j].count) j = (j + 1) & (nc - 1);
        nt[j] = w->tab[i];
    }
    free(w->tab);
    w->tab = nt;
    w->cap = nc;
    return 0;
}

int tok_wc_add(void *ctx, const char *s, size_t n) { return tok_wc_add_weight(ctx, s, n, 1); }

int tok_wc_add_weight(tok_wcount *w, const char *s, size_t n, uint64_t weight) {
    if (n > UINT32_MAX) n = UINT32_MAX; /* a 4 GiB pre-token: keep a prefix */
    if ((w->used + 1) * 2 > w->cap && wc_grow(w)) {
        w->err = xf_fail(XF_ERR_OOM, "out of memory counting words");
        return 1;
    }
    uint64_t h = hbytes(s, n);
    size_t i = (size_t)h & (w->cap - 1);
    for (;;) {
        wslot *e = &w->tab[i];
        if (!e->count) break;
        if (e->h == h && e->len == n && memcmp(w->keys + e->off, s, n) == 0) {
            e->count += weight;
            return 0;
        }
        i = (i + 1) & (w->cap - 1);
    }
    if (w->keys_cap - w->keys_len < n) {
        size_t kc = w->keys_cap ? w->keys_cap : 1 << 20;
        while (kc - w->keys_len < n) kc *= 2;
        char *k = realloc(w->keys, kc);
        if (!k) {
            w->err = xf_fail(XF_ERR_OOM, "out of memory storing words");
            return 1;
        }
        w->keys = k;
        w->keys_cap = kc;
    }
    memcpy(w->keys + w->keys_len, s, n);
    w->tab[i] = (wslot){h, w->keys_len, (uint32_t)n, weight};
    w->keys_len += n;
    w->used++;
    return 0;
}

/* ------------------------------------------------------------- pairs */

typedef struct {
    int32_t a, b;
    int64_t count;
    int32_t *words; /* word indices (may repeat; deduplicated when used) */
    uint32_t nw, cw;
    int32_t last_w; /* last word appended (cheap dedupe) */
    uint32_t stamp; /* merge step that last changed the count */
    int done;       /* merged or banned */
} pair_t;

typedef struct {
    int64_t count;
    int32_t a, b;
    uint32_t p;
} hent;

typedef struct {
    /* words */
    int32_t *sym;   /* all symbols */
    size_t *woff;   /* word start */
    uint32_t *wlen; /* current length */
    uint64_t *wcnt; /* weight */
    uint32_t *wstamp;
    size_t nwords;
    /* pairs: index table keyed by (a,b) */
    pair_t *p;
    size_t np, cp;
    uint32_t *ptab; /* slot -> pair index + 1 (0 empty) */
    size_t pcap;
    /* heap */
    hent *h;
    size_t nh, ch;
    /* pairs changed in this step */
    uint32_t *changed;
    size_t nchanged, cchanged;
    uint32_t step;
    int oom;
} trainer;

static size_t phash(int32_t a, int32_t b) {
    uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

static int ptab_grow(trainer *T) {
    size_t nc = T->pcap ? T->pcap * 2 : 1 << 16;
    uint32_t *nt = calloc(nc, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < T->np; i++) {
        size_t j = phash(T->p[i].a, T->p[i].b) & (nc - 1);
        while (nt[j]) j = (j + 1) & (nc - 1);
        nt[j] = (uint32_t)i + 1;
    }
    free(T->ptab);
    T->ptab = nt;
    T->pcap = nc;
    return 0;
}

/* Index of pair (a,b), created if absent; UINT32_MAX on OOM. */
static uint32_t pair_get(trainer *T, int32_t a, int32_t b) {
    if ((T->np + 1) * 2 > T->pcap && ptab_grow(T)) return UINT32_MAX;
    size_t mask = T->pcap - 1, i = phash(a, b) & mask;
    for (;;) {
        uint32_t v = T->ptab[i];
        if (!v) break;
        if (T->p[v - 1].a == a && T->p[v - 1].b == b) return v - 1;
        i = (i + 1) & mask;
    }
    if (T->np == T->cp) {
        size_t nc = T->cp ? T->cp * 2 : 1 << 14;
        pair_t *np = realloc(T->p, nc * sizeof *np);
        if (!np) return UINT32_MAX;
        T->p = np;
        T->cp = nc;
    }
    if (T->np >= UINT32_MAX - 1) return UINT32_MAX;
    pair_t *q = &T->p[T->np];
    memset(q, 0, sizeof *q);
    q->a = a;
    q->b = b;
    q->last_w = -1;
    q->stamp = UINT32_MAX;
    T->ptab[i] = (uint32_t)T->np + 1;
    return (uint32_t)T->np++;
}

static void pair_note_word(trainer *T, pair_t *q, int32_t w) {
    if (q->last_w == w) return;
    if (q->nw == q->cw) {
        uint32_t nc = q->cw ? q->cw * 2 : 4;
        int32_t *nw = nc > q->cw ? realloc(q->words, (size_t)nc * sizeof *nw) : NULL;
        if (!nw) {
            T->oom = 1;
            return;
        }
        q->words = nw;
        q->cw = nc;
    }
    q->words[q->nw++] = w;
    q->last_w = w;
}

static void mark_changed(trainer *T, uint32_t pi) {
    pair_t *q = &T->p[pi];
    if (q->stamp == T->step) return;
    q->stamp = T->step;
    if (T->nchanged == T->cchanged) {
        size_t nc = T->cchanged ? T->cchanged * 2 : 1024;
        uint32_t *c = realloc(T->changed, nc * sizeof *c);
        if (!c) {
            T->oom = 1;
            return;
        }
        T->changed = c;
        T->cchanged = nc;
    }
    T->changed[T->nchanged++] = pi;
}

static void add_count(trainer *T, int32_t a, int32_t b, int64_t d, int32_t w) {
    uint32_t pi = pair_get(T, a, b);
    if (pi == UINT32_MAX) {
        T->oom = 1;
        return;
    }
    T->p[pi].count += d;
    if (d > 0 && w >= 0) pair_note_word(T, &T->p[pi], w);
    mark_changed(T, pi);
}

/* heap: max count, then min a, then min b */
static int h_better(const hent *x, const hent *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static void h_push(trainer *T, uint32_t pi) {
    if (T->nh == T->ch) {
        size_t nc = T->ch ? T->ch * 2 : 1 << 14;
        hent *nh = realloc(T->h, nc * sizeof *nh);
        if (!nh) {
            T->oom = 1;
            return;
        }
        T->h = nh;
        T->ch = nc;
    }
    hent e = {T->p[pi].count, T->p[pi].a, T->p[pi].b, pi};
    size_t i = T->nh++;
    while (i > 0) {
        size_t par = (i - 1) / 2;
        if (!h_better(&e, &T->h[par])) break;
        T->h[i] = T->h[par];
        i = par;
    }
    T->h[i] = e;
}

static hent h_pop(trainer *T) {
    hent top = T->h[0], last = T->h[--T->nh];
    size_t i = 0, n = T->nh;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h_better(&T->h[c + 1], &T->h[c])) c++;
        if (!h_better(&T->h[c], &last)) break;
        T->h[i] = T->h[c];
        i = c;
    }
    if (n) T->h[i] = last;
    return top;
}

/* Rewrite every occurrence of pair pi in its words as z. */
static void apply_merge(trainer *T, uint32_t pi, int32_t z) {
    int32_t a = T->p[pi].a, b = T->p[pi].b;
    /* the word list may grow while we iterate (new pairs), but not this pair's */
    uint32_t nw = T->p[pi].nw;
    for (uint32_t k = 0; k < nw && !T->oom; k++) {
        int32_t w = T->p[pi].words[k];
        if (T->wstamp[w] == T->step) continue;
        T->wstamp[w] = T->step;
        int32_t *s = T->sym + T->woff[w];
        uint32_t len = T->wlen[w], o = 0;
        int64_t c = (int64_t)T->wcnt[w];
        for (uint32_t i = 0; i < len;) {
            if (i + 1 < len && s[i] == a && s[i + 1] == b) {
                if (o > 0) {
                    add_count(T, s[o - 1], a, -c, -1);
                    add_count(T, s[o - 1], z, c, w);
                }
                if (i + 2 < len) {
                    add_count(T, b, s[i + 2], -c, -1);
                    add_count(T, z, s[i + 2], c, w);
                }
                add_count(T, a, b, -c, -1);
                s[o++] = z;
                i += 2;
            } else {
                s[o++] = s[i++];
            }
        }
        T->wlen[w] = o;
    }
}

/* ------------------------------------------------------ string lookup */

typedef struct {
    char **s;
    uint32_t *len;
    size_t n, cap;
    int32_t *tab; /* id or -1 */
    size_t tcap;
} vocab_t;

static int32_t voc_find(const vocab_t *v, const char *s, size_t n) {
    size_t mask = v->tcap - 1, i = (size_t)hbytes(s, n) & mask;
    for (;;) {
        int32_t id = v->tab[i];
        if (id < 0) return -1;
        if (v->len[id] == n && memcmp(v->s[id], s, n) == 0) return id;
        i = (i + 1) & mask;
    }
}

static int voc_add(vocab_t *v, const char *s, size_t n) {
    if (v->n == v->cap) return -1;
    char *c = malloc(n + 1);
    if (!c) return -1;
    memcpy(c, s, n);
    c[n] = 0;
    size_t mask = v->tcap - 1, i = (size_t)hbytes(s, n) & mask;
    while (v->tab[i] >= 0) i = (i + 1) & mask;
    v->tab[i] = (int32_t)v->n;
    v->s[v->n] = c;
    v->len[v->n] = (uint32_t)n;
    v->n++;
    return 0;
}

/* ------------------------------------------------------------- train */

static const char *const k_specials[4] = {"<|endoftext|>", "<pad>", "<unk>", "<mask>"};

static xf_status train_core(xf_tokenizer **out, wcount *wc, const xf_bpe_train_opts *opts,
                            xf_bpe_train_stats *stats) {
    size_t S = opts->n_sentinels;
    size_t target = opts->vocab_size;
    if (target < FIRST_MERGE_ID + S || target > TOK_MAX_VOCAB)
        return xf_fail(XF_ERR_ARG, "vocab size %zu must be in [%zu, %zu] (260 + %zu sentinels)",
                       target, FIRST_MERGE_ID + S, TOK_MAX_VOCAB, S);
    size_t max_merges = target - FIRST_MERGE_ID - S;
    uint64_t minf = opts->min_frequency ? opts->min_frequency : 1;
    trainer T;
    memset(&T, 0, sizeof T);
    vocab_t V;
    memset(&V, 0, sizeof V);
    int32_t (*merges)[2] = NULL;
    size_t nm = 0;
    xf_status st = XF_OK;
    xf_tokenizer *t = NULL;

    /* words -> symbol arrays */
    size_t total = 0;
    for (size_t i = 0; i < wc->cap; i++)
        if (wc->tab[i].count && wc->tab[i].len >= 2) {
            total += wc->tab[i].len;
            T.nwords++;
        }
    if (T.nwords > INT32_MAX) return xf_fail(XF_ERR_OOM, "too many distinct words (%zu)", T.nwords);
    T.sym = malloc((total ? total : 1) * sizeof *T.sym);
    T.woff = malloc((T.nwords + 1) * sizeof *T.woff);
    T.wlen = malloc((T.nwords + 1) * sizeof *T.wlen);
    T.wcnt = malloc((T.nwords + 1) * sizeof *T.wcnt);
    T.wstamp = malloc((T.nwords + 1) * sizeof *T.wstamp);
    merges = malloc((max_merges ? max_merges : 1) * sizeof *merges);
    V.cap = target;
    V.s = calloc(target, sizeof *V.s);
    V.len = calloc(target, sizeof *V.len);
    V.tcap = 16;
    while (V.tcap < 2 * target) V.tcap *= 2;
    V.tab = malloc(V.tcap * sizeof *V.tab);
    if (!T.sym || !T.woff || !T.wlen || !T.wcnt || !T.wstamp || !merges || !V.s || !V.len || !V.tab) {
        st = xf_fail(XF_ERR_OOM, "out of memory for training state");
        goto done;
    }
    memset(V.tab, 0xff, V.tcap * sizeof *V.tab);
    size_t w = 0, off = 0;
    for (size_t i = 0; i < wc->cap; i++) {
        const wslot *e = &wc->tab[i];
        if (!e->count || e->len < 2) continue;
        T.woff[w] = off;
        T.wlen[w] = e->len;
        T.wcnt[w] = e->count;
        T.wstamp[w] = UINT32_MAX;
        for (uint32_t j = 0; j < e->len; j++) T.sym[off + j] = (unsigned char)wc->keys[e->off + j];
        off += e->len;
        w++;
    }
    /* base vocabulary: bytes (unicode spelling) and specials */
    for (int b = 0; b < 256; b++) {
        char u[4];
        size_t ul = tok_utf8_put(u, tok_b2u((unsigned char)b));
        if (voc_add(&V, u, ul)) st = xf_fail(XF_ERR_OOM, "out of memory");
    }
    for (int i = 0; i < 4; i++)
        if (voc_add(&V, k_specials[i], strlen(k_specials[i]))) st = xf_fail(XF_ERR_OOM, "out of memory");
    if (st) goto done;

    /* initial pair counts */
    T.step = 0;
    for (size_t k = 0; k < T.nwords && !T.oom; k++) {
        const int32_t *s = T.sym + T.woff[k];
        for (uint32_t i = 0; i + 1 < T.wlen[k]; i++) add_count(&T, s[i], s[i + 1], (int64_t)T.wcnt[k], (int32_t)k);
    }
    for (size_t i = 0; i < T.nchanged && !T.oom; i++) h_push(&T, T.changed[i]);
    T.nchanged = 0;

    char buf[2 * TOK_MAX_TOKEN_BYTES];
    while (nm < max_merges && T.nh && !T.oom) {
        hent e = h_pop(&T);
        pair_t *q = &T.p[e.p];
        if (q->done || e.count != q->count) continue; /* stale */
        if ((uint64_t)q->count < minf || q->count <= 0) break;
        size_t la = V.len[q->a], lb = V.len[q->b];
        if (la + lb > TOK_MAX_TOKEN_BYTES) {
            q->done = 1; /* too long to be a token: never merge */
            continue;
        }
        memcpy(buf, V.s[q->a], la);
        memcpy(buf + la, V.s[q->b], lb);
        int32_t z = voc_find(&V, buf, la + lb);
        if (z >= 0 && z >= 256 && z < FIRST_MERGE_ID) {
            q->done = 1; /* would spell a special token: skip */
            continue;
        }
        if (z < 0) {
            z = (int32_t)V.n;
            if (voc_add(&V, buf, la + lb)) {
                st = xf_fail(XF_ERR_OOM, "out of memory");
                goto done;
            }
        }
        q->done = 1;
        merges[nm][0] = q->a;
        merges[nm][1] = q->b;
        nm++;
        T.step++;
        T.nchanged = 0;
        apply_merge(&T, e.p, z);
        for (size_t i = 0; i < T.nchanged && !T.oom; i++) {
            pair_t *c = &T.p[T.changed[i]];
            if (!c->done && c->count > 0) h_push(&T, T.changed[i]);
        }
    }
    if (T.oom) {
        st = xf_fail(XF_ERR_OOM, "out of memory while merging");
        goto done;
    }

    /* assemble: V (bytes, specials, merged tokens) + sentinels */
    size_t n = V.n + S;
    st = tok_alloc(&t, TOK_BYTELEVEL, n);
    if (st) goto done;
    for (size_t id = 0; id < V.n && !st; id++) {
        char raw[TOK_MAX_TOKEN_BYTES];
        int special = id >= 256 && id < FIRST_MERGE_ID;
        long rl = special ? -1 : tok_unicode_to_bytes(V.s[id], V.len[id], raw);
        if (rl < 0)
            st = tok_set(t, id, V.s[id], V.len[id], V.s[id], V.len[id], TT_CONTROL);
        else
            st = tok_set(t, id, V.s[id], V.len[id], raw, (size_t)rl, TT_NORMAL);
    }
    for (size_t k = 0; k < S && !st; k++) {
        char name[32];
        int l = snprintf(name, sizeof name, "<extra_id_%zu>", k);
        st = tok_set(t, n - 1 - k, name, (size_t)l, name, (size_t)l, TT_CONTROL);
    }
    if (!st) st = tok_finish(t, "trained tokenizer");
    for (int b = 0; b < 256 && !st; b++) t->byte_id[b] = b;
    if (!st) st = tok_bl_set_merges(t, (const int32_t(*)[2])merges, nm, "trained tokenizer");
    if (!st) st = tok_bl_compile(t, NULL);
    if (st) {
        xf_tokenizer_free(t);
        t = NULL;
        goto done;
    }
    tok_seal(t);
    if (stats) {
        stats->words = wc->used;
        stats->merges = nm;
    }
    *out = t;
done:
    free(T.sym);
    free(T.woff);
    free(T.wlen);
    free(T.wcnt);
    free(T.wstamp);
    for (size_t i = 0; i < T.np; i++) free(T.p[i].words);
    free(T.p);
    free(T.ptab);
    free(T.h);
    free(T.changed);
    for (size_t i = 0; i < V.n; i++) free(V.s[i]);
    free(V.s);
    free(V.len);
    free(V.tab);
    free(merges);
    return st;
}

static xf_status train_common(xf_tokenizer **out, const char *const *files,
                              const char *const *texts, const size_t *lens, size_t n,
                              const xf_bpe_train_opts *opts, xf_bpe_train_stats *stats) {
    if (!out || !opts || (n && !files && !texts)) return xf_fail(XF_ERR_ARG, "xf_bpe_train: NULL argument");
    *out = NULL;
    xf_bpe_train_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    double t0 = (xf_now_ms() / 1e3);
    /* a regex-only tokenizer for pre-tokenizing */
    xf_tokenizer *pre;
    xf_status st = tok_byte_new(&pre);
    if (st) return st;
    st = tok_bl_compile(pre, NULL);
    wcount wc;
    memset(&wc, 0, sizeof wc);
    for (size_t i = 0; i < n && !st; i++) {
        char *data = NULL;
        size_t len = 0;
        const char *p;
        if (files) {
            st = xf_file_read_all(files[i], &data, &len, TRAIN_FILE_MAX);
            if (st) break;
            p = data;
        } else {
            p = texts[i];
            len = lens[i];
        }
        stats->bytes += len;
        st = tok_pretokenize(pre, p, len, tok_wc_add, &wc);
        if (!st) st = wc.err;
        free(data);
    }
    xf_tokenizer_free(pre);
    if (!st) st = train_core(out, &wc, opts, stats);
    stats->seconds = (xf_now_ms() / 1e3) - t0;
    free(wc.tab);
    free(wc.keys);
    return st;
}

xf_status xf_bpe_train(xf_tokenizer **out, const char *const *files, size_t n_files,
                       const xf_bpe_train_opts *opts, xf_bpe_train_stats *stats) {
    return train_common(out, files, NULL, NULL, n_files, opts, stats);
}

xf_status xf_bpe_train_texts(xf_tokenizer **out, const char *const *texts, const size_t *lens,
                             size_t n_texts, const xf_bpe_train_opts *opts,
                             xf_bpe_train_stats *stats) {
    if (n_texts && (!texts || !lens)) return xf_fail(XF_ERR_ARG, "xf_bpe_train_texts: NULL argument");
    return train_common(out, NULL, texts, lens, n_texts, opts, stats);
}
