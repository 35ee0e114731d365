/* evaluate_request.c - decode the POST /models/{id}/evaluate body (evaluate_request.h). */
#include "evaluate_request.h"

#include <string.h>

#include "json_util.h"

static int decode_tree(const cJSON *o, api_evaluate_request *r, api_problem *p) {
    if (!cJSON_IsObject(o)) return api_json_invalid(p, "", "the body must be a JSON object");
    for (const cJSON *v = o->child; v; v = v->next) {
        char ptr[sizeof p->pointer];
        api_json_pointer(ptr, sizeof ptr, "", v->string);
        int is_dataset = !strcmp(v->string, "dataset"), is_split = !strcmp(v->string, "split");
        if (!is_dataset && !is_split)
            return api_json_invalid(p, ptr, "unknown field \"%.64s\" (expected dataset, split)",
                                    v->string);
        for (const cJSON *w = o->child; w != v; w = w->next)
            if (!strcmp(w->string, v->string))
                return api_json_invalid(p, ptr, "field \"%s\" appears twice", v->string);
        if (is_dataset &&
            (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) >= sizeof r->dataset))
            return api_json_invalid(p, ptr,
                                    "dataset must be a data set's name (1 to 64 characters)");
        if (is_split && (!cJSON_IsString(v) ||
                         (strcmp(v->valuestring, "test") && strcmp(v->valuestring, "train"))))
            return api_json_invalid(p, ptr, "split must be \"test\" or \"train\"");
        strcpy(is_dataset ? r->dataset : r->split, v->valuestring);
    }
    if (!r->dataset[0]) return api_json_invalid(p, "/dataset", "dataset is required");
    return 0;
}

int api_evaluate_request_decode(const char *json, size_t len, api_evaluate_request *out,
                                api_problem *prob) {
    memset(out, 0, sizeof *out);
    strcpy(out->split, "test");
    cJSON *o = api_json_parse(json, len, prob);
    if (!o) return -1;
    int rc = decode_tree(o, out, prob);
    cJSON_Delete(o);
    return rc;
}
