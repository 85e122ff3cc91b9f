/* Shard index (read and write) and data specs: file, shard directory or glob
 * (shards.h, docs/data.md §Shards). */
#include "data/shards.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/file.h"

void shard_index_free(xf_shard_index *ix) {
    if (!ix) return;
    for (size_t i = 0; ix->files && i < ix->n; i++) free(ix->files[i]);
    free(ix->files);
    free(ix->counts);
    memset(ix, 0, sizeof *ix);
}

/* dir + "/" + name, malloc'd (NULL when out of memory). */
static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* A count field: a JSON number that is a whole number in [lo, 2^53]. */
static int get_count(const cJSON *o, const char *key, double lo, size_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= lo && d <= 9007199254740992.0) || d != (double)(uint64_t)d) return 0;
    if ((uint64_t)d > (uint64_t)SIZE_MAX) return 0;
    *out = (size_t)(uint64_t)d;
    return 1;
}

/* A shard file name stays inside its directory: not empty, no '/', not "." or
 * "..", no control bytes, at most 255 bytes. */
static int plain_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 255 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || (unsigned char)s[i] < 0x20) return 0;
    return 1;
}

static xf_status parse_obj(xf_shard_index *ix, const cJSON *root, const char *dir, const char *name) {
    if (!cJSON_IsObject(root)) return xf_fail(XF_ERR_FORMAT, "%s: shard index is not a JSON object", name);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, XF_SHARDS_FORMAT) != 0)
        return xf_fail(XF_ERR_FORMAT, "%s: \"format\" is not \"%s\"", name, XF_SHARDS_FORMAT);
    size_t version = 0;
    if (!get_count(root, "version", 0, &version) || version != XF_SHARDS_VERSION)
        return xf_fail(XF_ERR_FORMAT, "%s: shard index \"version\" is not %u", name, XF_SHARDS_VERSION);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(root, "dtype");
    if (cJSON_IsString(dt) && strcmp(dt->valuestring, "uint16") == 0)
        ix->width = 2;
    else if (cJSON_IsString(dt) && strcmp(dt->valuestring, "uint32") == 0)
        ix->width = 4;
    else
        return xf_fail(XF_ERR_FORMAT, "%s: \"dtype\" is not \"uint16\" or \"uint32\"", name);
    if (!get_count(root, "vocab_size", 1, &ix->vocab) || ix->vocab > UINT32_MAX)
        return xf_fail(XF_ERR_FORMAT, "%s: \"vocab_size\" is not a whole number in [1, 2^32)", name);
    if ((ix->width == 2) != (ix->vocab <= 65536))
        return xf_fail(XF_ERR_FORMAT, "%s: dtype %s does not fit vocab size %zu (uint16 up to 65536, else uint32)",
                       name, dt->valuestring, ix->vocab);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "tokenizer_hash");
    char *end = NULL;
    if (!cJSON_IsString(h) || strlen(h->valuestring) != 16 ||
        strspn(h->valuestring, "0123456789abcdef") != 16)
        return xf_fail(XF_ERR_FORMAT, "%s: \"tokenizer_hash\" is not 16 lower-case hex digits", name);
    errno = 0;
    ix->hash = (uint64_t)strtoull(h->valuestring, &end, 16);
    size_t total = 0;
    if (!get_count(root, "tokens", 1, &total))
        return xf_fail(XF_ERR_FORMAT, "%s: \"tokens\" is not a whole number in [1, 2^53]", name);
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(root, "shards");
    if (!cJSON_IsArray(sh)) return xf_fail(XF_ERR_FORMAT, "%s: \"shards\" is not an array", name);
    size_t n = (size_t)cJSON_GetArraySize(sh);
    if (n == 0 || n > XF_SHARDS_MAX_FILES)
        return xf_fail(XF_ERR_FORMAT, "%s: %zu shards (need 1 to %zu)", name, n, XF_SHARDS_MAX_FILES);
    ix->files = calloc(n, sizeof *ix->files);
    ix->counts = calloc(n, sizeof *ix->counts);
    if (!ix->files || !ix->counts) return xf_fail(XF_ERR_OOM, "%s: out of memory for %zu shards", name, n);
    ix->n = n;
    size_t i = 0, sum = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, sh) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "file");
        if (!cJSON_IsObject(e) || !cJSON_IsString(f) || !plain_name(f->valuestring))
            return xf_fail(XF_ERR_FORMAT, "%s: shard %zu has no plain \"file\" name (no '/', not . or ..)",
                           name, i);
        if (!get_count(e, "tokens", 1, &ix->counts[i]))
            return xf_fail(XF_ERR_FORMAT, "%s: shard %zu \"tokens\" is not a whole number in [1, 2^53]", name, i);
        if (ix->counts[i] > total - sum)
            return xf_fail(XF_ERR_FORMAT, "%s: shard token counts add up to more than \"tokens\" %zu", name, total);
        sum += ix->counts[i];
        if (!(ix->files[i] = join(dir, f->valuestring)))
            return xf_fail(XF_ERR_OOM, "%s: out of memory", name);
        i++;
    }
    if (sum != total)
        return xf_fail(XF_ERR_FORMAT, "%s: shard token counts add up to %zu, \"tokens\" says %zu", name, sum, total);
    ix->tokens = total;
    return XF_OK;
}

