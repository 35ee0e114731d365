/* fuzz_sweep_request.c - libFuzzer target for api_sweep_request_decode.
 *
 * Properties checked on every input (abort() makes libFuzzer report it):
 * - decode never crashes, leaks or reads past len (ASan/UBSan);
 * - a refusal is 400 or 422 (500 only for memory) with a detail, and its
 *   problem JSON parses;
 * - an accepted body re-encodes to JSON that decodes again and re-encodes
 *   to the same bytes, and makes the same children (settings and train
 *   requests) for the first few indices;
 * - every child index below max_runs decodes (the decoder promised it).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sweep_request.h"

static void check(int ok) {
    if (!ok) abort();
}

static void same_children(const api_sweep_request *a, const api_sweep_request *b) {
    int n = a->max_runs < 4 ? a->max_runs : 4;
    for (int i = 0; i < n; i++) {
        api_train_request x, y;
        cJSON *sx = NULL, *sy = NULL;
        api_problem p;
        check(api_sweep_child(a, i, &x, &sx, &p) == 0);
        check(api_sweep_child(b, i, &y, &sy, &p) == 0);
        char *tx = cJSON_PrintUnformatted(sx), *ty = cJSON_PrintUnformatted(sy);
        check(tx && ty && strcmp(tx, ty) == 0);
        char *ex = api_train_request_encode(&x), *ey = api_train_request_encode(&y);
        check(ex && ey && strcmp(ex, ey) == 0);
        free(tx);
        free(ty);
        free(ex);
        free(ey);
        cJSON_Delete(sx);
        cJSON_Delete(sy);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *body = malloc(size ? size : 1);
    if (!body) return 0;
    memcpy(body, data, size);
    api_sweep_request r;
    api_problem p;
    memset(&p, 0, sizeof p);
    if (api_sweep_request_decode(body, size, &r, &p)) {
        check(p.status == 400 || p.status == 422 || p.status == 500);
        check(p.detail[0] != '\0');
        char *pj = api_problem_to_json(&p);
        check(pj != NULL);
        cJSON *o = cJSON_Parse(pj);
        check(o != NULL);
        cJSON_Delete(o);
        free(pj);
    } else {
        check(r.max_runs >= 1 && r.max_runs <= API_SWEEP_MAX_RUNS);
        check(r.n_params >= 1 && r.n_params <= API_SWEEP_MAX_PARAMS);
        char *e1 = api_sweep_request_encode(&r);
        check(e1 != NULL);
        api_sweep_request r2;
        check(api_sweep_request_decode(e1, strlen(e1), &r2, &p) == 0);
        char *e2 = api_sweep_request_encode(&r2);
        check(e2 != NULL && strcmp(e1, e2) == 0);
        same_children(&r, &r2);
        api_train_request child;
        check(api_sweep_child(&r, r.max_runs - 1, &child, NULL, &p) == 0);
        free(e1);
        free(e2);
        api_sweep_request_free(&r);
        api_sweep_request_free(&r2);
    }
    free(body);
    return 0;
}
