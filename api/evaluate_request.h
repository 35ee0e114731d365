/* evaluate_request.h - the POST /models/{id}/evaluate body.
 *
 *   {"dataset": "fashion-mnist", "split": "test"}
 * dataset: a registered data set's name (required); split: "test" (default)
 * or "train".
 */
#ifndef MLPD_API_EVALUATE_REQUEST_H
#define MLPD_API_EVALUATE_REQUEST_H

#include <stddef.h>

#include "problem.h"

typedef struct {
    char dataset[65];
    char split[8];
} api_evaluate_request;

/* 0, or -1 with *prob: 400 malformed JSON, 422 an unknown, missing or
 * ill-typed member (pointer /dataset, /split). */
int api_evaluate_request_decode(const char *json, size_t len, api_evaluate_request *out,
                                api_problem *prob);

#endif /* MLPD_API_EVALUATE_REQUEST_H */
