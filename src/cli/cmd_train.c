/* xfmr train: flags -> xf_train_opts, a live progress line on terminals. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "xfmr/dist.h"
#include "xfmr/objective.h"
#include "xfmr/train.h"

static const char *TRAIN_HELP =
    "usage: xfmr train --model PRESET|CONFIG|DIR --data FILE --out DIR [flags]\n"
    "       xfmr train --resume --out DIR [--data FILE] [--steps N]\n"
    "  --data FILE         token file (xfmr prepare), UTF-8 text, or FILE.tsv of input<TAB>target lines;\n"
    "                      also a shard directory (xfmr prepare --out DIR/) or a quoted glob of files\n"
    "  --val-data FILE     separate validation data (same forms); replaces --val-fraction\n"
    "  --objective OBJ     clm, prefix, span, mlm, ul2, bart, glm or gmask (default: the architecture's:\n"
    "                      decoder clm, prefix_lm prefix, encoder mlm, encoder_decoder span)\n"
    "  --target-seq N      encoder-decoder decoder length (default: from --seq and the objective)\n"
    "  --noise-density R --mean-span M   span/ul2 corruption (0.15, 3)\n"
    "  --mlm-probability P masked fraction for mlm (0.15)\n"
    "  --ul2-weights R,S,X mixing weights of the UL2 denoisers (1,1,1)\n"
    "  --tokenizer SPEC    tokenizer for text data (default byte; the checkpoint's on resume);\n"
    "                      a preset takes its vocab_size from it (padded to a multiple of 64)\n"
    "  --set KEY=VALUE     override a config field (repeatable; checked as in config.json)\n"
    "  --init model|random a --model with weights (checkpoint dir, Hugging Face dir, .gguf, llama2.c\n"
    "                      .bin) starts from them and the tokenizer it carries, with a fresh\n"
    "                      optimizer (default: model); random: only its config\n"
    "  --steps N           total optimizer steps (default 1000)\n"
    "  --batch B --seq T   sequences per micro-batch and their length (16, 128)\n"
    "  --accum K           micro-batches per step (1)\n"
    "  --lr --min-lr       peak and final learning rate (1e-3, 1e-4)\n"
    "  --warmup N          linear warmup steps (50), then cosine decay to --min-lr\n"
    "  --decay-steps N     cosine horizon (default --steps)\n"
    "  --weight-decay W    decoupled, on matrices only (0.1)\n"
    "  --beta1 --beta2     AdamW betas (0.9, 0.99)\n"
    "  --grad-clip C       global-norm clip, 0 = off (1.0)\n"
    "  --eval-every N --eval-batches K   validation cadence (100, 8)\n"
    "  --val-fraction F    tail of the data held out (0.1)\n"
    "  --save-every N      checkpoint cadence (0 = only at the end)\n"
    "  --seed S --threads N\n"
    "  --dtype fp32|bf16   matmul inputs (fp32); bf16 keeps fp32 accumulation, master weights\n"
    "                      and AdamW state, needs AVX512-BF16, and is not saved: repeat it on --resume\n"
    "  --resume            continue from --out bit for bit\n"
    "  --quiet             no progress line\n"
    "  --skip-nonfinite N  skip a step whose loss or gradient norm is not finite (no update),\n"
    "                      giving up after N in a row (default 0: stop at the first)\n"
    "Ctrl-C (SIGINT/SIGTERM) saves a checkpoint at the current step and stops (exit 130).\n"
    "Many processes (docs/scale-out.md): mpirun -np N xfmr train ... splits each global --batch\n"
    "(divisible by N) over N data-parallel ranks; rank 0 alone prints, logs and saves.\n"
    "  --zero 1            shard the AdamW moments over the ranks (ZeRO-1); 0 (default) keeps them whole\n"
    "  XFMR_DIST_TIMEOUT=S a rank that waits S seconds (300) for the others aborts the job\n";

typedef struct {
    int tty, quiet;
    size_t step; /* last step reported */
    char init[600]; /* how the weights were initialised, shown with the first event (once inputs are valid) */
} progress;

/* Ctrl-C (or SIGTERM) asks the trainer to save a checkpoint and stop. */
static volatile sig_atomic_t g_interrupted;
static void on_signal(int sig) { g_interrupted = sig; }

/* A collective that waited too long (dist.h's watchdog): say so; the job is then aborted. */
static void on_hang(const char *msg) { fprintf(stderr, "xfmr: %s\n", msg); }

/* Under mpirun: leave the world cleanly on success; on failure say which rank
 * failed and end the whole job (the other ranks may wait in a collective). */
