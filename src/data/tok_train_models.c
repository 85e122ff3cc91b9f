/* xfmr: training Unigram and WordPiece tokenizers (xf_tokenizer_train_model).
 * See docs/tokenizers.md §Training Unigram and WordPiece.
 *
 * WordPiece (as Hugging Face's WordPieceTrainer: BPE over "##" pieces):
 *   words come from BERT's basic tokenizer (uncased: lowercase, strip
 *   accents, CJK and punctuation split); each distinct word starts as its
 *   first character followed by "##c" for every other character c. Then
 *   repeatedly the adjacent pair with the highest count over all words
 *   (ties: lower ids) is merged: "ab" + "##cd" -> "abcd", "##ab" + "##cd" ->
 *   "##abcd", until the vocabulary is full or no pair occurs twice. Pairs are
 *   recounted from the distinct words before each merge (simple; fine for the
 *   vocabularies and corpora a user's small model needs).
 *   Layout: [PAD] [UNK] [CLS] [SEP] [MASK], the alphabet (first characters,
 *   then "##" characters, each in byte order), then the merges in order.
 *
 * Unigram (a simplified SentencePiece/tokenizers UnigramTrainer):
 *   words are the text split at spaces, each with U+2581 in front (what the
 *   Metaspace pre-tokenizer gives). Seed pieces: every character, and the
 *   substrings of 2..16 characters with the highest frequency x length
 *   (frequency weighted by word count), 4x the target size. Each piece starts
 *   with score log(freq / total). EM: the E-step runs forward-backward over
 *   every distinct word's segmentations (log space) and sums the expected
 *   count of each piece; the M-step sets score = log(count / total count)
 *   (maximum likelihood; the libraries use a digamma-smoothed estimate). After
 *   two EM steps the non-character pieces with the smallest expected counts
 *   are pruned, at most a fifth at a time, until the target size; two more EM
 *   steps fix the scores. Characters are never pruned, so every seen
 *   character stays encodable.
 *   Layout: <unk> <s> </s> <pad> <mask>, then pieces by score (descending).
 * Both are written as tokenizer.json that Hugging Face's tokenizers reads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tok_impl.h"
#include "io/file.h"

#define TRAIN_FILE_MAX ((size_t)1 << 34)
#define UNI_MAX_CHARS 16
static const char k_ws[] = "\xE2\x96\x81"; /* U+2581 */

/* ---------------------------------------------------- a string -> id map */

typedef struct {
    char **s;    /* id -> string (owned) */
    size_t n, cap;
    int32_t *tab; /* slot -> id, -1 empty */
    size_t tcap;
} strtab;

static int32_t st_find(const strtab *t, const char *s, size_t n) {
    if (!t->tcap) return -1;
    for (size_t i = (size_t)tok_str_hash(s, n) & (t->tcap - 1);; i = (i + 1) & (t->tcap - 1)) {
        int32_t id = t->tab[i];
        if (id < 0) return -1;
        if (strlen(t->s[id]) == n && memcmp(t->s[id], s, n) == 0) return id;
    }
}

static int st_rehash(strtab *t, size_t cap) {
    int32_t *nt = malloc(cap * sizeof *nt);
    if (!nt) return -1;
    memset(nt, 0xff, cap * sizeof *nt);
    for (size_t id = 0; id < t->n; id++) {
        size_t i = (size_t)tok_str_hash(t->s[id], strlen(t->s[id])) & (cap - 1);
        while (nt[i] >= 0) i = (i + 1) & (cap - 1);
        nt[i] = (int32_t)id;
    }
    free(t->tab);
    t->tab = nt;
    t->tcap = cap;
    return 0;
}

