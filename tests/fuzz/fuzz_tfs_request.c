/* fuzz_tfs_request.c - libFuzzer target for TensorFlow Serving's REST
 * bodies (api_tfs_request_decode: :predict's instances / inputs, :classify
 * and :regress's examples and context) and the answer encoder run on what it
 * accepts.
 *
 * Input framing: byte 0 picks the verb (0 predict, 1 classify, 2 regress,
 * modulo 3); the rest of the input is the HTTP body.
 *
 * Properties checked on every input (abort() makes libFuzzer report it):
 * - decode never crashes, leaks or reads past the body (ASan/UBSan);
 * - a refusal is 400 or 413 and leaves no buffer behind;
 * - an accepted request has 1..max rows of width 1..2^20, finite values, and
 *   the verb asked for;
 * - the encoded answer parses as JSON with one entry per row under the
 *   verb's member ("predictions", "outputs" or "result").
 *
 * Run: `make fuzz`, or after `make fuzz-build`: `bash tests/fuzz/run.sh tfs_request`.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tfs.h"

#define FUZZ_MAX_ROWS 8

static void check(int ok) {
    if (!ok) abort();
}

static void check_answer(const api_tfs_request *r) {
    int classes = r->verb == API_TFS_REGRESS ? 1 : 3;
    size_t n = (size_t)r->rows * (size_t)classes;
    float *probs = malloc(n * sizeof *probs);
    check(probs != NULL);
    for (size_t i = 0; i < n; i++) probs[i] = (float)((i * 7919) % 1000) / 1000.0f;
    char *body = api_tfs_response_encode(r, classes, probs);
    check(body != NULL);
    cJSON *o = cJSON_Parse(body);
    const char *key = r->verb != API_TFS_PREDICT ? "result"
                      : r->columnar              ? "outputs"
                                                 : "predictions";
    check(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, key)) == r->rows);
    cJSON_Delete(o);
    free(body);
    free(probs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    api_tfs_verb verb = (api_tfs_verb)(data[0] % 3);
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (!body) return 0;
    memcpy(body, data + 1, len);
    api_tfs_request r;
    api_problem p;
    if (api_tfs_request_decode(body, len, verb, FUZZ_MAX_ROWS, &r, &p)) {
        check(p.status == 400 || p.status == 413);
        check(r.x == NULL);
    } else {
        check(r.verb == verb);
        check(r.rows >= 1 && r.rows <= FUZZ_MAX_ROWS && r.width >= 1 && r.width <= (1 << 20));
        for (size_t i = 0; i < (size_t)r.rows * (size_t)r.width; i++) check(isfinite(r.x[i]));
        check_answer(&r);
        api_tfs_request_free(&r);
    }
    free(body);
    return 0;
}
