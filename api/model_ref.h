/* model_ref.h - how a request names a model of the registry.
 *
 * A registered name is [A-Za-z][A-Za-z0-9._-]{0,63} (it starts with a letter,
 * so a numeric id is never a name); an alias follows the same rule. A
 * reference is one of:
 *   "name"          the name's default: its canary share, else the alias
 *                   named by --default-alias, else its latest version
 *   "name@alias"    the version the alias points at
 *   "name/3"        version 3
 * (the /predict "model" member, and the name/version segments of the v1 and
 * v2 routes, which give the name and the selector apart).
 */
#ifndef MLPD_API_MODEL_REF_H
#define MLPD_API_MODEL_REF_H

#define API_NAME_MAX 64

typedef struct {
    char name[API_NAME_MAX + 1];
    char alias[API_NAME_MAX + 1]; /* "" unless name@alias */
    int version;                  /* 0 unless name/version */
} api_model_ref;

/* 1 when s is a valid registered name (or alias). */
int api_model_name_ok(const char *s);

/* A version segment: "1".."2147483647" without sign or leading zeros; 0 when
 * s is not one. */
int api_model_version_parse(const char *s);

/* Parse "name", "name@alias" or "name/version" into *out: 0, or -1 when s is
 * none of those. */
int api_model_ref_parse(const char *s, api_model_ref *out);

/* Name and an optional selector from a URL (NULL: none; digits: a version;
 * otherwise an alias) into *out: 0, or -1 when either is malformed. */
int api_model_ref_from_parts(const char *name, const char *selector, api_model_ref *out);

#endif /* MLPD_API_MODEL_REF_H */
