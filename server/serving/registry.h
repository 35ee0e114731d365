/* registry.h - which model answers a request that names one: the registry's
 * names, versions, aliases and canaries kept in memory for the HTTP threads.
 *
 * The store's registry tables (store.h: store_registry_load) are read once
 * and kept until registry_changed() (called through
 * model_cache_models_changed() after an upload, a job's model, a delete, an
 * alias or canary change), so resolving a name costs no query on the hot
 * path. Readers share a read lock; a reload swaps the snapshot under the
 * write lock.
 *
 * Resolution of (name, alias, version):
 *   version > 0      that version
 *   alias given      the version the alias points at
 *   neither          the canary's version for its share of requests (a
 *                    counter: request k goes to the canary when
 *                    k mod 100 < percent, so any 100 consecutive unversioned
 *                    requests give it exactly percent), else the version of
 *                    the default alias (--default-alias) when the name has
 *                    it, else the latest version.
 */
#ifndef MLPD_REGISTRY_H
#define MLPD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Errors follow mlpd_error.h: MLPD_ENOTFOUND for no such name, version or
 * alias (err says which), the store's code when reloading the snapshot
 * fails, MLPD_EINTERNAL for no memory. */

typedef struct registry registry;

typedef struct {
    int64_t model_id;
    char name[STORE_NAME_MAX + 1];
    int version;
    int canary; /* 1 when the canary share chose it */
} registry_target;

/* default_alias is copied ("" or NULL: none). NULL on ENOMEM. */
registry *registry_create(store *st, const char *default_alias);
void registry_free(registry *r);
/* The alias an unversioned request uses ("" when none). */
const char *registry_default_alias(const registry *r);

/* The store's registry changed: reload on next use. */
void registry_changed(registry *r);

/* Resolve as above (alias NULL or "" and version 0: the name's default).
 * With canary 0 the canary share is not applied (metadata, readiness). */
int registry_resolve(registry *r, const char *name, const char *alias, int version, int canary,
                     registry_target *out, mlpd_error *err);
/* Name and version of model id (MLPD_ENOTFOUND when it has none). */
int registry_lookup_id(registry *r, int64_t model_id, registry_target *out);

/* The v2 model repository extension's unload / load: an unloaded name
 * answers no inference until loaded again (kept in memory only: a restart
 * loads every model on demand again). */
void registry_set_unloaded(registry *r, const char *name, int unloaded);
int registry_is_unloaded(registry *r, const char *name);

/* A copy of the whole snapshot (for listings); free with store_registry_free. */
int registry_snapshot(registry *r, store_registry *out, mlpd_error *err);

#endif /* MLPD_REGISTRY_H */
