/* cli_args.c - strict option and number parsing (contracts in cli_args.h). */
#include "cli_args.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

/* ---- numbers ------------------------------------------------------------------ */

/* strto* skip leading blanks and accept a sign on unsigned input: refuse what
 * a strict reader would not call a number before handing s to them. */
static int starts_like_number(const char *s) {
    return s && *s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\v' &&
           *s != '\f';
}

int cli_parse_long(const char *s, long min, long max, long *out) {
    if (!starts_like_number(s)) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int cli_parse_u64(const char *s, uint64_t *out) {
    if (!starts_like_number(s) || *s == '-' || *s == '+') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_double(const char *s, double min, double max, int open_min, int open_max,
                     double *out) {
    if (!starts_like_number(s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* ERANGE on underflow (1e-400) is as doubtful as overflow: refuse both. */
    if (errno || *end || !isfinite(v)) return -1;
    if (open_min ? !(v > min) : !(v >= min)) return -1;
    if (open_max ? !(v < max) : !(v <= max)) return -1;
    *out = v;
    return 0;
}

int cli_parse_int_list(const char *s, long min, long max, cli_int_list *out) {
    cli_int_list l = {0};
    if (!s || !*s) return -1;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[32];
        if (len == 0 || len >= sizeof item || l.n == CLI_LIST_MAX) return -1;
        memcpy(item, p, len);
        item[len] = '\0';
        long v;
        if (cli_parse_long(item, min, max, &v)) return -1;
        l.v[l.n++] = (int)v;
        if (!comma) break;
        p = comma + 1;
    }
    *out = l;
    return 0;
}

int cli_parse_size(const char *s, size_t *out) {
    if (!starts_like_number(s) || *s == '-' || *s == '+') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    unsigned long long mul = 1;
    if (!strcmp(end, "%")) { /* a share of the machine's physical memory */
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        if (v == 0 || v > 100 || pages <= 0 || page <= 0) return -1;
        *out = (size_t)((unsigned long long)pages / 100u * v * (unsigned long long)page);
        return *out ? 0 : -1;
    }
    if (*end) {
        switch (*end) {
        case 'k':
        case 'K': mul = 1ull << 10; break;
        case 'm':
        case 'M': mul = 1ull << 20; break;
        case 'g':
        case 'G': mul = 1ull << 30; break;
        default: return -1;
        }
        end++;
        if (!strcasecmp(end, "ib") || !strcasecmp(end, "b")) end += strlen(end);
        if (*end) return -1;
    }
    if (v == 0 || v > SIZE_MAX / mul) return -1;
    *out = (size_t)(v * mul);
    return 0;
}

/* ---- option table ------------------------------------------------------------------ */

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* "[0, 1)" style description of a float option's range. */
static void range_text(const cli_option *o, char *buf, size_t n) {
    snprintf(buf, n, "%c%g, %g%c", (o->flags & CLI_MIN_OPEN) ? '(' : '[', o->min, o->max,
             (o->flags & CLI_MAX_OPEN) ? ')' : ']');
}

/* A switch's value from its variable or --flag=VALUE: 0, false and no clear it. */
static int switch_value(const char *val) {
    return !(val[0] == '0' || !strcasecmp(val, "false") || !strcasecmp(val, "no"));
}

/* Set o from text; `who` names the source in err ("--port", "MLPD_PORT"). */
/* A CLI_STRING: copied into a buffer of o->cap bytes (may be empty), or
 * pointed at (must not be empty). */
static int apply_string(const cli_option *o, const char *val, const char *who, char *err,
                        size_t errlen) {
    if (o->cap > 0) {
        if (strlen(val) >= o->cap) {
            set_err(err, errlen, "%s: value too long (at most %zu bytes)", who, o->cap - 1);
            return -1;
        }
        memcpy(o->dest, val, strlen(val) + 1);
        return 0;
    }
    if (!*val) {
        set_err(err, errlen, "%s: empty value", who);
        return -1;
    }
    *(const char **)o->dest = val;
    return 0;
}

/* A CLI_CHOICE: the matching entry of o->choices, or an error listing them. */
static int apply_choice(const cli_option *o, const char *val, const char *who, char *err,
                        size_t errlen) {
    for (const char *const *c = o->choices; *c; c++)
        if (!strcmp(*c, val)) {
            *(const char **)o->dest = *c;
            return 0;
        }
    char list[96];
    size_t used = 0;
    list[0] = '\0';
    for (const char *const *c = o->choices; *c && used < sizeof list; c++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                 c == o->choices ? "" : ", ", *c);
    set_err(err, errlen, "%s: '%s' is not one of %s", who, val, list);
    return -1;
}

static int apply_value(const cli_option *o, const char *val, const char *who, char *err,
                       size_t errlen) {
    char range[96];
    switch (o->kind) {
    case CLI_FLAG:
        *(int *)o->dest = val ? switch_value(val) : (o->flags & CLI_NEGATE) ? 0 : 1;
        return 0;
    case CLI_INT: {
        long v;
        if (cli_parse_long(val, (long)o->min, (long)o->max, &v)) {
            set_err(err, errlen, "%s: '%s' is not an integer in [%ld, %ld]", who, val, (long)o->min,
                    (long)o->max);
            return -1;
        }
        *(int *)o->dest = (int)v;
        return 0;
    }
    case CLI_U64: {
        uint64_t v;
        if (cli_parse_u64(val, &v) ||
            (o->max > 0 && (v < (uint64_t)o->min || v > (uint64_t)o->max))) {
            if (o->max > 0)
                set_err(err, errlen, "%s: '%s' is not an integer in [%.0f, %.0f]", who, val, o->min,
                        o->max);
            else
                set_err(err, errlen, "%s: '%s' is not a non-negative integer", who, val);
            return -1;
        }
        *(uint64_t *)o->dest = v;
        return 0;
    }
    case CLI_FLOAT: {
        double v;
        if (cli_parse_double(val, o->min, o->max, !!(o->flags & CLI_MIN_OPEN),
                             !!(o->flags & CLI_MAX_OPEN), &v)) {
            range_text(o, range, sizeof range);
            set_err(err, errlen, "%s: '%s' is not a number in %s", who, val, range);
            return -1;
        }
        *(float *)o->dest = (float)v;
        return 0;
    }
    case CLI_SIZE:
        if (cli_parse_size(val, (size_t *)o->dest)) {
            set_err(err, errlen, "%s: '%s' is not a size such as 1048576, 512K or 64M", who, val);
            return -1;
        }
        return 0;
    case CLI_STRING: return apply_string(o, val, who, err, errlen);
    case CLI_CHOICE: return apply_choice(o, val, who, err, errlen);
    case CLI_INT_LIST:
        if (cli_parse_int_list(val, (long)o->min, (long)o->max, (cli_int_list *)o->dest)) {
            set_err(err, errlen,
                    "%s: '%s' is not a comma-separated list of 1 to %d integers in [%ld, %ld]", who,
                    val, CLI_LIST_MAX, (long)o->min, (long)o->max);
            return -1;
        }
        return 0;
    }
    set_err(err, errlen, "%s: unsupported option kind", who);
    return -1;
}

int cli_set_defaults(const cli_option *opts, char *err, size_t errlen) {
    for (const cli_option *o = opts; o->name; o++) {
        if (!o->def) continue;
        char who[80];
        snprintf(who, sizeof who, "default of --%s", o->name);
        if (apply_value(o, o->def, who, err, errlen)) return -1;
    }
    return 0;
}

int cli_parse_env(const cli_option *opts, char *err, size_t errlen) {
    for (const cli_option *o = opts; o->name; o++) {
        const char *v = o->env ? getenv(o->env) : NULL;
        if (v && !*v && (o->flags & CLI_SECRET)) {
            set_err(err, errlen,
                    "%s is set but empty: give the token, or unset it to run without one", o->env);
            return CLI_USAGE;
        }
        /* Other empty variables count as unset (compose passes ${VAR:-} through). */
        if (v && *v && apply_value(o, v, o->env, err, errlen)) return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_parse(const cli_option *opts, int argc, char **argv, char *err, size_t errlen) {
    enum { MAX_OPTS = 64 };
    unsigned char seen[MAX_OPTS] = {0};
    size_t n_opts = 0;
    while (opts[n_opts].name) n_opts++;
    if (n_opts > MAX_OPTS) {
        set_err(err, errlen, "too many options in the table");
        return CLI_USAGE;
    }
    /* Help wins over any error elsewhere on the line. */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return CLI_HELP;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
            set_err(err, errlen, "unexpected argument '%s' (options start with --; see --help)",
                    arg);
            return CLI_USAGE;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_option *o = NULL;
        size_t k;
        for (k = 0; k < n_opts; k++)
            if (!(opts[k].flags & CLI_SECRET) && strlen(opts[k].name) == name_len &&
                !strncmp(opts[k].name, name, name_len)) {
                o = &opts[k];
                break;
            }
        if (!o) {
            set_err(err, errlen, "unknown option '--%.*s' (see --help)", (int)name_len, name);
            return CLI_USAGE;
        }
        const char *val = NULL;
        if (o->kind == CLI_FLAG) {
            if (eq && !o->env) {
                set_err(err, errlen, "--%s takes no value", o->name);
                return CLI_USAGE;
            }
            if (eq) val = eq + 1;
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            set_err(err, errlen, "--%s needs a value", o->name);
            return CLI_USAGE;
        }
        char who[80];
        snprintf(who, sizeof who, "--%s", o->name);
        if (apply_value(o, val, who, err, errlen)) return CLI_USAGE;
        seen[k] = 1;
    }
    for (size_t k = 0; k < n_opts; k++)
        if ((opts[k].flags & CLI_REQUIRED) && !seen[k]) {
            set_err(err, errlen, "--%s is required (see --help)", opts[k].name);
            return CLI_USAGE;
        }
    return CLI_OK;
}

/* ---- help ------------------------------------------------------------------------ */

static const char *default_metavar(cli_kind k) {
    switch (k) {
    case CLI_INT:
    case CLI_U64: return "N";
    case CLI_FLOAT: return "X";
    case CLI_INT_LIST: return "N,N,...";
    case CLI_CHOICE: return "NAME";
    case CLI_SIZE: return "SIZE";
    default: return "VALUE";
    }
}

/* The option's current value as help text shows it; "" for none. */
static void current_value(const cli_option *o, char *buf, size_t n) {
    buf[0] = '\0';
    switch (o->kind) {
    case CLI_FLAG: break;
    case CLI_INT: snprintf(buf, n, "%d", *(const int *)o->dest); break;
    case CLI_U64: snprintf(buf, n, "%" PRIu64, *(const uint64_t *)o->dest); break;
    case CLI_FLOAT: snprintf(buf, n, "%g", (double)*(const float *)o->dest); break;
    case CLI_SIZE: snprintf(buf, n, "%zu", *(const size_t *)o->dest); break;
    case CLI_STRING:
    case CLI_CHOICE: {
        const char *s = o->cap ? (const char *)o->dest : *(const char *const *)o->dest;
        if (s) snprintf(buf, n, "%s", s);
        break;
    }
    case CLI_INT_LIST: {
        const cli_int_list *l = o->dest;
        size_t used = 0;
        for (int i = 0; i < l->n && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, "%s%d", i ? "," : "", l->v[i]);
        break;
    }
    }
}

/* What the help line says after the text: the choices. */
static void help_choices(const cli_option *o, char *extra, size_t cap) {
    size_t used = 0;
    extra[0] = '\0';
    if (o->kind != CLI_CHOICE) return;
    used += (size_t)snprintf(extra, cap, " (one of ");
    for (const char *const *c = o->choices; *c && used < cap; c++)
        used += (size_t)snprintf(extra + used, cap - used, "%s%s", c == o->choices ? "" : "|", *c);
    if (used < cap) snprintf(extra + used, cap - used, ")");
}

/* ... and after the default: the range and the variable ("(in 1..256; MLPD_WORKERS)"). */
static void help_tail(const cli_option *o, char *tail, size_t cap) {
    char range[96] = "";
    if (o->kind == CLI_FLOAT)
        range_text(o, range, sizeof range);
    else if (o->kind == CLI_INT || (o->kind == CLI_U64 && o->max > 0))
        snprintf(range, sizeof range, "%.0f..%.0f", o->min, o->max);
    tail[0] = '\0';
    if (range[0] || o->env)
        snprintf(tail, cap, " (%s%s%s%s)", range[0] ? "in " : "", range,
                 range[0] && o->env ? "; " : "", o->env ? o->env : "");
}

void cli_print_help(FILE *f, const char *usage, const char *summary, const cli_option *opts) {
    fprintf(f, "usage: %s\n", usage);
    if (summary) fprintf(f, "\n%s\n", summary);
    fprintf(f, "\noptions:\n");
    for (const cli_option *o = opts; o->name; o++) {
        char left[64], val[160], extra[320], tail[160];
        if (o->flags & CLI_SECRET)
            snprintf(left, sizeof left, "(environment only)");
        else if (o->kind == CLI_FLAG)
            snprintf(left, sizeof left, "--%s", o->name);
        else
            snprintf(left, sizeof left, "--%s %s", o->name,
                     o->metavar ? o->metavar : default_metavar(o->kind));
        if (o->def)
            snprintf(val, sizeof val, "%s", o->def);
        else
            current_value(o, val, sizeof val);
        help_choices(o, extra, sizeof extra);
        help_tail(o, tail, sizeof tail);
        fprintf(f, "  %-26s %s%s", left, o->help ? o->help : "", extra);
        if (o->flags & CLI_REQUIRED)
            fprintf(f, " (required)");
        else if (val[0] && o->kind != CLI_FLAG)
            fprintf(f, " [default: %s]", val);
        fprintf(f, "%s\n", tail);
    }
    fprintf(f, "  %-26s %s\n", "--help", "show this help and exit");
}
