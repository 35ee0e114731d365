/* fuzz_predict_request.c - libFuzzer target for api_predict_request_decode.
 *
 * Properties checked on every input (abort() makes libFuzzer report it):
 * - decode never crashes, leaks or reads past len (ASan/UBSan);
 * - a refusal is 400, 413 or 422, leaves no buffer behind, and its problem
 *   JSON parses;
 * - an accepted body gives 1..max_batch rows of 1..MLP_MAX_INPUT finite
 *   values, every one of which is readable (ASan checks the n * width block);
 * - differential: what the hand-written scanner accepts, cJSON parses too,
 *   and every value equals cJSON's number (strtod) cast to float.
 *
 * Run: `make fuzz`, or after `make fuzz-build`: `bash tests/fuzz/run.sh predict_request`.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mlp.h"
#include "predict_request.h"

#define FUZZ_MAX_BATCH 8

static void check(int ok) {
    if (!ok) abort();
}

static void check_against_cjson(const char *body, size_t size, const api_predict_request *r) {
    cJSON *root = cJSON_ParseWithLength(body, size);
    check(root != NULL);
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(root, r->batch_form ? "inputs" : "input");
    check(rows != NULL);
    for (int i = 0; i < r->n; i++) {
        const cJSON *row = r->batch_form ? cJSON_GetArrayItem(rows, i) : rows;
        check(cJSON_GetArraySize(row) == r->width);
        int j = 0;
        for (const cJSON *v = row->child; v; v = v->next, j++) {
            float want = (float)v->valuedouble;
            check(memcmp(&want, &r->x[(size_t)i * (size_t)r->width + (size_t)j], sizeof want) == 0);
        }
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    check(r->model_id == (model && cJSON_IsNumber(model) ? (int64_t)model->valuedouble : 0));
    cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *body = malloc(size ? size : 1);
    if (!body) return 0;
    memcpy(body, data, size);
    api_predict_request r;
    api_problem p;
    if (api_predict_request_decode(body, size, FUZZ_MAX_BATCH, &r, &p)) {
        check(p.status == 400 || p.status == 413 || p.status == 422);
        check(r.x == NULL && r.n == 0);
        char *pj = api_problem_to_json(&p);
        check(pj != NULL);
        cJSON *o = cJSON_Parse(pj);
        check(o != NULL);
        cJSON_Delete(o);
        free(pj);
    } else {
        check(r.n >= 1 && r.n <= FUZZ_MAX_BATCH && (r.batch_form || r.n == 1));
        check(r.width >= 1 && r.width <= MLP_MAX_INPUT);
        check(r.model_id >= 0);
        for (size_t i = 0; i < (size_t)r.n * (size_t)r.width; i++) check(isfinite(r.x[i]));
        check_against_cjson(body, size, &r);
        api_predict_request_free(&r);
    }
    free(body);
    return 0;
}
