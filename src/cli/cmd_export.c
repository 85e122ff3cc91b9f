/* xfmr export: write a model in another format (the writers' table is in
 * src/model/model_export.c; docs/formats.md describes each format). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "xfmr/model.h"
#include "xfmr/tokenizer.h"

int xf_cmd_export(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        puts("usage: xfmr export --model SPEC --format FORMAT --out PATH [--dtype f32|f16|bf16|q8_0]\n"
             "  SPEC: any model xfmr reads (checkpoint dir, Hugging Face dir, .gguf, llama2.c .bin)\n"
             "  FORMAT: xfmr, hf, gguf, llama2c (see docs/formats.md)");
        return 0;
    }
    const char *spec = xf_args_str(&a, "model", NULL);
    const char *format = xf_args_str(&a, "format", NULL);
    const char *out = xf_args_str(&a, "out", NULL);
    const char *dtype = xf_args_str(&a, "dtype", NULL);
    if (xf_args_finish(&a)) return 2;
    if (!spec || !format || !out) return xf_cli_error(2, "export: --model, --format and --out are required");
    xf_model *m = NULL;
    xf_tokenizer *tok = NULL;
    if (xf_model_open(&m, spec)) return xf_cli_fail();
    if (xf_model_open_tokenizer(&tok, spec)) {
        xf_model_free(m);
        return xf_cli_fail();
    }
    int rc = 0;
    if (xf_model_export(m, tok, format, out, dtype)) rc = xf_cli_fail();
    else fprintf(stderr, "xfmr: wrote %s (%s%s%s)\n", out, format, dtype ? ", " : "", dtype ? dtype : "");
    xf_tokenizer_free(tok);
    xf_model_free(m);
    return rc;
}
