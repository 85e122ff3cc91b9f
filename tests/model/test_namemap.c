/* Tensor-name tables: matching, rendering and translation both ways. */
#include "model/namemap.h"
#include <string.h>

#include "test.h"

static const namemap_row ROWS[] = {
    {"model.embed_tokens.weight", "token_embd.weight", 0},
    {"model.layers.{L}.self_attn.q_proj.weight", "blk.{L}.attn_q.weight", 1},
    {"model.layers.{L}.block_sparse_moe.experts.{E}.w1.weight", "blk.{L}.ffn_gate.{E}.weight", 2},
};
#define NROWS (sizeof ROWS / sizeof ROWS[0])

TEST(test_match) {
    long L = 7, E = 7;
    CHECK(namemap_match("model.embed_tokens.weight", "model.embed_tokens.weight", &L, &E));
    CHECK(L == -1 && E == -1);
    CHECK(namemap_match("a.{L}.b.{E}.c", "a.12.b.3.c", &L, &E));
    CHECK(L == 12 && E == 3);
    CHECK(!namemap_match("a.{L}.b", "a..b", &L, &E));          /* no digits */
    CHECK(!namemap_match("a.{L}.b", "a.1x.b", &L, &E));        /* junk after digits */
    CHECK(!namemap_match("a.{L}.b", "a.1.b.extra", &L, &E));   /* trailing text */
    CHECK(!namemap_match("a.{L}.b", "a.1234567890.b", &L, &E)); /* absurd index */
    CHECK(!namemap_match("a.b", "a.", &L, &E));
}

TEST(test_render) {
    char buf[64];
    CHECK(namemap_render("blk.{L}.ffn_gate.{E}.weight", 3, 11, buf, sizeof buf) == 0);
    CHECK_MSG(!strcmp(buf, "blk.3.ffn_gate.11.weight"), "got %s", buf);
    CHECK(namemap_render("blk.{L}.x", -1, 0, buf, sizeof buf) == -1); /* index needed */
    CHECK(namemap_render("blk.{L}.attn_q.weight", 3, -1, buf, 8) == -1); /* does not fit */
    CHECK(namemap_render("abc", -1, -1, buf, 4) == 0);
    CHECK(namemap_render("abcd", -1, -1, buf, 4) == -1);
}

TEST(test_translate) {
    char buf[128];
    const namemap_row *r = namemap_translate(ROWS, NROWS, 0, "model.layers.5.self_attn.q_proj.weight", buf, sizeof buf);
    CHECK(r && r->op == 1);
    CHECK_MSG(!strcmp(buf, "blk.5.attn_q.weight"), "got %s", buf);
    r = namemap_translate(ROWS, NROWS, 1, "blk.2.ffn_gate.6.weight", buf, sizeof buf);
    CHECK(r && r->op == 2);
    CHECK_MSG(!strcmp(buf, "model.layers.2.block_sparse_moe.experts.6.w1.weight"), "got %s", buf);
    CHECK(!namemap_translate(ROWS, NROWS, 1, "blk.2.unknown.weight", buf, sizeof buf));
}

int main(void) {
    RUN(test_match);
    RUN(test_render);
    RUN(test_translate);
    return test_summary();
}
