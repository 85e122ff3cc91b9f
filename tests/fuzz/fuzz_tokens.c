/* xfmr token data files (src/data/dataset.c): open the bytes as --data with
 * no tokenizer (a token file must stand alone) and with the byte tokenizer
 * (text is encoded, a token file's hash is compared); on success split,
 * draw training and validation windows, and copy every id. */
#include "core/rng.h"
#include "fuzz.h"
#include "xfmr/data.h"

static void use(xf_dataset *ds) {
    size_t n = xf_dataset_len(ds), V = xf_dataset_vocab_size(ds);
    size_t T = 4, B = 2;
    int32_t in[8], tg[8];
    if (xf_dataset_split(ds, 0.25, T) == XF_OK) {
        xf_rng rng;
        xf_rng_seed(&rng, 7);
        for (int k = 0; k < 4; k++) {
            xf_dataset_train_batch(ds, &rng, B, T, in, tg);
            for (size_t i = 0; i < B * T; i++)
                if (in[i] < 0 || (size_t)in[i] >= V || tg[i] < 0 || (size_t)tg[i] >= V) abort();
        }
        if (xf_dataset_val_windows(ds, T)) xf_dataset_val_batch(ds, 0, B, T, in, tg);
    }
    int32_t *all = malloc((n ? n : 1) * sizeof *all);
    if (all && n <= (1u << 22) && xf_dataset_copy(ds, 0, n, all) == XF_OK)
        for (size_t i = 0; i < n; i++)
            if (all[i] < 0 || (size_t)all[i] > xf_dataset_max_id(ds)) abort();
    free(all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static xf_tokenizer *byte;
    if (!byte && xf_tokenizer_load(&byte, "byte") != XF_OK) return 0;
    const char *path = fuzz_file("data.tok", data, size);
    if (!path) return 0;
    xf_dataset *ds = NULL;
    if (xf_dataset_open(&ds, path, NULL) == XF_OK) use(ds);
    xf_dataset_free(ds);
    ds = NULL;
    if (xf_dataset_open(&ds, path, byte) == XF_OK) use(ds);
    xf_dataset_free(ds);
    return 0;
}
