/* encode.c - cJSON builders for the API's response schemas. */
#include "encode.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

cJSON *api_json_number_or_null(double v) {
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

void api_format_time(char *buf, size_t cap, double t) {
    time_t secs = (time_t)floor(t);
    int ms = (int)((t - (double)secs) * 1000.0);
    if (ms > 999) ms = 999;
    if (ms < 0) ms = 0;
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", ms);
}

cJSON *api_json_time_or_null(double t) {
    if (!(t > 0) || !isfinite(t)) return cJSON_CreateNull();
    char buf[40];
    api_format_time(buf, sizeof buf, t);
    return cJSON_CreateString(buf);
}

cJSON *api_encode_arch(const mlp_arch *a) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "inputs", a->sizes[0]);
    cJSON *layers = cJSON_AddArrayToObject(o, "layers");
    for (int l = 0; l < a->n_layers; l++) {
        cJSON *layer = cJSON_CreateObject();
        cJSON_AddNumberToObject(layer, "units", a->sizes[l + 1]);
        cJSON_AddStringToObject(layer, "activation", mlp_act_name(a->act[l]));
        cJSON_AddItemToArray(layers, layer);
    }
    cJSON_AddStringToObject(o, "loss", mlp_loss_name(a->loss));
    return o;
}

char *api_encode_arch_json(const mlp_arch *a) {
    cJSON *o = api_encode_arch(a);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

/* api_encode_predictions is in encode_predict.c. */
