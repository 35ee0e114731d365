/* mlpd_error.c - the daemon's error convention (mlpd_error.h). */
#include "mlpd_error.h"

#include <stdarg.h>
#include <stdio.h>

mlpd_status mlpd_fail(mlpd_error *err, mlpd_status code, const char *fmt, ...) {
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

const char *mlpd_status_str(mlpd_status code) {
    switch (code) {
    case MLPD_OK: return "ok";
    case MLPD_ENOTFOUND: return "not found";
    case MLPD_ECONFLICT: return "conflict";
    case MLPD_EBUSY: return "busy";
    case MLPD_ENOSPC: return "disk full";
    case MLPD_ESTORE: return "store failure";
    case MLPD_EIO: return "i/o error";
    case MLPD_EINTERNAL: return "internal error";
    }
    return "unknown error";
}