/* Id of s (added if new); -1 when out of memory. */
static int32_t st_add(strtab *t, const char *s, size_t n) {
    int32_t id = st_find(t, s, n);
    if (id >= 0) return id;
    if ((t->n + 1) * 2 > t->tcap && st_rehash(t, t->tcap ? t->tcap * 2 : 1024)) return -1;
    if (t->n == t->cap) {
        size_t c = t->cap ? t->cap * 2 : 1024;
        char **v = realloc(t->s, c * sizeof *v);
        if (!v) return -1;
        t->s = v;
        t->cap = c;
    }
    char *copy = strndup(s, n);
    if (!copy) return -1;
    t->s[t->n] = copy;
    size_t i = (size_t)tok_str_hash(s, n) & (t->tcap - 1);
    while (t->tab[i] >= 0) i = (i + 1) & (t->tcap - 1);
    t->tab[i] = (int32_t)t->n;
    return (int32_t)t->n++;
}

static void st_free(strtab *t) {
    for (size_t i = 0; i < t->n; i++) free(t->s[i]);
    free(t->s);
    free(t->tab);
}

static int strcmp_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* ---------------------------------------------------------- reading text */

typedef xf_status (*text_fn)(void *ctx, const char *text, size_t len);

static xf_status each_file(const char *const *files, size_t n, text_fn fn, void *ctx) {
    xf_status s = XF_OK;
    for (size_t i = 0; i < n && !s; i++) {
        char *data = NULL;
        size_t len = 0;
        s = xf_file_read_all(files[i], &data, &len, TRAIN_FILE_MAX);
        if (!s) s = fn(ctx, data, len);
        free(data);
    }
    return s;
}

/* ---------------------------------------------------------- WordPiece */

typedef struct {
    xf_tokenizer cfg; /* only the wp_* flags are read */
    tok_wcount wc;
} wp_count;

static xf_status wp_word(void *ctx, const char *w, const size_t *cb, size_t nc) {
    wp_count *c = ctx;
    if (cb[nc] > 200) return XF_OK; /* over-long words would only become [UNK] */
    return tok_wc_add(&c->wc, w, cb[nc]) ? c->wc.err : XF_OK;
}

static xf_status wp_text(void *ctx, const char *text, size_t len) {
    wp_count *c = ctx;
    return tok_wordpiece_words(&c->cfg, text, len, wp_word, c);
}

typedef struct {
    uint64_t key; /* a << 32 | b; UINT64_MAX empty */
    uint64_t count;
} pcount;

