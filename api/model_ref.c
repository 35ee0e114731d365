/* model_ref.c - registered names and model references (model_ref.h). */
#include "model_ref.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static int name_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* Is s[0..len) a valid name? */
static int name_ok_n(const char *s, size_t len) {
    if (len < 1 || len > API_NAME_MAX) return 0;
    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'))) return 0;
    for (size_t i = 1; i < len; i++)
        if (!name_char(s[i])) return 0;
    return 1;
}

int api_model_name_ok(const char *s) {
    return s && name_ok_n(s, strlen(s));
}

int api_model_version_parse(const char *s) {
    if (!s || s[0] < '1' || s[0] > '9') return 0;
    long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        v = v * 10 + (*p - '0');
        if (v > INT_MAX) return 0;
    }
    return (int)v;
}

int api_model_ref_parse(const char *s, api_model_ref *out) {
    memset(out, 0, sizeof *out);
    if (!s) return -1;
    size_t len = strcspn(s, "@/");
    if (!name_ok_n(s, len)) return -1;
    memcpy(out->name, s, len);
    out->name[len] = '\0';
    if (s[len] == '\0') return 0;
    const char *rest = s + len + 1;
    if (s[len] == '@') {
        if (!api_model_name_ok(rest)) return -1;
        snprintf(out->alias, sizeof out->alias, "%s", rest);
        return 0;
    }
    out->version = api_model_version_parse(rest);
    return out->version > 0 ? 0 : -1;
}

int api_model_ref_from_parts(const char *name, const char *selector, api_model_ref *out) {
    memset(out, 0, sizeof *out);
    if (!api_model_name_ok(name)) return -1;
    snprintf(out->name, sizeof out->name, "%s", name);
    if (!selector) return 0;
    if (selector[0] >= '0' && selector[0] <= '9') {
        out->version = api_model_version_parse(selector);
        return out->version > 0 ? 0 : -1;
    }
    if (!api_model_name_ok(selector)) return -1;
    snprintf(out->alias, sizeof out->alias, "%s", selector);
    return 0;
}
