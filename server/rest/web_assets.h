/* web_assets.h - which files of the web dir the daemon serves: the allow-list
 * that `make` writes to <web dir>/assets.list (web/web.mk), one path relative
 * to the web dir per line. Anything else there (web/README.md, web.mk,
 * package.json, an editor's backup) is never served, whatever its name. */
#ifndef MLPD_WEB_ASSETS_H
#define MLPD_WEB_ASSETS_H

#include <stddef.h>

#include "mlpd_error.h"

/* The list's name inside the web dir; web/web.mk writes the same file. */
#define WEB_ASSETS_LIST "assets.list"

typedef struct web_assets web_assets;

/* Read <web_dir>/assets.list into *out. MLPD_EIO with the reason in err
 * when it cannot be read whole (then *out is NULL and nothing but GET / is
 * served). */
mlpd_status web_assets_load(const char *web_dir, web_assets **out, mlpd_error *err);
/* Is rel ("js/api.js", no leading slash) on the list? w may be NULL: no. */
int web_assets_has(const web_assets *w, const char *rel);
/* Number of paths on the list (0 for NULL). */
size_t web_assets_count(const web_assets *w);
void web_assets_free(web_assets *w);

#endif /* MLPD_WEB_ASSETS_H */
