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
