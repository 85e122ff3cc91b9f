/* xfmr: SentencePiece BPE (.model protobuf, llama2.c tokenizer.bin). */
#include "data/tok_impl.h"

xf_status tok_spm_parse_model(xf_tokenizer **out, const char *data, size_t len, const char *path) {
    (void)data;
    (void)len;
    *out = NULL;
    return xf_fail(XF_ERR_UNSUPPORTED, "%s: SentencePiece models are not supported yet", path);
}

xf_status tok_spm_parse_bin(xf_tokenizer **out, const char *data, size_t len, const char *path) {
    (void)data;
    (void)len;
    *out = NULL;
    return xf_fail(XF_ERR_UNSUPPORTED, "%s: tokenizer.bin is not supported yet", path);
}

xf_status tok_spm_encode(const xf_tokenizer *t, const char *text, size_t len, int32_t **ids,
                         size_t *n) {
    (void)t;
    (void)text;
    (void)len;
    (void)ids;
    (void)n;
    return xf_fail(XF_ERR_UNSUPPORTED, "SentencePiece encoding is not supported yet");
}
