/* fuzz_v2_request.c - libFuzzer target for the Open Inference Protocol v2
 * request decoder (api_v2_request_decode), binary tensor data included, and
 * the response encoder run on what it accepts.
 *
 * Input framing: byte 0 bit 0 set -> an Inference-Header-Content-Length is
 * given, taken from bytes 1..2 (little-endian, so it may point past the
 * body); the rest of the input is the HTTP body.
 *
 * Properties checked on every input (abort() makes libFuzzer report it):
 * - decode never crashes, leaks or reads past the body (ASan/UBSan);
 * - a refusal is 400 or 413 and leaves no buffer behind;
 * - an accepted request has 1..max rows of width >= 1, finite values, one or
 *   two distinct outputs, and a binary input only when the header was given
 *   and the bytes after it are exactly rows * width * 4;
 * - the encoded answer's JSON header parses, its Inference-Header-Content-
 *   Length is within the body, and an answer without binary data is all JSON.
 *
 * Run: `make fuzz`, or after `make fuzz-build`: `bash tests/fuzz/run.sh v2_request`.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "v2_infer.h"

#define FUZZ_MAX_ROWS 8
#define CLASSES       10

static void check(int ok) {
    if (!ok) abort();
}

static void check_answer(const api_v2_request *r) {
    size_t n = (size_t)r->rows * CLASSES;
    float *probs = malloc(n * sizeof *probs);
    int *labels = malloc((size_t)r->rows * sizeof *labels);
    check(probs && labels);
    for (size_t i = 0; i < n; i++) probs[i] = (float)((i * 7919) % 1000) / 1000.0f;
    for (int i = 0; i < r->rows; i++) labels[i] = i % CLASSES;
    char *body = NULL;
    size_t len = 0, header_len = 0;
    check(api_v2_response_encode(r, "fuzz", 1, CLASSES, probs, labels, &body, &len, &header_len) ==
          0);
    check(header_len <= len);
    cJSON *o = cJSON_ParseWithLength(body, header_len ? header_len : len);
    check(o != NULL && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "outputs")));
    cJSON_Delete(o);
    free(body);
    free(probs);
    free(labels);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    long long header_len = (data[0] & 1) ? (long long)(data[1] | data[2] << 8) : -1;
    size_t len = size - 3;
    char *body = malloc(len ? len : 1);
    if (!body) return 0;
    memcpy(body, data + 3, len);
    api_v2_request r;
    api_problem p;
    if (api_v2_request_decode(body, len, header_len, FUZZ_MAX_ROWS, &r, &p)) {
        check(p.status == 400 || p.status == 413);
        check(r.x == NULL && r.id == NULL);
    } else {
        check(r.rows >= 1 && r.rows <= FUZZ_MAX_ROWS && r.width >= 1);
        for (size_t i = 0; i < (size_t)r.rows * (size_t)r.width; i++) check(isfinite(r.x[i]));
        check(r.n_outputs >= 1 && r.n_outputs <= 2);
        if (r.n_outputs == 2) check(r.outputs[0].kind != r.outputs[1].kind);
        if (r.binary_input)
            check(header_len >= 0 &&
                  len - (size_t)header_len == (size_t)r.rows * (size_t)r.width * 4);
        check_answer(&r);
        api_v2_request_free(&r);
    }
    free(body);
    return 0;
}