static xf_status train_wordpiece(xf_tokenizer **out, tok_wcount *wc, size_t vocab) {
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    strtab v = {0};
    int32_t *sym = NULL, *tmp = NULL;
    size_t *woff = NULL, *wlen = NULL;
    uint64_t *wcnt = NULL;
    pcount *pc = NULL;
    xf_status s = XF_OK;
    for (size_t i = 0; i < 5; i++)
        if (st_add(&v, specials[i], strlen(specials[i])) < 0) s = xf_fail(XF_ERR_OOM, "out of memory");
    size_t nw = 0, nsym = 0;
    for (size_t i = 0; i < wc->cap; i++)
        if (wc->tab[i].count) nw++, nsym += wc->tab[i].len;
    sym = malloc((nsym + 1) * sizeof *sym);
    tmp = malloc((nsym + 1) * sizeof *tmp);
    woff = malloc((nw + 1) * sizeof *woff);
    wlen = malloc((nw + 1) * sizeof *wlen);
    wcnt = malloc((nw + 1) * sizeof *wcnt);
    if (!sym || !tmp || !woff || !wlen || !wcnt) s = xf_fail(XF_ERR_OOM, "out of memory for %zu words", nw);
    /* the alphabet in byte order: first characters, then continuations */
    char buf[TOK_MAX_TOKEN_BYTES + 8];
    for (int pass = 0; pass < 2 && !s; pass++) {
        strtab chars = {0};
        for (size_t i = 0; i < wc->cap && !s; i++) {
            const tok_wslot *e = &wc->tab[i];
            if (!e->count) continue;
            const char *w = wc->keys + e->off;
            for (size_t k = 0; k < e->len;) {
                size_t l = tok_utf8_char_len((const unsigned char *)w + k, e->len - k);
                if (!l) l = 1;
                if ((k == 0) == (pass == 0) && st_add(&chars, w + k, l) < 0) s = xf_fail(XF_ERR_OOM, "out of memory");
                k += l;
            }
        }
        char **sorted = chars.n ? malloc(chars.n * sizeof *sorted) : NULL;
        if (chars.n && !sorted) s = xf_fail(XF_ERR_OOM, "out of memory");
        for (size_t i = 0; i < chars.n && !s; i++) sorted[i] = chars.s[i];
        if (!s) qsort(sorted, chars.n, sizeof *sorted, strcmp_ptr);
        for (size_t i = 0; i < chars.n && !s; i++) {
            int l = snprintf(buf, sizeof buf, "%s%s", pass ? "##" : "", sorted[i]);
            if (st_add(&v, buf, (size_t)l) < 0) s = xf_fail(XF_ERR_OOM, "out of memory");
        }
        free(sorted);
        st_free(&chars);
    }
    /* words as symbol ids */
    size_t o = 0, w = 0;
    for (size_t i = 0; i < wc->cap && !s; i++) {
        const tok_wslot *e = &wc->tab[i];
        if (!e->count) continue;
        const char *wd = wc->keys + e->off;
        woff[w] = o;
        wcnt[w] = e->count;
        for (size_t k = 0; k < e->len;) {
            size_t l = tok_utf8_char_len((const unsigned char *)wd + k, e->len - k);
            if (!l) l = 1;
            int n = snprintf(buf, sizeof buf, "%s%.*s", k ? "##" : "", (int)l, wd + k);
            sym[o++] = st_find(&v, buf, (size_t)n);
            k += l;
        }
        wlen[w] = o - woff[w];
        w++;
    }
    size_t pcap = 1;
    while (pcap < 2 * nsym + 16) pcap *= 2;
    pc = malloc(pcap * sizeof *pc);
    if (!pc && !s) s = xf_fail(XF_ERR_OOM, "out of memory for pair counts");
    while (!s && v.n < vocab) {
        for (size_t i = 0; i < pcap; i++) pc[i] = (pcount){UINT64_MAX, 0};
        uint64_t best = 0, bkey = UINT64_MAX;
        for (size_t i = 0; i < nw; i++)
            for (size_t k = 0; k + 1 < wlen[i]; k++) {
                uint64_t key = (uint64_t)(uint32_t)sym[woff[i] + k] << 32 | (uint32_t)sym[woff[i] + k + 1];
                size_t j = (size_t)(key * 0x9e3779b97f4a7c15ULL >> 20) & (pcap - 1);
                while (pc[j].key != UINT64_MAX && pc[j].key != key) j = (j + 1) & (pcap - 1);
                pc[j].key = key;
                pc[j].count += wcnt[i];
                if (pc[j].count > best || (pc[j].count == best && key < bkey)) best = pc[j].count, bkey = key;
            }
        if (best < 2) break;
        int32_t a = (int32_t)(bkey >> 32), b = (int32_t)(uint32_t)bkey;
        const char *sb = v.s[b];
        if (!strncmp(sb, "##", 2)) sb += 2;
        int n = snprintf(buf, sizeof buf, "%s%s", v.s[a], sb);
        if (n < 0 || (size_t)n > TOK_MAX_TOKEN_BYTES) break;
        int32_t z = st_add(&v, buf, (size_t)n);
        if (z < 0) {
            s = xf_fail(XF_ERR_OOM, "out of memory");
            break;
        }
        for (size_t i = 0; i < nw; i++) { /* rewrite every occurrence, left to right */
            int32_t *p = sym + woff[i];
            size_t m = 0;
            for (size_t k = 0; k < wlen[i]; k++)
                if (k + 1 < wlen[i] && p[k] == a && p[k + 1] == b) tmp[m++] = z, k++;
                else tmp[m++] = p[k];
            memcpy(p, tmp, m * sizeof *p);
            wlen[i] = m;
        }
    }
    if (!s) s = tok_wordpiece_build(out, (const char *const *)v.s, v.n, 1, "wordpiece training");
    st_free(&v);
    free(sym);
    free(tmp);
    free(woff);
    free(wlen);
    free(wcnt);
    free(pc);
    return s;
}

/* ------------------------------------------------------------- Unigram */

