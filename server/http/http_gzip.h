/* http_gzip.h - content coding for answers (RFC 9110 section 8.4): what the
 * client accepts, and gzip of a buffer (zlib). Part of the HTTP transport.
 *
 * The transport compresses a buffered answer itself (http.c) when it is at
 * least HTTP_GZIP_MIN bytes of a compressible type and the client accepts
 * gzip; such answers always name Accept-Encoding in their Vary header,
 * compressed or not, so a cache keeps the two forms apart. Streams and files (responses
 * made by the handler, http_reply_mhd) are left alone: the static-file route
 * serves files compressed at build time instead.
 */
#ifndef MLPD_HTTP_GZIP_H
#define MLPD_HTTP_GZIP_H

#include <stddef.h>

/* Smaller answers are sent as they are: the gzip header and trailer (18
 * bytes) and the CPU time outweigh what a few hundred bytes would save. */
#define HTTP_GZIP_MIN 1024

/* 1 when an Accept-Encoding field value allows gzip: a "gzip" (or
 * "x-gzip") or "*" member whose weight is not q=0, and gzip not refused by
 * its own q=0. NULL (no header) allows nothing: identity only. */
int http_accepts_gzip(const char *accept_encoding);

/* 1 for media types worth compressing: JSON, problem+json, YAML, text,
 * JavaScript, SVG. NULL is not. */
int http_compressible(const char *content_type);

/* gzip of in[0..n) as a malloc'ed buffer (*out_n bytes); NULL when out of
 * memory. */
char *http_gzip(const void *in, size_t n, size_t *out_n);

#endif /* MLPD_HTTP_GZIP_H */
