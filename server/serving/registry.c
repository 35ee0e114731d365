/* registry.c - names, aliases and canaries resolved in memory (registry.h). */
#include "registry.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct registry {
    store *st;
    char default_alias[STORE_NAME_MAX + 1];
    pthread_rwlock_t lock;         /* guards snap and snap_gen */
    store_registry snap;           /* valid when snap_gen == gen */
    uint_fast64_t snap_gen;        /* gen the snapshot was read at; 0: never read */
    atomic_uint_fast64_t gen;      /* bumped by registry_changed; starts at 1 */
    atomic_uint_fast64_t count;    /* unversioned requests to canaried names */
    pthread_mutex_t unloaded_lock; /* guards unloaded / n_unloaded */
    char (*unloaded)[STORE_NAME_MAX + 1];
    size_t n_unloaded;
    atomic_int any_unloaded; /* n_unloaded > 0: the hot path skips the lock otherwise */
};

registry *registry_create(store *st, const char *default_alias) {
    registry *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    if (pthread_rwlock_init(&r->lock, NULL) != 0) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->unloaded_lock, NULL);
    atomic_init(&r->any_unloaded, 0);
    r->st = st;
    snprintf(r->default_alias, sizeof r->default_alias, "%s", default_alias ? default_alias : "");
    atomic_init(&r->gen, 1);
    atomic_init(&r->count, 0);
    return r;
}

void registry_free(registry *r) {
    if (!r) return;
    store_registry_free(&r->snap);
    pthread_rwlock_destroy(&r->lock);
    pthread_mutex_destroy(&r->unloaded_lock);
    free(r->unloaded);
    free(r);
}

const char *registry_default_alias(const registry *r) {
    return r->default_alias;
}

void registry_changed(registry *r) {
    if (r) atomic_fetch_add(&r->gen, 1);
}

/* Take the read lock on a snapshot at least as new as the last change. */
static int rdlock_fresh(registry *r, mlpd_error *err) {
    for (;;) {
        pthread_rwlock_rdlock(&r->lock);
        uint_fast64_t g = atomic_load(&r->gen);
        if (r->snap_gen == g) return MLPD_OK;
        pthread_rwlock_unlock(&r->lock);
        store_registry fresh;
        mlpd_error se = {0};
        if (store_registry_load(r->st, &fresh, &se) != MLPD_OK)
            return mlpd_fail(err, se.code, "store: %s", se.msg);
        pthread_rwlock_wrlock(&r->lock);
        /* A change that came while loading bumped gen past g: the loop then
         * reads again, so no answer predates the change that asked for it. */
        store_registry_free(&r->snap);
        r->snap = fresh;
        r->snap_gen = g;
        pthread_rwlock_unlock(&r->lock);
    }
}

static const store_reg_version *find_version(const store_registry *s, const char *name,
                                             int version) {
    const store_reg_version *latest = NULL;
    for (size_t i = 0; i < s->n_versions; i++) {
        const store_reg_version *v = &s->versions[i];
        if (strcmp(v->name, name)) continue;
        if (version > 0 && v->version == version) return v;
        if (version == 0 && (!latest || v->version > latest->version)) latest = v;
    }
    return latest;
}

static int alias_version(const store_registry *s, const char *name, const char *alias) {
    for (size_t i = 0; i < s->n_aliases; i++)
        if (!strcmp(s->aliases[i].name, name) && !strcmp(s->aliases[i].alias, alias))
            return s->aliases[i].version;
    return 0;
}

/* Which version an unversioned request for name gets (0: the latest). */
static int default_version(registry *r, const char *name, int *canary) {
    for (size_t i = 0; i < r->snap.n_canaries; i++) {
        const store_reg_canary *c = &r->snap.canaries[i];
        if (strcmp(c->name, name)) continue;
        if ((int)(atomic_fetch_add(&r->count, 1) % 100) < c->percent) {
            *canary = 1;
            return c->version;
        }
        break;
    }
    return r->default_alias[0] ? alias_version(&r->snap, name, r->default_alias) : 0;
}