xf_status shard_index_parse(xf_shard_index *ix, const char *text, size_t len, const char *dir,
                               const char *name) {
    memset(ix, 0, sizeof *ix);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return xf_fail(XF_ERR_FORMAT, "%s: shard index is not valid JSON", name);
    xf_status st = parse_obj(ix, root, dir, name);
    cJSON_Delete(root);
    if (st != XF_OK) shard_index_free(ix);
    return st;
}

xf_status shard_index_write(const char *dir, const xf_shard_index *ix, const char *tok_name) {
    char *path = join(dir, XF_SHARDS_INDEX);
    cJSON *root = cJSON_CreateObject(), *arr = NULL;
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)ix->hash);
    int ok = path && root && cJSON_AddStringToObject(root, "format", XF_SHARDS_FORMAT) &&
             cJSON_AddNumberToObject(root, "version", XF_SHARDS_VERSION) &&
             cJSON_AddStringToObject(root, "dtype", ix->width == 2 ? "uint16" : "uint32") &&
             cJSON_AddNumberToObject(root, "vocab_size", (double)ix->vocab) &&
             cJSON_AddStringToObject(root, "tokenizer", tok_name) &&
             cJSON_AddStringToObject(root, "tokenizer_hash", hash) &&
             cJSON_AddNumberToObject(root, "tokens", (double)ix->tokens) &&
             (arr = cJSON_AddArrayToObject(root, "shards")) != NULL;
    for (size_t i = 0; ok && i < ix->n; i++) {
        cJSON *e = cJSON_CreateObject();
        const char *base = strrchr(ix->files[i], '/');
        ok = e && cJSON_AddItemToArray(arr, e) &&
             cJSON_AddStringToObject(e, "file", base ? base + 1 : ix->files[i]) &&
             cJSON_AddNumberToObject(e, "tokens", (double)ix->counts[i]);
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    xf_status st = text ? XF_OK : xf_fail(XF_ERR_OOM, "%s: out of memory for the shard index", dir);
    if (st == XF_OK) {
        size_t n = strlen(text);
        text[n] = '\n'; /* replaces the NUL; the length is passed */
        st = xf_file_write_atomic(path, text, n + 1);
    }
    free(text);
    cJSON_Delete(root);
    free(path);
    return st;
}

/* ---- data specs ------------------------------------------------------------------ */

