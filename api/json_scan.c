/* json_scan.c - a strict, allocation-free JSON lexer over a length-bounded
 * buffer (see json_scan.h). */
#include "json_scan.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"

/* Malformed JSON: stop at once (it overrides any problem found earlier). */
int api_json_scan_syntax_error(api_json_scan *s, const char *what) {
    api_problem_set(s->prob, 400, API_SLUG_MALFORMED, NULL,
                    "the body is not valid JSON: %s at byte %zu", what, (size_t)(s->p - s->start));
    return -1;
}

void api_json_scan_ws(api_json_scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* A string at s->p (the opening quote). Its UTF-8 text goes to buf (cut to
 * cap - 1 bytes, *cut set) when buf is not NULL. Surrogate escapes must pair,
 * as cJSON requires. */
int api_json_scan_string(api_json_scan *s, char *buf, size_t cap, int *cut) {
    size_t n = 0;
    if (cut) *cut = 0;
    s->p++; /* opening quote */
    for (;;) {
        if (s->p >= s->end) return api_json_scan_syntax_error(s, "unterminated string");
        unsigned char c = (unsigned char)*s->p;
        char enc[4];
        size_t enc_len = 1;
        if (c == '"') {
            s->p++;
            break;
        }
        if (c < 0x20) return api_json_scan_syntax_error(s, "control character in a string");
        if (c != '\\') {
            enc[0] = (char)c;
            s->p++;
        } else {
            if (s->end - s->p < 2) return api_json_scan_syntax_error(s, "unterminated escape");
            char e = s->p[1];
            s->p += 2;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e != 'u') {
                if (!e || !simple) return api_json_scan_syntax_error(s, "invalid escape");
                enc[0] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            } else {
                unsigned cp, lo;
                if (s->end - s->p < 4 || hex4(s->p, &cp))
                    return api_json_scan_syntax_error(s, "invalid \\u escape");
                s->p += 4;
                if (cp == 0) /* valid JSON, but a C string would end there */
                    return api_json_nul_problem(s->prob, (size_t)(s->p - 6 - s->start));
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return api_json_scan_syntax_error(s, "lone low surrogate");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                        hex4(s->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return api_json_scan_syntax_error(s, "unpaired surrogate");
                    s->p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp < 0x80) {
                    enc[0] = (char)cp;
                } else if (cp < 0x800) {
                    enc[0] = (char)(0xC0 | (cp >> 6));
                    enc[1] = (char)(0x80 | (cp & 0x3F));
                    enc_len = 2;
                } else if (cp < 0x10000) {
                    enc[0] = (char)(0xE0 | (cp >> 12));
                    enc[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    enc[2] = (char)(0x80 | (cp & 0x3F));
                    enc_len = 3;
                } else {
                    enc[0] = (char)(0xF0 | (cp >> 18));
                    enc[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    enc[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    enc[3] = (char)(0x80 | (cp & 0x3F));
                    enc_len = 4;
                }
            }
        }
        if (buf) {
            if (n + enc_len < cap) {
                memcpy(buf + n, enc, enc_len);
                n += enc_len;
            } else if (cut) {
                *cut = 1;
            }
        }
    }
    if (buf && cap) buf[n] = '\0';
    return 0;
}

/* Exact powers of ten as doubles (10^22 is the largest a double holds exactly). */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Whether every double within 16 units in the last place of d rounds to the
 * same float as d: d is a normal float's magnitude and its bits below float
 * precision are not near the halfway pattern (float midpoints are doubles). */
static int float_rounding_is_clear(double d) {
    double a = fabs(d);
    if (!(a >= 0x1p-125 && a <= 0x1p127)) return 0;
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    uint64_t low = bits & ((UINT64_C(1) << 29) - 1), half = UINT64_C(1) << 28;
    return (low > half ? low - half : half - low) > 16;
}

/* A JSON number at s->p into *out.
 * - Exact path (Clinger): at most 15 significant digits (an exact double) and
 *   a decimal exponent within +-22 (an exact power): one multiplication or
 *   division rounds exactly as strtod does. Values such as 0.5 or 0.25098 and
 *   every id take it.
 * - With for_float, longer mantissas (0.12156862745098039, what JavaScript
 *   prints for 31/255) are converted with two roundings (error < 2 units of
 *   the double), which gives the float strtod-then-cast gives unless the value
 *   lies next to a float rounding boundary (float_rounding_is_clear).
 * - Anything else goes to strtod. */
int api_json_scan_number(api_json_scan *s, double *out, int for_float) {
    const char *p = s->p, *end = s->end, *begin = s->p;
    int neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    uint64_t m = 0;
    int digits = 0, exp10 = 0, exact = 1;
    if (p >= end || !api_json_is_digit(*p)) {
        s->p = p;
        return api_json_scan_syntax_error(s, "invalid number");
    }
    if (*p == '0') {
        p++;
    } else {
        for (; p < end && api_json_is_digit(*p); p++) {
            if (digits < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                digits++;
            } else {
                exp10++;
                exact = 0;
            }
        }
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !api_json_is_digit(*p)) {
            s->p = p;
            return api_json_scan_syntax_error(s, "invalid number");
        }
        for (; p < end && api_json_is_digit(*p); p++) {
            if (m == 0 && *p == '0') { /* leading zeros of 0.000x are not significant */
                exp10--;
            } else if (digits < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                digits++;
                exp10--;
            } else {
                exact = 0;
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, e = 0;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p >= end || !api_json_is_digit(*p)) {
            s->p = p;
            return api_json_scan_syntax_error(s, "invalid exponent");
        }
        for (; p < end && api_json_is_digit(*p); p++)
            if (e < 100000) e = e * 10 + (*p - '0');
        exp10 += eneg ? -e : e;
    }
    s->p = p;
    if (exp10 >= -22 && exp10 <= 22 && (m == 0 || (exact && digits <= 15) || for_float)) {
        double d = (double)m;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        if (m == 0 || (exact && digits <= 15) || float_rounding_is_clear(d)) {
            *out = neg ? -d : d;
            return 0;
        }
    }
    /* strtod needs a NUL-terminated copy: the body may end right after the number. */
    char small[64];
    size_t len = (size_t)(p - begin);
    char *tok = len < sizeof small ? small : malloc(len + 1);
    if (!tok) {
        api_problem_set(s->prob, 500, NULL, NULL, "out of memory");
        return -1;
    }
    memcpy(tok, begin, len);
    tok[len] = '\0';
    *out = strtod(tok, NULL);
    if (tok != small) free(tok);
    return 0;
}

int api_json_scan_literal(api_json_scan *s, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n))
        return api_json_scan_syntax_error(s, "invalid literal");
    s->p += n;
    return 0;
}

/* Any JSON value, checked and discarded. depth counts the arrays and objects
 * around it; like cJSON, at most API_JSON_MAX_DEPTH may nest. */
int api_json_scan_skip(api_json_scan *s, int depth) {
    if (s->p >= s->end) return api_json_scan_syntax_error(s, "value expected");
    double ignored;
    switch (*s->p) {
    case '"': return api_json_scan_string(s, NULL, 0, NULL);
    case 't': return api_json_scan_literal(s, "true");
    case 'f': return api_json_scan_literal(s, "false");
    case 'n': return api_json_scan_literal(s, "null");
    case '[':
    case '{': {
        if (depth >= API_JSON_MAX_DEPTH) return api_json_scan_syntax_error(s, "nested too deeply");
        char close = *s->p == '[' ? ']' : '}';
        s->p++;
        api_json_scan_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 0;
        }
        for (;;) {
            if (close == '}') {
                if (s->p >= s->end || *s->p != '"')
                    return api_json_scan_syntax_error(s, "member name expected");
                if (api_json_scan_string(s, NULL, 0, NULL)) return -1;
                api_json_scan_ws(s);
                if (s->p >= s->end || *s->p != ':')
                    return api_json_scan_syntax_error(s, "':' expected");
                s->p++;
                api_json_scan_ws(s);
            }
            if (api_json_scan_skip(s, depth + 1)) return -1;
            api_json_scan_ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                api_json_scan_ws(s);
                continue;
            }
            if (s->p < s->end && *s->p == close) {
                s->p++;
                return 0;
            }
            return api_json_scan_syntax_error(s, close == ']' ? "',' or ']' expected"
                                                              : "',' or '}' expected");
        }
    }
    default:
        if (*s->p == '-' || api_json_is_digit(*s->p)) return api_json_scan_number(s, &ignored, 0);
        return api_json_scan_syntax_error(s, "value expected");
    }
}
