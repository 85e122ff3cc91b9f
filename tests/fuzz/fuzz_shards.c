/* Shard index (src/data/shards.c): the bytes are the index.json of a directory
 * that also holds two good shards, a.bin (100 ids) and b.bin (50 ids), vocab
 * 300, hash 0x77. Parsed directly, then opened as --data (every shard header
 * checked against the index); anything accepted is split and read whole. */
#include "core/rng.h"
#include "data/shards.h"
#include "fuzz.h"
#include "xfmr/data.h"

static void use(xf_dataset *ds) {
    size_t n = xf_dataset_len(ds), V = xf_dataset_vocab_size(ds);
    int32_t in[8], tg[8];
    if (xf_dataset_split(ds, 0.25, 4) == XF_OK) {
        xf_rng rng;
        xf_rng_seed(&rng, 7);
        xf_dataset_train_batch(ds, &rng, 2, 4, in, tg);
        for (size_t i = 0; i < 8; i++)
            if (in[i] < 0 || (size_t)in[i] >= V || tg[i] < 0 || (size_t)tg[i] >= V) abort();
        xf_dataset_train_rows(ds, 1, 2, 3, 2, 4, in, tg);
        if (xf_dataset_val_windows(ds, 4)) xf_dataset_val_batch(ds, 1, 2, 4, in, tg);
    }
    int32_t *all = malloc((n ? n : 1) * sizeof *all);
    if (all && xf_dataset_copy(ds, 0, n, all) == XF_OK)
        for (size_t i = 0; i < n; i++)
            if (all[i] < 0 || (size_t)all[i] > xf_dataset_max_id(ds)) abort();
    free(all);
    if (xf_dataset_status(ds) != XF_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    static char dir[512];
    if (!ready) {
        snprintf(dir, sizeof dir, "%s/shards", fuzz_dir());
        mkdir(dir, 0700);
        char p[600];
        int32_t ids[100];
        for (int i = 0; i < 100; i++) ids[i] = (i * 7) % 300;
        snprintf(p, sizeof p, "%s/a.bin", dir);
        if (xf_tokens_write(p, ids, 100, 300, 0x77) != XF_OK) return 0;
        snprintf(p, sizeof p, "%s/b.bin", dir);
        if (xf_tokens_write(p, ids, 50, 300, 0x77) != XF_OK) return 0;
        ready = 1;
    }
    xf_shard_index ix;
    if (shard_index_parse(&ix, (const char *)data, size, dir, "index.json") == XF_OK) {
        size_t sum = 0;
        for (size_t i = 0; i < ix.n; i++) sum += ix.counts[i];
        if (sum != ix.tokens || ix.n == 0) abort();
        shard_index_free(&ix);
    }
    char p[600];
    snprintf(p, sizeof p, "%s/index.json", dir);
    FILE *f = fopen(p, "wb");
    if (!f) return 0;
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || w != size) return 0;
    xf_dataset *ds = NULL;
    if (xf_dataset_open(&ds, dir, NULL) == XF_OK) use(ds);
    xf_dataset_free(ds);
    return 0;
}
