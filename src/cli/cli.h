/* xfmr CLI: one function per subcommand, each returning the process exit code.
 * Only code under src/cli/ prints or exits. Errors are printed as one line:
 *   xfmr: <message>
 * and give exit code 1 (2 for usage errors). */
#ifndef XF_CLI_H
#define XF_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/tokenizer.h"

int xf_cmd_train(int argc, char **argv);
int xf_cmd_generate(int argc, char **argv);
int xf_cmd_score(int argc, char **argv);
int xf_cmd_fill(int argc, char **argv);
int xf_cmd_info(int argc, char **argv);
int xf_cmd_bench(int argc, char **argv);
int xf_cmd_prepare(int argc, char **argv);
int xf_cmd_corpus(int argc, char **argv);
int xf_cmd_tokenizer(int argc, char **argv);
int xf_cmd_plot(int argc, char **argv);
int xf_cmd_masks(int argc, char **argv);
int xf_cmd_routes(int argc, char **argv);
int xf_cmd_export(int argc, char **argv);
int xf_cmd_study(int argc, char **argv);

/* ---- args.c: a tiny flag parser -------------------------------------------
 * Flags are "--name value" or "--name=value"; booleans are "--name".
 * Usage:
 *   xf_args a; xf_args_init(&a, argc, argv);   // argv[0] is the subcommand
 *   const char *model = xf_args_str(&a, "model", NULL);
 *   long steps = xf_args_long(&a, "steps", 100);
 *   int resume = xf_args_flag(&a, "resume");
 *   if (xf_args_finish(&a)) return 2;           // unknown flags, bad numbers
 */
typedef struct {
    int argc;
    char **argv;
    unsigned char used[256]; /* per argv index: consumed by a lookup */
    int bad;                 /* a number failed to parse (message printed) */
} xf_args;

void xf_args_init(xf_args *a, int argc, char **argv);
const char *xf_args_str(xf_args *a, const char *name, const char *def);
long xf_args_long(xf_args *a, const char *name, long def);
double xf_args_double(xf_args *a, const char *name, double def);
int xf_args_flag(xf_args *a, const char *name);
/* Every value of a repeatable flag (--set A=1 --set B=2), at most max; returns the count. */
size_t xf_args_strs(xf_args *a, const char *name, const char **out, size_t max);
/* Positional (non-flag) argument number i, or NULL. */
const char *xf_args_pos(xf_args *a, int i);
/* Prints "xfmr <cmd>: unknown flag --x" for unused flags; returns nonzero on any problem. */
int xf_args_finish(xf_args *a);

/* Print "xfmr: <library message>" to stderr and return 1. */
int xf_cli_fail(void);
/* Print "xfmr: <formatted message>" to stderr and return `code`. */
int xf_cli_error(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- splice.c: special tokens spelled out in a text -------------------------
 * Encode text, turning spelled-out specials into ids: with `sentinels`,
 * "<extra_id_K>" becomes the tokenizer's sentinel K (left as text when it has
 * none); with mask >= 0, "[MASK]" and "<mask>" become `mask`, and *mask_pos
 * (malloc'd; may be NULL) gets their token positions, *nmask their count. The
 * text between specials is encoded piece by piece; a text without any is
 * encoded whole. *ids is malloc'd even when empty. 0, or an exit code after
 * printing the error. */
int xf_cli_encode_spliced(const xf_tokenizer *tok, const char *text, size_t len, int sentinels, int32_t mask,
                          int32_t **ids, size_t *n, size_t **mask_pos, size_t *nmask);
/* Append m ids to the growing array *ids (*n used of *cap); 0 or an exit code. */
int xf_cli_append_ids(int32_t **ids, size_t *n, size_t *cap, const int32_t *add, size_t m);

/* Parse whitespace-separated integer ids (from --ids or a file); malloc'd. */
int xf_cli_parse_ids(const char *s, int32_t **ids, size_t *n);

#endif
