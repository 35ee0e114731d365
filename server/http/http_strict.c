/* http_strict.c - what the transport refuses before any route sees a request,
 * and how it answers when libmicrohttpd no longer can (docs/security.md,
 * "HTTP strictness").
 *
 * libmicrohttpd 0.9.75 parses the request head; these checks cover what it
 * lets through and a proxy in front could read differently (RFC 9112 §6.1,
 * §6.3; RFC 9110 §5.1, §7.2, §8.4, §10.1.1). Every refusal here is a
 * problem+json answer followed by closing the connection: after a framing
 * doubt nothing more on that connection can be trusted. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "http_impl.h"
#include "log.h"

/* ---- the raw request target ------------------------------------------------------- */
void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls, (void)c;
    conn_state *s = calloc(1, sizeof *s);
    if (!s) return NULL; /* http_on_request allocates it then, unchecked */
    s->start = mono_seconds();
    if (!uri) return s;
    /* %00 would reach the routes as a C string cut at the NUL ("/jobs/1%00"
     * is "/jobs/1"): refused whole. The raw target is not decoded yet, so
     * "%2500" (a literal "%00") is not mistaken for it. */
    if (strstr(uri, "%00")) s->fault = HTTP_URI_ENCODED_NUL;
    char *query = strchr(uri, '?');
    if (query) {
        int params = query[1] != '\0';
        for (const char *p = query + 1; *p; p++) params += *p == '&';
        if (params > HTTP_MAX_QUERY_PARAMS) {
            s->fault = HTTP_URI_TOO_MANY_PARAMS;
            /* MHD parses the query right after this call, from the same
             * buffer: an empty query leaves nothing to overflow its pool with
             * (MHD documents the callback as the place for request objects;
             * this write relies on 0.9.75's order, tested by test_http). */
            query[1] = '\0';
        }
    }
    return s;
}

