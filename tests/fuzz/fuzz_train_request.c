/* fuzz_train_request.c - libFuzzer target for api_train_request_decode.
 *
 * Properties checked on every input (abort() makes libFuzzer report it):
 * - decode never crashes, leaks or reads past len (ASan/UBSan);
 * - a refusal is 400 or 422 with a detail, and its problem JSON parses;
 * - an accepted body re-encodes to JSON that decodes to the same config and
 *   re-encodes to the same bytes (encode is a fixed point).
 *
 * Run: `make fuzz` (tests/fuzz/fuzz.mk), or after `make fuzz-build`:
 * `bash tests/fuzz/run.sh train_request`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "train_request.h"

static void check(int ok) {
    if (!ok) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A copy of exactly size bytes, so ASan catches any read past the body. */
    char *body = malloc(size ? size : 1);
    if (!body) return 0;
    memcpy(body, data, size);
    api_train_request r;
    api_problem p;
    if (api_train_request_decode(body, size, &r, &p)) {
        check(p.status == 400 || p.status == 422);
        check(p.detail[0] != '\0');
        char *pj = api_problem_to_json(&p);
        check(pj != NULL);
        cJSON *o = cJSON_Parse(pj);
        check(o != NULL);
        cJSON_Delete(o);
        free(pj);
    } else {
        char *e1 = api_train_request_encode(&r);
        check(e1 != NULL);
        api_train_request r2;
        check(api_train_request_decode(e1, strlen(e1), &r2, &p) == 0);
        char *e2 = api_train_request_encode(&r2);
        check(e2 != NULL && strcmp(e1, e2) == 0);
        check(strcmp(r.dataset, r2.dataset) == 0 && r.recipe.n_hidden == r2.recipe.n_hidden &&
              memcmp(r.recipe.hidden, r2.recipe.hidden,
                     sizeof r.recipe.hidden[0] * (size_t)r.recipe.n_hidden) == 0 &&
              r.recipe.train.lr == r2.recipe.train.lr &&
              r.recipe.train.seed == r2.recipe.train.seed &&
              r.warm_start_model == r2.warm_start_model);
        free(e1);
        free(e2);
    }
    free(body);
    return 0;
}
