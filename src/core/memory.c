/* Memory planned up front (xfmr/memory.h): the arenas' sizes from the config,
 * and the memory available from XFMR_MEMORY_LIMIT, cgroups and /proc/meminfo. */
#include "xfmr/memory.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfmr/model.h"

static size_t add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
static size_t mul(size_t a, size_t b) { return b && a > SIZE_MAX / b ? SIZE_MAX : a * b; }

size_t xf_mem_plan_total(const xf_mem_plan *p) {
    return add(add(add(p->params, p->grads), add(p->optimizer, p->activations)), p->kv_cache);
}

void xf_mem_plan_train(xf_mem_plan *p, const xf_config *cfg, size_t B, size_t T, size_t S) {
    memset(p, 0, sizeof *p);
    p->params = mul(xf_config_num_params(cfg), sizeof(float));
    p->grads = p->params;
    p->optimizer = mul(2, p->params);
    p->activations = xf_model_activation_bytes_ex(cfg, B, T, S, 1);
}

void xf_mem_plan_generate(xf_mem_plan *p, const xf_config *cfg, size_t beams, size_t Tmax, size_t Smax) {
    memset(p, 0, sizeof *p);
    int encdec = cfg->arch == XF_ARCH_ENCODER_DECODER;
    if (!encdec) Smax = 0;
    size_t M = Tmax > Smax ? Tmax : Smax;
    p->params = mul(xf_config_num_params(cfg), sizeof(float));
    p->activations = xf_model_activation_bytes_ex(cfg, beams, M, encdec ? M : 0, 0);
    /* as xf_model_cache_reserve_ex: per decoder layer k and v of every row, and
     * the cross-attention k and v of the source */
    size_t H = cfg->num_attention_heads ? cfg->num_attention_heads : 1;
    size_t KV = mul(cfg->num_key_value_heads ? cfg->num_key_value_heads : H, cfg->hidden_size / H);
    size_t Ldec = encdec && cfg->num_decoder_layers ? cfg->num_decoder_layers : cfg->num_hidden_layers;
    size_t per = mul(mul(beams, Tmax), KV), xper = mul(mul(beams, Smax), KV);
    size_t floats = add(add(mul(Ldec, add(mul(2, per), mul(2, xper))), mul(mul(beams, M), KV)),
                        add(mul(beams, cfg->vocab_size), beams));
    p->kv_cache = mul(floats, sizeof(float));
}

/* "123", "64M", "2.5G" -> bytes; -1 when malformed. */
static int parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0)) return -1;
    double scale = 1;
    switch (*end) {
    case 'k': case 'K': scale = 1024.0; end++; break;
    case 'm': case 'M': scale = 1024.0 * 1024; end++; break;
    case 'g': case 'G': scale = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': scale = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b') end++;
    if (*end) return -1;
    double b = v * scale;
    *out = b >= 1.8e19 ? SIZE_MAX : (size_t)b;
    return 0;
}

/* First unsigned number in file `path` (0 on success), -1 if absent or "max". */
static int read_number(const char *path, size_t *out) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    unsigned long long v;
    int ok = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    if (!ok) return -1;
    *out = (size_t)v;
    return 0;
}

static int meminfo_available(size_t *out) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            *out = (size_t)kb * 1024;
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

xf_status xf_mem_available(size_t *bytes, const char **source) {
    const char *env = getenv("XFMR_MEMORY_LIMIT");
    if (env && *env) {
        if (parse_size(env, bytes))
            return xf_fail(XF_ERR_ARG, "XFMR_MEMORY_LIMIT=%s: expected a size such as 512M or 4G", env);
        *source = "XFMR_MEMORY_LIMIT";
        return XF_OK;
    }
    size_t avail = 0, lim, used = 0;
    int have = meminfo_available(&avail) == 0;
    *source = "MemAvailable in /proc/meminfo";
    const char *cg_lim[] = {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
    const char *cg_use[] = {"/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory/memory.usage_in_bytes"};
    for (int i = 0; i < 2; i++) {
        if (read_number(cg_lim[i], &lim) || lim >= ((size_t)1 << 60)) continue; /* "max" or unlimited */
        if (read_number(cg_use[i], &used)) used = 0;
        size_t room = lim > used ? lim - used : 0;
        if (!have || room < avail) {
            avail = room;
            *source = i ? "cgroup memory.limit_in_bytes" : "cgroup memory.max";
        }
        have = 1;
        break;
    }
    if (!have) return xf_fail(XF_ERR_IO, "cannot tell how much memory is available");
    *bytes = avail;
    return XF_OK;
}

static double gib(size_t b) { return (double)b / (1024.0 * 1024 * 1024); }

xf_status xf_mem_check(const xf_mem_plan *p, const char *what, const char *hint) {
    size_t avail = 0;
    const char *src = NULL;
    const char *env = getenv("XFMR_MEMORY_LIMIT");
    xf_status s = xf_mem_available(&avail, &src);
    if (s) return env && *env ? s : XF_OK; /* a malformed limit is an error; unknown memory refuses nothing */
    size_t need = xf_mem_plan_total(p);
    if (p->activations == SIZE_MAX) return XF_OK; /* a shape the job itself refuses, with its own message */
    if (need <= avail) return XF_OK;
    char parts[512];
    int n = snprintf(parts, sizeof parts, "parameters %.3f", gib(p->params));
    if (p->grads) n += snprintf(parts + n, sizeof parts - (size_t)n, ", gradients %.3f", gib(p->grads));
    if (p->optimizer) n += snprintf(parts + n, sizeof parts - (size_t)n, ", optimizer %.3f", gib(p->optimizer));
    if (p->activations) n += snprintf(parts + n, sizeof parts - (size_t)n, ", activations %.3f", gib(p->activations));
    if (p->kv_cache) snprintf(parts + n, sizeof parts - (size_t)n, ", KV cache %.3f", gib(p->kv_cache));
    return xf_fail(XF_ERR_OOM, "%s needs %.3f GiB (%zu bytes: %s GiB) but %.3f GiB is available (%s); %s", what,
                   gib(need), need, parts, gib(avail), src, hint);
}