/* ---- the request head ------------------------------------------------------------- */
/* RFC 9110 §5.6.2 tchar. */
static int is_tchar(unsigned char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

typedef struct {
    int host, content_length, transfer_encoding, authorization, content_type;
    char bad_name[40]; /* the first field name that is not a token */
    char bad_value[40];
} head_scan;

static enum MHD_Result scan_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size) {
    (void)kind;
    head_scan *h = cls;
    int token = key_size > 0;
    for (size_t i = 0; i < key_size; i++) token = token && is_tchar((unsigned char)key[i]);
    if (!token && !h->bad_name[0])
        snprintf(h->bad_name, sizeof h->bad_name, "%.*s", (int)key_size, key);
    /* field-value: visible characters, SP, HTAB and obs-text; no CTL (RFC 9110 §5.5). */
    for (size_t i = 0; value && i < value_size && !h->bad_value[0]; i++) {
        unsigned char ch = (unsigned char)value[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            snprintf(h->bad_value, sizeof h->bad_value, "%.*s", (int)key_size, key);
    }
    h->host += !strcasecmp(key, "Host");
    h->content_length += !strcasecmp(key, "Content-Length");
    h->transfer_encoding += !strcasecmp(key, "Transfer-Encoding");
    h->authorization += !strcasecmp(key, "Authorization");
    h->content_type += !strcasecmp(key, "Content-Type");
    return MHD_YES;
}

/* The last member of a comma-separated list, trimmed, into out. */
static void last_member(const char *list, char *out, size_t cap) {
    const char *comma = strrchr(list, ',');
    const char *p = comma ? comma + 1 : list;
    while (*p == ' ' || *p == '\t') p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    snprintf(out, cap, "%.*s", (int)n, p);
}

static int refuse(conn_state *s, int status, const char *slug, const char *detail) {
    http_reply_problem(&s->res, status, slug, NULL, "%s", detail);
    return status;
}

/* Framing (RFC 9112 §6): one way to know where the body ends, or none. */
static int check_framing(conn_state *s, struct MHD_Connection *c, const head_scan *h, int http10) {
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
    if (h->content_length > 1)
        return refuse(s, 400, "bad-request",
                      "more than one Content-Length field: the body's length is ambiguous");
    if (!te) return 0;
    if (h->content_length)
        return refuse(s, 400, "bad-request",
                      "both Transfer-Encoding and Content-Length: the body's length is ambiguous "
                      "(RFC 9112 section 6.3)");
    if (http10)
        return refuse(s, 400, "bad-request",
                      "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 section 6.1)");
    if (h->transfer_encoding == 1 && !strcasecmp(te, "chunked")) return 0;
    char last[32];
    last_member(te, last, sizeof last);
    /* chunked not last (or split over several lines, of which MHD reads one):
     * the body's end cannot be found; chunked last after another coding: a
     * coding mlpd does not implement. */
    if (h->transfer_encoding > 1 || strcasecmp(last, "chunked"))
        return refuse(s, 400, "bad-request",
                      "Transfer-Encoding must end with chunked, given once (RFC 9112 section 6.1)");
    return refuse(s, 501, "not-implemented",
                  "only the chunked transfer coding is implemented; send the body unencoded");
}

int http_check_request(conn_state *s, struct MHD_Connection *c, const char *version) {
    if (s->fault == HTTP_URI_TOO_MANY_PARAMS) {
        char d[96];
        snprintf(d, sizeof d, "the query has more than %d parameters", HTTP_MAX_QUERY_PARAMS);
        return refuse(s, 414, "uri-too-long", d);
    }
    if (s->fault == HTTP_URI_ENCODED_NUL)
        return refuse(s, 400, "bad-request", "the request target contains an encoded NUL (%00)");
    head_scan h;
    memset(&h, 0, sizeof h);
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, scan_field, &h);
    char d[160];
    if (h.bad_name[0]) {
        snprintf(d, sizeof d, "header field name '%s' is not a token (RFC 9110 section 5.1)",
                 h.bad_name);
        return refuse(s, 400, "bad-request", d);
    }
    if (h.bad_value[0]) {
        snprintf(d, sizeof d, "header field '%s' holds a control character", h.bad_value);
        return refuse(s, 400, "bad-request", d);
    }
    int http10 = version && !strcmp(version, "HTTP/1.0");
    if (h.host > 1) return refuse(s, 400, "bad-request", "more than one Host field");
    if (!h.host && !http10)
        return refuse(s, 400, "bad-request", "an HTTP/1.1 request needs a Host field");
    if (h.authorization > 1)
        return refuse(s, 400, "bad-request", "more than one Authorization field");
    if (h.content_type > 1)
        return refuse(s, 400, "bad-request", "more than one Content-Type field");
    int st = check_framing(s, c, &h, http10);
    if (st) return st;
    const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
    if (expect && strcasecmp(expect, "100-continue")) {
        snprintf(d, sizeof d, "expectation '%.60s' cannot be met; only 100-continue is known",
                 expect);
        return refuse(s, 417, "expectation-failed", d);
    }
    const char *ce = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    if (ce && strcasecmp(ce, "identity")) {
        snprintf(d, sizeof d, "Content-Encoding '%.60s' is not accepted: send the body unencoded",
                 ce);
        refuse(s, 415, "unsupported-media-type", d);
        http_set_header(&s->res, "Accept-Encoding", "identity"); /* RFC 9110 section 12.5.3 */
        return 415;
    }
    return 0;
}

/* ---- answering on the socket -------------------------------------------------------- */
void http_answer_on_socket(conn_state *s, struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    http_response *res = &s->res;
    s->queued = 1; /* for the log: this is the answer the client was sent */
    s->closing = 1;
    if (!ci) return;
    char head[2048], date[40];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: close\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                     "X-Request-Id: %s\r\n",
                     res->status, MHD_get_reason_phrase_for((unsigned)res->status), date,
                     res->content_type ? res->content_type : "text/plain", res->body_len,
                     s->request_id);
    for (int i = 0; i < res->n_headers && n > 0 && (size_t)n < sizeof head; i++)
        n += snprintf(head + n, sizeof head - (size_t)n, "%s: %s\r\n", res->headers[i].name,
                      res->headers[i].value);
    if (n <= 0 || (size_t)n + 2 >= sizeof head) return;
    memcpy(head + n, "\r\n", 2);
    n += 2;
    /* MHD has sent nothing for this request (a body was still arriving), and
     * the connection's previous answers went out whole before this request
     * was read: the socket's send buffer is empty, so these few hundred bytes
     * go at once. Whatever does not is dropped with the connection. */
    struct iovec parts[2] = {{head, (size_t)n}, {res->body, res->body ? res->body_len : 0}};
    struct msghdr msg = {.msg_iov = parts, .msg_iovlen = 2};
    if (sendmsg(ci->connect_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_info("could not send the %d answer before closing: the client left", res->status);
}
