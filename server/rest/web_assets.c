/* web_assets.c - the dashboard's allow-list (web_assets.h), read once at start
 * and searched with bsearch; read-only afterwards, so the HTTP threads share it. */
#include "web_assets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct web_assets {
    char **paths; /* sorted */
    size_t n;
};

static int cmp_path(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

mlpd_status web_assets_load(const char *web_dir, web_assets **out, mlpd_error *err) {
    *out = NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", web_dir, WEB_ASSETS_LIST);
    FILE *f = fopen(path, "r");
    if (!f)
        return mlpd_fail(err, MLPD_EIO, "%s: %s (it is written by make)", path, strerror(errno));
    web_assets *w = calloc(1, sizeof *w);
    size_t cap = 0;
    char line[512];
    int ok = w != NULL;
    while (ok && fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        if (w->n == cap) {
            cap = cap ? cap * 2 : 64;
            char **np = realloc(w->paths, cap * sizeof *np);
            if (!np) break;
            w->paths = np;
        }
        ok = (w->paths[w->n] = strdup(line)) != NULL;
        w->n += ok;
    }
    ok = ok && !ferror(f) && feof(f);
    fclose(f);
    if (!ok) {
        web_assets_free(w);
        return mlpd_fail(err, MLPD_EIO, "%s: cannot be read whole", path);
    }
    if (w->n) qsort(w->paths, w->n, sizeof *w->paths, cmp_path);
    *out = w;
    return MLPD_OK;
}

int web_assets_has(const web_assets *w, const char *rel) {
    return w && w->n && bsearch(&rel, w->paths, w->n, sizeof *w->paths, cmp_path) != NULL;
}

size_t web_assets_count(const web_assets *w) {
    return w ? w->n : 0;
}

void web_assets_free(web_assets *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->paths[i]);
    free(w->paths);
    free(w);
}
