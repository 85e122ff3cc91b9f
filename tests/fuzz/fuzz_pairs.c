/* input<TAB>target pair files (src/data/pairs.c): open with the byte
 * tokenizer; on success split and lay out batches for the three families
 * that take pairs (decoder, prefix LM, encoder-decoder). */
#include "core/rng.h"
#include "fuzz.h"
#include "xfmr/objective.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static xf_tokenizer *byte;
    if (!byte && xf_tokenizer_load(&byte, "byte") != XF_OK) return 0;
    const char *path = fuzz_file("pairs.tsv", data, size);
    if (!path) return 0;
    xf_pairs *p = NULL;
    if (xf_pairs_open(&p, path, byte) != XF_OK) {
        xf_pairs_free(p);
        return 0;
    }
    if (xf_pairs_split(p, 0.25) == XF_OK) {
        static const xf_arch archs[] = {XF_ARCH_DECODER, XF_ARCH_PREFIX_LM, XF_ARCH_ENCODER_DECODER};
        for (size_t a = 0; a < 3; a++) {
            xf_config cfg;
            xf_config_defaults(&cfg);
            cfg.arch = archs[a];
            cfg.vocab_size = xf_tokenizer_vocab_size(byte);
            xf_objective_opts oo;
            if (xf_objective_opts_init(&oo, XF_OBJ_CLM, &cfg, byte) != XF_OK) continue;
            oo.arch = archs[a];
            enum { B = 2, T = 6, S = 5 };
            int32_t ids[B * T], tg[B * T], len[B], pl[B], src[B * S], sl[B];
            xf_batch_buf bb = {.B = B, .T = T, .S = archs[a] == XF_ARCH_ENCODER_DECODER ? S : 0, .ids = ids,
                               .targets = tg, .lengths = len, .prefix_len = pl, .src = src, .src_lengths = sl};
            xf_rng rng;
            xf_rng_seed(&rng, 3);
            xf_pairs_batch(&oo, p, 0, 0, &rng, &bb);
            if (xf_pairs_val_count(p)) xf_pairs_batch(&oo, p, 1, 0, &rng, &bb);
        }
    }
    xf_pairs_free(p);
    return 0;
}
