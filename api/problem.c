/* problem.c - RFC 9457 problem details: filling and serialising api_problem. */
#include "problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Reason phrases of RFC 9110 for the statuses mlpd answers with. */
static const struct {
    int status;
    const char *title;
} status_titles[] = {
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {422, "Unprocessable Content"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
    {507, "Insufficient Storage"},
};

static const char *title_for(int status) {
    for (size_t i = 0; i < sizeof status_titles / sizeof status_titles[0]; i++)
        if (status_titles[i].status == status) return status_titles[i].title;
    if (status >= 500) return "Internal Server Error";
    return "Bad Request";
}

/* Make s valid UTF-8 in place: every byte that does not belong to a
 * well-formed sequence (including one cut short by truncation, or echoed from
 * a client's malformed body) becomes '?', so the JSON we emit stays valid. */
static void sanitize_utf8(char *s) {
    unsigned char *u = (unsigned char *)s;
    size_t i = 0;
    while (u[i]) {
        unsigned char c = u[i];
        size_t len = c < 0x80                   ? 1
                     : (c >= 0xC2 && c <= 0xDF) ? 2
                     : (c >= 0xE0 && c <= 0xEF) ? 3
                     : (c >= 0xF0 && c <= 0xF4) ? 4
                                                : 0;
        size_t k = 1;
        while (k < len && (u[i + k] & 0xC0) == 0x80) k++;
        /* Refuse overlong 3/4-byte forms, surrogates and code points past U+10FFFF. */
        if (len >= 3 && k == len) {
            unsigned char c1 = u[i + 1];
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) ||
                (c == 0xF4 && c1 >= 0x90))
                len = 0;
        }
        if (len == 0 || k != len) {
            u[i++] = '?';
            continue;
        }
        i += len;
    }
}

void api_problem_set(api_problem *p, int status, const char *slug, const char *pointer,
                     const char *detail_fmt, ...) {
    memset(p, 0, sizeof *p);
    p->status = status;
    if (slug && slug[0]) {
        snprintf(p->type, sizeof p->type, "/problems/%s", slug);
        sanitize_utf8(p->type);
    } else {
        snprintf(p->type, sizeof p->type, "about:blank");
    }
    snprintf(p->title, sizeof p->title, "%s", title_for(status));
    if (detail_fmt) {
        va_list ap;
        va_start(ap, detail_fmt);
        vsnprintf(p->detail, sizeof p->detail, detail_fmt, ap);
        va_end(ap);
        sanitize_utf8(p->detail);
    }
    if (pointer) {
        snprintf(p->pointer, sizeof p->pointer, "%s", pointer);
        sanitize_utf8(p->pointer);
    }
}

char *api_problem_to_json(const api_problem *p) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int ok = cJSON_AddStringToObject(o, "type", p->type[0] ? p->type : "about:blank") &&
             cJSON_AddStringToObject(o, "title", p->title[0] ? p->title : title_for(p->status)) &&
             cJSON_AddNumberToObject(o, "status", p->status);
    if (ok && p->detail[0]) ok = cJSON_AddStringToObject(o, "detail", p->detail) != NULL;
    if (ok && p->pointer[0]) ok = cJSON_AddStringToObject(o, "pointer", p->pointer) != NULL;
    cJSON *errors = ok && p->n_errors > 1 ? cJSON_AddArrayToObject(o, "errors") : NULL;
    for (int i = 0; errors && i < p->n_errors && i < API_PROBLEM_MAX_ERRORS; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "pointer", p->errors[i].pointer);
        cJSON_AddStringToObject(e, "detail", p->errors[i].detail);
        cJSON_AddItemToArray(errors, e);
    }
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}