static int dist_exit(int code) {
    if (xf_dist_size() <= 1) return code;
    if (code == 0 || code == 130) {
        xf_dist_finalize();
        return code;
    }
    fprintf(stderr, "xfmr: rank %d of %d failed; aborting the job\n", xf_dist_rank(), xf_dist_size());
    xf_dist_abort(code);
    return code;
}

static int on_event(const xf_train_event *ev, void *ctx) {
    progress *p = ctx;
    p->step = ev->step;
    if (p->init[0] && !p->quiet) fprintf(stderr, "%s\n", p->init);
    p->init[0] = '\0';
    if (ev->warning && xf_dist_rank() == 0) fprintf(stderr, "%sxfmr: warning: %s\n", p->tty ? "\r\033[K" : "", ev->warning);
    if (p->quiet) return g_interrupted != 0;
    if (ev->is_eval) {
        fprintf(stderr, "%sstep %zu: val_loss %.4f\n", p->tty ? "\r\033[K" : "", ev->step, ev->val_loss);
        return g_interrupted != 0;
    }
    int eta = (int)ev->eta_s;
    if (p->tty)
        fprintf(stderr, "\r\033[Kstep %zu/%zu  loss %.4f  lr %.2e  %.0f tok/s  ETA %d:%02d", ev->step,
                ev->steps, ev->loss, ev->lr, ev->tokens_per_s, eta / 60, eta % 60);
    else if (ev->step % 10 == 0 || ev->step == ev->steps || ev->step == 1)
        fprintf(stderr, "step %zu/%zu  loss %.4f  lr %.2e  %.0f tok/s  ETA %d:%02d\n", ev->step,
                ev->steps, ev->loss, ev->lr, ev->tokens_per_s, eta / 60, eta % 60);
    if (p->tty && ev->step == ev->steps) fputc('\n', stderr);
    return g_interrupted != 0;
}

