/* contract_log.c - see contract_log.h. */
#include "contract_log.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define MAX_BODY_BYTES (4u << 20)

/* The name of the running test binary (from /proc), for the report. */
static void test_name(char *out, size_t cap) {
    snprintf(out, cap, "?");
    FILE *f = fopen("/proc/self/comm", "r");
    if (!f) return;
    if (fgets(out, (int)cap, f)) out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

/* Strict UTF-8 check (no NUL, no overlong forms, no surrogates): only such a
 * body can travel as a JSON string unchanged. */
static int utf8_text(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80             ? 0
                   : (c & 0xE0) == 0xC0 ? 1
                   : (c & 0xF0) == 0xE0 ? 2
                   : (c & 0xF8) == 0xF0 ? 3
                                        : 9;
        if (c == 0 || k == 9 || i + k >= n) return 0;
        if (k == 1 && c < 0xC2) return 0;
        unsigned cp = k == 0 ? c : k == 1 ? c & 0x1F : k == 2 ? c & 0x0F : c & 0x07;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Headers of the last response block (a 100 Continue or redirect block
 * before it is dropped), names in lower case. */
static cJSON *header_object(const char *raw) {
    cJSON *o = cJSON_CreateObject();
    for (const char *line = raw; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        const char *colon = memchr(line, ':', len);
        if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
            cJSON_Delete(o);
            o = cJSON_CreateObject();
        } else if (colon && colon > line) {
            char name[128], value[2048];
            size_t nl = (size_t)(colon - line);
            if (nl >= sizeof name) nl = sizeof name - 1;
            for (size_t i = 0; i < nl; i++) name[i] = (char)tolower((unsigned char)line[i]);
            name[nl] = '\0';
            const char *v = colon + 1;
            while (v < line + len && *v == ' ') v++;
            size_t vl = (size_t)(line + len - v);
            if (vl >= sizeof value) vl = sizeof value - 1;
            memcpy(value, v, vl);
            value[vl] = '\0';
            cJSON_DeleteItemFromObject(o, name);
            cJSON_AddStringToObject(o, name, value);
        }
        line += len + (eol ? 2 : 0);
    }
    return o;
}

void contract_log_exchange(const char *method, const char *path, long status, const char *headers,
                           const char *body, size_t len) {
    const char *file = getenv("MLPD_CONTRACT_LOG");
    if (!file || !*file || status == 0) return;
    char name[64];
    test_name(name, sizeof name);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "test", name);
    cJSON_AddStringToObject(o, "method", method);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddNumberToObject(o, "status", (double)status);
    cJSON *h = header_object(headers);
    cJSON_AddItemToObject(o, "headers", h);
    const char *skip = NULL;
    if (cJSON_GetObjectItemCaseSensitive(h, "content-encoding"))
        skip = "content-encoded";
    else if (len > MAX_BODY_BYTES)
        skip = "over 4 MiB";
    else if (!utf8_text((const unsigned char *)body, len))
        skip = "not UTF-8 text";
    if (skip)
        cJSON_AddStringToObject(o, "body_skipped", skip);
    else
        cJSON_AddStringToObject(o, "body", body ? body : "");
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!line) return;
    size_t n = strlen(line);
    line[n] = '\n'; /* replaces the NUL; written by length */
    int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, line, n + 1) != (ssize_t)(n + 1))
            fprintf(stderr, "contract log: short write\n");
        close(fd);
    }
    free(line);
}
