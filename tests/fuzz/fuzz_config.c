/* config.json (src/model/config.c): parse; an accepted config must write
 * itself back as JSON that parses to the same config (bit for bit). */
#include "fuzz.h"
#include "xfmr/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_config cfg, again;
    if (xf_config_parse(&cfg, (const char *)data, size, "config.json") != XF_OK) return 0;
    char *js = xf_config_to_json(&cfg);
    if (!js) return 0;
    if (xf_config_parse(&again, js, strlen(js), "round trip") != XF_OK) abort();
    char *js2 = xf_config_to_json(&again);
    if (!js2 || strcmp(js, js2) != 0) abort();
    free(js);
    free(js2);
    return 0;
}