int xf_cmd_train(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        fputs(TRAIN_HELP, stdout);
        return 0;
    }
    xf_train_paths p = {0};
    xf_train_opts o;
    xf_train_opts_default(&o);
    p.resume = xf_args_flag(&a, "resume");
    p.out = xf_args_str(&a, "out", NULL);
    if (p.resume && p.out && xf_train_load_opts(p.out, &o)) return xf_cli_fail();
    p.model = xf_args_str(&a, "model", NULL);
    p.data = xf_args_str(&a, "data", NULL);
    p.val_data = xf_args_str(&a, "val-data", NULL);
    p.tokenizer = xf_args_str(&a, "tokenizer", NULL);
    const char *init = xf_args_str(&a, "init", NULL);
    const char *sets[64];
    size_t n_sets = xf_args_strs(&a, "set", sets, 64);
    if (n_sets > 64) return xf_cli_error(2, "train: at most 64 --set overrides");
    p.sets = sets;
    p.n_sets = n_sets;
    long steps = xf_args_long(&a, "steps", (long)o.steps);
    long decay = xf_args_long(&a, "decay-steps", (long)o.decay_steps);
    long batch = xf_args_long(&a, "batch", (long)o.batch);
    long seq = xf_args_long(&a, "seq", (long)o.seq);
    long accum = xf_args_long(&a, "accum", (long)o.accum);
    long warmup = xf_args_long(&a, "warmup", (long)o.warmup);
    long eval_every = xf_args_long(&a, "eval-every", (long)o.eval_every);
    long eval_batches = xf_args_long(&a, "eval-batches", (long)o.eval_batches);
    long save_every = xf_args_long(&a, "save-every", (long)o.save_every);
    long seed = xf_args_long(&a, "seed", (long)o.seed);
    long threads = xf_args_long(&a, "threads", o.threads);
    long skip_nonfinite = xf_args_long(&a, "skip-nonfinite", 0);
    o.lr = (float)xf_args_double(&a, "lr", o.lr);
    o.min_lr = (float)xf_args_double(&a, "min-lr", o.min_lr);
    o.weight_decay = (float)xf_args_double(&a, "weight-decay", o.weight_decay);
    o.beta1 = (float)xf_args_double(&a, "beta1", o.beta1);
    o.beta2 = (float)xf_args_double(&a, "beta2", o.beta2);
    o.grad_clip = (float)xf_args_double(&a, "grad-clip", o.grad_clip);
    o.val_fraction = xf_args_double(&a, "val-fraction", o.val_fraction);
    const char *objective = xf_args_str(&a, "objective", NULL);
    long target_seq = xf_args_long(&a, "target-seq", (long)o.target_seq);
    o.noise_density = (float)xf_args_double(&a, "noise-density", o.noise_density);
    o.mean_span = (float)xf_args_double(&a, "mean-span", o.mean_span);
    o.mlm_probability = (float)xf_args_double(&a, "mlm-probability", o.mlm_probability);
    const char *ul2w = xf_args_str(&a, "ul2-weights", NULL);
    const char *dtype = xf_args_str(&a, "dtype", "fp32");
    long zero = xf_args_long(&a, "zero", 0);
    progress pr = {.tty = isatty(2), .quiet = xf_args_flag(&a, "quiet")};
    if (xf_args_finish(&a)) return 2;
    if (steps < 0 || decay < 0 || batch <= 0 || seq <= 0 || accum <= 0 || warmup < 0 ||
        eval_every < 0 || eval_batches < 0 || save_every < 0 || seed < 0 || skip_nonfinite < 0)
        return xf_cli_error(2, "train: step counts must be >= 0 and --batch/--seq/--accum > 0");
    if (!p.out) return xf_cli_error(2, "train: --out DIR is required (see xfmr train --help)");
    if (objective) {
        xf_objective ob;
        if (xf_objective_parse(objective, &ob)) return xf_cli_fail();
        o.objective = (int)ob;
    }
    if (xf_dtype_parse(dtype, &o.dtype)) return xf_cli_fail();
    if (zero != 0 && zero != 1) return xf_cli_error(2, "train: --zero must be 0 or 1, got %ld", zero);
    o.zero = (int)zero;
    if (target_seq < 0) return xf_cli_error(2, "train: --target-seq must be >= 0");
    o.target_seq = (size_t)target_seq;
    if (!(o.noise_density >= 0 && o.noise_density < 1) || !(o.mean_span >= 0 && o.mean_span <= 1e6) ||
        !(o.mlm_probability >= 0 && o.mlm_probability < 1))
        return xf_cli_error(2, "train: --noise-density and --mlm-probability must be in [0, 1), --mean-span >= 0");
    if (ul2w) {
        float w[3];
        char tail;
        if (sscanf(ul2w, "%f,%f,%f%c", &w[0], &w[1], &w[2], &tail) != 3 || !(w[0] >= 0) || !(w[1] >= 0) ||
            !(w[2] >= 0) || !(w[0] + w[1] + w[2] > 0))
            return xf_cli_error(2, "train: --ul2-weights wants three weights R,S,X >= 0, not all 0 (got \"%s\")",
                                ul2w);
        memcpy(o.ul2_weights, w, sizeof w);
    }
    if (!p.resume && (!p.model || !p.data))
        return xf_cli_error(2, "train: --model and --data are required (see xfmr train --help)");
    if (p.resume && !p.data) return xf_cli_error(2, "train: --resume needs --data too");
    if (init && strcmp(init, "random") && strcmp(init, "model"))
        return xf_cli_error(2, "train: --init must be random or model, got \"%s\"", init);
    if (init && p.resume) return xf_cli_error(2, "train: --init is for a new run, not --resume");
    p.init_random = init && !strcmp(init, "random");
    if (!p.resume) {
        if (xf_train_spec_has_weights(p.model) && !p.init_random)
            snprintf(pr.init, sizeof pr.init, "xfmr: init: the weights of %s (fine-tuning, fresh optimizer)", p.model);
        else
            snprintf(pr.init, sizeof pr.init, "xfmr: init: random weights (%s)",
                     p.init_random ? "--init random" : "the model spec is a preset or config, with no weights");
    }
    o.steps = (size_t)steps;
    o.decay_steps = (size_t)decay;
    o.batch = (size_t)batch;
    o.seq = (size_t)seq;
    o.accum = (size_t)accum;
    o.warmup = (size_t)warmup;
    o.eval_every = (size_t)eval_every;
    o.eval_batches = (size_t)eval_batches;
    o.save_every = (size_t)save_every;
    o.seed = (uint64_t)seed;
    o.threads = (int)threads;
    o.skip_nonfinite = (size_t)skip_nonfinite;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (xf_dist_init()) return xf_cli_fail();
    xf_dist_on_hang(on_hang);
    if (xf_dist_rank() > 0) { /* rank 0 alone shows progress */
        pr.quiet = 1;
        pr.tty = 0;
        pr.init[0] = '\0';
    }
    xf_status st = xf_train(&p, &o, on_event, &pr);
    if (pr.tty && !pr.quiet && (st || g_interrupted)) fputc('\n', stderr);
    if (st) return dist_exit(xf_cli_fail());
    if (g_interrupted) {
        if (xf_dist_rank() == 0)
            fprintf(stderr, "xfmr: interrupted: checkpoint saved at step %zu in %s (continue with --resume)\n",
                    pr.step, p.out);
        return dist_exit(130);
    }
    return dist_exit(0);
}