static xf_status uni_text(void *ctx, const char *text, size_t len) {
    tok_wcount *wc = ctx;
    char *w = malloc(len + 4);
    if (!w) return xf_fail(XF_ERR_OOM, "out of memory");
    memcpy(w, k_ws, 3);
    for (size_t a = 0, i = 0; i <= len; i++) {
        if (i < len && text[i] != ' ') continue;
        size_t n = i - a;
        if (n <= 64) { /* longer "words" add nothing a piece can use */
            memcpy(w + 3, text + a, n);
            if (tok_wc_add(wc, w, n + 3)) {
                free(w);
                return wc->err;
            }
        }
        a = i + 1;
    }
    free(w);
    return XF_OK;
}

typedef struct {
    const char *s;
    uint32_t len;    /* bytes */
    uint32_t nch;    /* characters */
    uint64_t count;  /* word weight */
} uword;

static double lse2(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

/* One EM step over the words: expected counts ec[] given score[], then
 * score = log(ec / total). Pieces are looked up in v; alive[] masks pruned ones. */
static xf_status em_step(const uword *w, size_t nw, const strtab *v, const uint8_t *alive, double *score, double *ec) {
    size_t np = v->n;
    for (size_t i = 0; i < np; i++) ec[i] = 0;
    size_t maxch = 0;
    for (size_t i = 0; i < nw; i++)
        if (w[i].nch > maxch) maxch = w[i].nch;
    double *al = malloc((maxch + 1) * sizeof *al), *be = malloc((maxch + 1) * sizeof *be);
    size_t *cb = malloc((maxch + 1) * sizeof *cb);
    if (!al || !be || !cb) {
        free(al);
        free(be);
        free(cb);
        return xf_fail(XF_ERR_OOM, "out of memory in unigram training");
    }
    for (size_t i = 0; i < nw; i++) {
        const char *s = w[i].s;
        size_t n = w[i].nch;
        cb[0] = 0;
        for (size_t k = 0, b = 0; k < n; k++) {
            size_t l = tok_utf8_char_len((const unsigned char *)s + b, w[i].len - b);
            b += l ? l : 1;
            cb[k + 1] = b;
        }
        for (size_t k = 0; k <= n; k++) al[k] = be[k] = -INFINITY;
        al[0] = 0;
        be[n] = 0;
        for (size_t a = 0; a < n; a++)
            for (size_t e = a + 1; e <= n && e - a <= UNI_MAX_CHARS; e++) {
                int32_t id = st_find(v, s + cb[a], cb[e] - cb[a]);
                if (id >= 0 && alive[id]) al[e] = lse2(al[e], al[a] + score[id]);
            }
        for (size_t e = n; e-- > 0;)
            for (size_t a2 = e + 1; a2 <= n && a2 - e <= UNI_MAX_CHARS; a2++) {
                int32_t id = st_find(v, s + cb[e], cb[a2] - cb[e]);
                if (id >= 0 && alive[id]) be[e] = lse2(be[e], be[a2] + score[id]);
            }
        double z = al[n];
        if (z == -INFINITY) continue;
        for (size_t a = 0; a < n; a++)
            for (size_t e = a + 1; e <= n && e - a <= UNI_MAX_CHARS; e++) {
                int32_t id = st_find(v, s + cb[a], cb[e] - cb[a]);
                if (id >= 0 && alive[id]) ec[id] += (double)w[i].count * exp(al[a] + score[id] + be[e] - z);
            }
    }
    double total = 0;
    for (size_t i = 0; i < np; i++)
        if (alive[i]) total += ec[i];
    for (size_t i = 0; i < np; i++)
        if (alive[i]) score[i] = ec[i] > 0 && total > 0 ? log(ec[i] / total) : -1e3;
    free(al);
    free(be);
    free(cb);
    return XF_OK;
}

static const double *g_sort_score; /* qsort has no context argument */
static const char *g_sort_keys;

/* substrings by frequency x length (descending), then by bytes */
static int by_freq_len(const void *a, const void *b) {
    const tok_wslot *x = *(const tok_wslot *const *)a, *y = *(const tok_wslot *const *)b;
    double sx = (double)x->count * x->len, sy = (double)y->count * y->len;
    if (sx != sy) return sx < sy ? 1 : -1;
    int c = memcmp(g_sort_keys + x->off, g_sort_keys + y->off, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}
static int by_score_desc(const void *a, const void *b) {
    double x = g_sort_score[*(const int32_t *)a], y = g_sort_score[*(const int32_t *)b];
    if (x != y) return x < y ? 1 : -1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

static xf_status train_unigram(xf_tokenizer **out, tok_wcount *wc, size_t vocab) {
    static const char *const specials[] = {"<unk>", "<s>", "</s>", "<pad>", "<mask>"};
    const size_t nsp = 5;
    if (vocab <= nsp) return xf_fail(XF_ERR_ARG, "unigram: --vocab-size must be above %zu", nsp);
    size_t target = vocab - nsp;
    strtab v = {0};
    uword *w = NULL;
    double *score = NULL, *ec = NULL;
    uint8_t *alive = NULL;
    int32_t *order = NULL;
    char **names = NULL;
    double *scores = NULL;
    tok_wcount sub = {0};
    xf_status s = XF_OK;
    size_t nw = 0;
    for (size_t i = 0; i < wc->cap; i++) nw += wc->tab[i].count != 0;
    w = malloc((nw + 1) * sizeof *w);
    if (!w) return xf_fail(XF_ERR_OOM, "out of memory for %zu words", nw);
    nw = 0;
    for (size_t i = 0; i < wc->cap; i++) {
        const tok_wslot *e = &wc->tab[i];
        if (!e->count) continue;
        const char *str = wc->keys + e->off;
        uint32_t nch = 0;
        for (size_t b = 0; b < e->len; nch++) {
            size_t l = tok_utf8_char_len((const unsigned char *)str + b, e->len - b);
            b += l ? l : 1;
        }
        w[nw++] = (uword){str, e->len, nch, e->count};
    }
    /* characters first (always kept), then the best substrings */
    for (size_t i = 0; i < nw && !s; i++)
        for (size_t b = 0; b < w[i].len;) {
            size_t l = tok_utf8_char_len((const unsigned char *)w[i].s + b, w[i].len - b);
            if (!l) l = 1;
            if (st_add(&v, w[i].s + b, l) < 0) s = xf_fail(XF_ERR_OOM, "out of memory");
            b += l;
        }
    size_t nchars = v.n;
    for (size_t i = 0; i < nw && !s; i++) {
        const char *str = w[i].s;
        for (size_t a = 0; a < w[i].len && !s;) {
            size_t e = a, k = 0;
            while (e < w[i].len && k < UNI_MAX_CHARS) {
                size_t l = tok_utf8_char_len((const unsigned char *)str + e, w[i].len - e);
                e += l ? l : 1;
                if (++k >= 2 && tok_wc_add_weight(&sub, str + a, e - a, w[i].count)) s = sub.err;
            }
            size_t l = tok_utf8_char_len((const unsigned char *)str + a, w[i].len - a);
            a += l ? l : 1;
        }
    }
    /* seeds: frequency x length, the best 4x target */
    size_t nsub = 0;
    for (size_t i = 0; i < sub.cap; i++) nsub += sub.tab[i].count >= 2;
    size_t nseed = 4 * target < nsub ? 4 * target : nsub;
    tok_wslot **cand = malloc((nsub + 1) * sizeof *cand);
    if (!cand && !s) s = xf_fail(XF_ERR_OOM, "out of memory");
    if (!s) {
        size_t k = 0;
        for (size_t i = 0; i < sub.cap; i++)
            if (sub.tab[i].count >= 2) cand[k++] = &sub.tab[i];
        g_sort_keys = sub.keys;
        qsort(cand, nsub, sizeof *cand, by_freq_len);
        for (size_t i = 0; i < nseed && !s; i++)
            if (st_add(&v, sub.keys + cand[i]->off, cand[i]->len) < 0) s = xf_fail(XF_ERR_OOM, "out of memory");
    }
    free(cand);
    size_t np = v.n;
    score = malloc((np + 1) * sizeof *score);
    ec = malloc((np + 1) * sizeof *ec);
    alive = malloc(np + 1);
    order = malloc((np + 1) * sizeof *order);
    if (!s && (!score || !ec || !alive || !order)) s = xf_fail(XF_ERR_OOM, "out of memory");
    for (size_t i = 0; i < np && !s; i++) {
        score[i] = -log((double)np); /* uniform start; EM sets the real scores */
        alive[i] = 1;
    }
    size_t live = np;
    for (int it = 0; !s; it++) {
        s = em_step(w, nw, &v, alive, score, ec);
        if (s || it % 2 == 0) continue;
        if (live <= target) {
            if (it >= 3) break;
            continue;
        }
        /* prune the weakest non-character pieces, at most a fifth at a time */
        size_t k = 0;
        for (size_t i = nchars; i < np; i++)
            if (alive[i]) order[k++] = (int32_t)i;
        g_sort_score = ec;
        qsort(order, k, sizeof *order, by_score_desc);
        size_t drop = live - target, cap = live / 5 + 1;
        if (drop > cap) drop = cap;
        if (drop > k) drop = k;
        for (size_t i = 0; i < drop; i++) alive[order[k - 1 - i]] = 0;
        live -= drop;
        if (drop == 0) break;
    }
    /* output: specials, then live pieces by score */
    size_t k = 0;
    for (size_t i = 0; i < np && !s; i++)
        if (alive[i]) order[k++] = (int32_t)i;
    names = malloc((k + nsp) * sizeof *names);
    scores = malloc((k + nsp) * sizeof *scores);
    if (!s && (!names || !scores)) s = xf_fail(XF_ERR_OOM, "out of memory");
    if (!s) {
        g_sort_score = score;
        qsort(order, k, sizeof *order, by_score_desc);
        for (size_t i = 0; i < nsp; i++) {
            names[i] = (char *)specials[i];
            scores[i] = 0;
        }
        for (size_t i = 0; i < k; i++) {
            names[nsp + i] = v.s[order[i]];
            /* 12 significant digits: short decimals every JSON reader
             * (serde_json's fast path included) parses to the same double */
            char num[32];
            snprintf(num, sizeof num, "%.12g", score[order[i]]);
            scores[nsp + i] = strtod(num, NULL);
        }
        s = tok_unigram_build(out, (const char *const *)names, scores, k + nsp, nsp, 0, "unigram training");
    }
    free(names);
    free(scores);
    free(w);
    free(score);
    free(ec);
    free(alive);
    free(order);
    free(sub.tab);
    free(sub.keys);
    st_free(&v);
    return s;
}

/* ---------------------------------------------------------------- entry */

xf_status xf_tokenizer_train_model(xf_tokenizer **out, const char *model, const char *const *files, size_t n_files,
                                   size_t vocab_size) {
    if (!out || !model || (n_files && !files)) return xf_fail(XF_ERR_ARG, "xf_tokenizer_train_model: NULL argument");
    *out = NULL;
    if (vocab_size > TOK_MAX_VOCAB) return xf_fail(XF_ERR_ARG, "--vocab-size %zu is above %zu", vocab_size, TOK_MAX_VOCAB);
    xf_status s;
    if (strcmp(model, "wordpiece") == 0) {
        wp_count c;
        memset(&c, 0, sizeof c);
        c.cfg.wp_clean = c.cfg.wp_chinese = c.cfg.wp_lower = c.cfg.wp_strip_accents = 1;
        s = each_file(files, n_files, wp_text, &c);
        if (!s) s = train_wordpiece(out, &c.wc, vocab_size);
        free(c.wc.tab);
        free(c.wc.keys);
        return s;
    }
    if (strcmp(model, "unigram") == 0) {
        tok_wcount wc = {0};
        s = each_file(files, n_files, uni_text, &wc);
        if (!s) s = train_unigram(out, &wc, vocab_size);
        free(wc.tab);
        free(wc.keys);
        return s;
    }
    return xf_fail(XF_ERR_ARG, "unknown tokenizer model '%s' (bpe, unigram, wordpiece)", model);
}