void data_files_free(xf_data_files *f) {
    if (!f) return;
    if (f->ix) {
        shard_index_free(f->ix); /* owns the paths */
        free(f->ix);
    } else {
        for (size_t i = 0; f->paths && i < f->n; i++) free(f->paths[i]);
        free(f->paths);
    }
    memset(f, 0, sizeof *f);
}

static xf_status from_dir(xf_data_files *f, const char *dir) {
    char *ipath = join(dir, XF_SHARDS_INDEX);
    if (!ipath) return xf_fail(XF_ERR_OOM, "%s: out of memory", dir);
    struct stat sb;
    if (stat(ipath, &sb) != 0) {
        free(ipath);
        return xf_fail(XF_ERR_IO, "%s: directory without %s (not the output of xfmr prepare); "
                       "to read its files, pass a glob such as '%s/*.bin'", dir, XF_SHARDS_INDEX, dir);
    }
    char *text = NULL;
    size_t len = 0;
    xf_status st = xf_file_read_all(ipath, &text, &len, (size_t)256 << 20);
    xf_shard_index *ix = calloc(1, sizeof *ix);
    if (st == XF_OK && !ix) st = xf_fail(XF_ERR_OOM, "%s: out of memory", ipath);
    if (st == XF_OK) st = shard_index_parse(ix, text, len, dir, ipath);
    free(text);
    free(ipath);
    if (st != XF_OK) {
        free(ix);
        return st;
    }
    f->ix = ix;
    f->paths = ix->files;
    f->n = ix->n;
    return XF_OK;
}

static xf_status from_glob(xf_data_files *f, const char *pattern) {
    glob_t g;
    memset(&g, 0, sizeof g);
    int rc = glob(pattern, GLOB_ERR, NULL, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        return xf_fail(XF_ERR_IO, "%s: no file matches", pattern);
    }
    if (rc != 0) {
        globfree(&g);
        return xf_fail(rc == GLOB_NOSPACE ? XF_ERR_OOM : XF_ERR_IO, "%s: cannot expand the pattern", pattern);
    }
    xf_status st = XF_OK;
    if (g.gl_pathc > XF_SHARDS_MAX_FILES)
        st = xf_fail(XF_ERR_ARG, "%s: matches %zu files (at most %zu)", pattern, (size_t)g.gl_pathc,
                     XF_SHARDS_MAX_FILES);
    if (st == XF_OK && !(f->paths = calloc(g.gl_pathc, sizeof *f->paths)))
        st = xf_fail(XF_ERR_OOM, "%s: out of memory", pattern);
    for (size_t i = 0; st == XF_OK && i < g.gl_pathc; i++) { /* glob sorts the names */
        if (xf_path_is_dir(g.gl_pathv[i])) {
            st = xf_fail(XF_ERR_ARG, "%s: matches the directory %s (name files, or pass the directory alone)",
                         pattern, g.gl_pathv[i]);
            break;
        }
        if (!(f->paths[i] = strdup(g.gl_pathv[i]))) st = xf_fail(XF_ERR_OOM, "%s: out of memory", pattern);
        f->n = i + 1;
    }
    globfree(&g);
    if (st != XF_OK) data_files_free(f);
    return st;
}

xf_status data_files_resolve(xf_data_files *f, const char *spec) {
    memset(f, 0, sizeof *f);
    if (!spec || !*spec) return xf_fail(XF_ERR_ARG, "data: empty path");
    struct stat sb;
    int exists = stat(spec, &sb) == 0;
    if (exists && S_ISDIR(sb.st_mode)) return from_dir(f, spec);
    if (!exists && strpbrk(spec, "*?[")) return from_glob(f, spec);
    f->paths = calloc(1, sizeof *f->paths);
    if (!f->paths || !(f->paths[0] = strdup(spec))) {
        free(f->paths);
        f->paths = NULL;
        return xf_fail(XF_ERR_OOM, "%s: out of memory", spec);
    }
    f->n = 1;
    return XF_OK;
}
