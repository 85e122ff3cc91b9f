/* xfmr command-line entry: dispatch to one subcommand per file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} COMMANDS[] = {
    {"train", xf_cmd_train, "train a model (from scratch or --resume)"},
    {"generate", xf_cmd_generate, "sample text from a checkpoint with a KV cache"},
    {"score", xf_cmd_score, "loss and perplexity of text or ids; --dump-logits"},
    {"fill", xf_cmd_fill, "predict the [MASK] tokens of a text with an encoder model"},
    {"info", xf_cmd_info, "config, parameter counts and memory of a preset or checkpoint"},
    {"bench", xf_cmd_bench, "benchmark training on synthetic tokens (bench train ...)"},
    {"prepare", xf_cmd_prepare, "tokenize text into a token file"},
    {"corpus", xf_cmd_corpus, "write the built-in procedurally generated corpus"},
    {"tokenizer", xf_cmd_tokenizer, "train, encode and decode with tokenizers"},
    {"plot", xf_cmd_plot, "draw training curves from log.jsonl files as SVG"},
    {"masks", xf_cmd_masks, "draw the attention mask of each family (terminal grid, --svg)"},
    {"export", xf_cmd_export, "write a model as a Hugging Face directory, GGUF or llama2.c file"},
    {"routes", xf_cmd_routes, "show which experts each token goes to in an MoE model (--text, --file)"},
    {"study", xf_cmd_study, "train a grid of families/objectives/MoE at equal FLOPs and compare them"},
};

static void usage(FILE *f) {
    fprintf(f, "xfmr: train and run transformer language models on CPUs\n\n"
               "usage: xfmr <command> [flags]   (xfmr <command> --help for its flags)\n\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f, "\nmodels: a preset (gpt2-tiny, llama-tiny, bench-gpt), a config.json, or a checkpoint directory\n");
}

/* OpenMP wait policy (docs/architecture.md, Threads): libgomp reads
 * OMP_WAIT_POLICY once, before main, and by default an idle thread spins
 * between parallel regions. On a shared machine that spinning took half the
 * CPU time of a 2-thread training step and doubled its wall time
 * (docs/benchmarks.md). Unless the user chose a policy (OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT set), run again once with OMP_WAIT_POLICY=passive; if that
 * exec fails, carry on as we are. */
static void wait_policy(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1)) return;
    execv("/proc/self/exe", argv);
    unsetenv("OMP_WAIT_POLICY");
}

int main(int argc, char **argv) {
    wait_policy(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "xfmr: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