int registry_resolve(registry *r, const char *name, const char *alias, int version, int canary,
                     registry_target *out, mlpd_error *err) {
    memset(out, 0, sizeof *out);
    int rc = rdlock_fresh(r, err);
    if (rc != MLPD_OK) return rc;
    const store_reg_version *v = NULL;
    if (!find_version(&r->snap, name, 0)) {
        mlpd_fail(err, MLPD_ENOTFOUND, "no model named '%s'", name);
    } else if (alias && alias[0]) {
        int av = alias_version(&r->snap, name, alias);
        if (av == 0)
            mlpd_fail(err, MLPD_ENOTFOUND, "model '%s' has no alias '%s'", name, alias);
        else
            v = find_version(&r->snap, name, av);
    } else {
        if (version == 0 && canary) version = default_version(r, name, &out->canary);
        if (version == 0 && !canary && r->default_alias[0])
            version = alias_version(&r->snap, name, r->default_alias);
        v = find_version(&r->snap, name, version);
        if (!v) mlpd_fail(err, MLPD_ENOTFOUND, "model '%s' has no version %d", name, version);
    }
    rc = MLPD_ENOTFOUND;
    if (v) {
        out->model_id = v->model_id;
        snprintf(out->name, sizeof out->name, "%s", v->name);
        out->version = v->version;
        rc = MLPD_OK;
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

int registry_lookup_id(registry *r, int64_t model_id, registry_target *out) {
    memset(out, 0, sizeof *out);
    int rc = rdlock_fresh(r, NULL);
    if (rc != MLPD_OK) return rc;
    rc = MLPD_ENOTFOUND;
    for (size_t i = 0; i < r->snap.n_versions; i++) {
        if (r->snap.versions[i].model_id != model_id) continue;
        out->model_id = model_id;
        /* Snapshot names fit (both are STORE_NAME_MAX + 1 bytes); cut if not. */
        size_t len = strnlen(r->snap.versions[i].name, sizeof out->name - 1);
        memcpy(out->name, r->snap.versions[i].name, len);
        out->name[len] = '\0';
        out->version = r->snap.versions[i].version;
        rc = MLPD_OK;
        break;
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

void registry_set_unloaded(registry *r, const char *name, int unloaded) {
    pthread_mutex_lock(&r->unloaded_lock);
    size_t i = 0;
    while (i < r->n_unloaded && strcmp(r->unloaded[i], name)) i++;
    if (unloaded && i == r->n_unloaded) {
        void *grown = realloc(r->unloaded, (r->n_unloaded + 1) * sizeof *r->unloaded);
        if (grown) {
            r->unloaded = grown;
            snprintf(r->unloaded[r->n_unloaded++], sizeof *r->unloaded, "%s", name);
        }
    } else if (!unloaded && i < r->n_unloaded) {
        memmove(&r->unloaded[i], &r->unloaded[i + 1],
                (r->n_unloaded - i - 1) * sizeof *r->unloaded);
        r->n_unloaded--;
    }
    atomic_store(&r->any_unloaded, r->n_unloaded > 0);
    pthread_mutex_unlock(&r->unloaded_lock);
}

int registry_is_unloaded(registry *r, const char *name) {
    if (!atomic_load_explicit(&r->any_unloaded, memory_order_relaxed)) return 0;
    pthread_mutex_lock(&r->unloaded_lock);
    int found = 0;
    for (size_t i = 0; i < r->n_unloaded && !found; i++) found = !strcmp(r->unloaded[i], name);
    pthread_mutex_unlock(&r->unloaded_lock);
    return found;
}

/* Copy n elem-sized records (NULL for none); 0 or -1 when out of memory. */
static int dup_array(void **dst, const void *src, size_t n, size_t elem) {
    *dst = NULL;
    if (n == 0) return 0;
    *dst = malloc(n * elem);
    if (!*dst) return -1;
    memcpy(*dst, src, n * elem);
    return 0;
}

int registry_snapshot(registry *r, store_registry *out, mlpd_error *err) {
    memset(out, 0, sizeof *out);
    int rc = rdlock_fresh(r, err);
    if (rc != MLPD_OK) return rc;
    const store_registry *s = &r->snap;
    if (dup_array((void **)&out->versions, s->versions, s->n_versions, sizeof *s->versions) ||
        dup_array((void **)&out->aliases, s->aliases, s->n_aliases, sizeof *s->aliases) ||
        dup_array((void **)&out->canaries, s->canaries, s->n_canaries, sizeof *s->canaries)) {
        rc = mlpd_fail(err, MLPD_EINTERNAL, "out of memory");
    } else {
        out->n_versions = s->n_versions;
        out->n_aliases = s->n_aliases;
        out->n_canaries = s->n_canaries;
    }
    pthread_rwlock_unlock(&r->lock);
    if (rc != MLPD_OK) store_registry_free(out);
    return rc;
}
