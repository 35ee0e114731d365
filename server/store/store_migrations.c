/* store_migrations.c - the numbered migration files both stores apply
 * (store_backend.h): migrations/NNN_name.sql for SQLite,
 * migrations/postgresql/NNN_name.sql for PostgreSQL. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"

#define MAX_MIGRATIONS      1000
#define MAX_MIGRATION_BYTES (4 * 1024 * 1024)

static int cmp_migration(const void *a, const void *b) {
    const store_migration *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

/* NNN_name.sql: digits, an underscore, a name, ".sql". */
static int parse_migration_name(const char *name, int *number) {
    size_t len = strlen(name), digits = 0;
    while (isdigit((unsigned char)name[digits])) digits++;
    if (digits == 0 || digits > 6 || name[digits] != '_') return -1;
    if (len < digits + 1 + 4 || strcmp(name + len - 4, ".sql")) return -1;
    *number = atoi(name);
    return *number > 0 ? 0 : -1;
}

static int check_sorted(const char *dir, store_migration *list, size_t count, mlpd_error *err) {
    if (count == 0) return mlpd_fail(err, MLPD_ESTORE, "no NNN_*.sql migrations in %s", dir);
    qsort(list, count, sizeof *list, cmp_migration);
    for (size_t i = 1; i < count; i++)
        if (list[i].number == list[i - 1].number)
            return mlpd_fail(err, MLPD_ESTORE, "two migrations numbered %d: %s and %s",
                             list[i].number, list[i - 1].name, list[i].name);
    return MLPD_OK;
}

int store_migrations_list(const char *dir, store_migration **out, size_t *n, mlpd_error *err) {
    DIR *d = opendir(dir);
    if (!d) return mlpd_fail(err, MLPD_ESTORE, "migrations folder %s: %s", dir, strerror(errno));
    store_migration *list = NULL;
    size_t count = 0, cap = 0;
    int rc = MLPD_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int number;
        if (parse_migration_name(e->d_name, &number) != 0) continue;
        if (strlen(e->d_name) >= sizeof list[0].name) continue;
        if (count == MAX_MIGRATIONS) {
            rc = mlpd_fail(err, MLPD_ESTORE, "more than %d migrations in %s", MAX_MIGRATIONS, dir);
            break;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            store_migration *grown = realloc(list, cap * sizeof *list);
            if (!grown) {
                rc = mlpd_fail(err, MLPD_ESTORE, "out of memory");
                break;
            }
            list = grown;
        }
        list[count].number = number;
        snprintf(list[count].name, sizeof list[count].name, "%s", e->d_name);
        count++;
    }
    closedir(d);
    if (rc == MLPD_OK) rc = check_sorted(dir, list, count, err);
    if (rc != MLPD_OK) {
        free(list);
        return rc;
    }
    *out = list;
    *n = count;
    return MLPD_OK;
}

char *store_migration_text(const char *dir, const store_migration *m, mlpd_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, m->name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        mlpd_fail(err, MLPD_ESTORE, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_MIGRATION_BYTES + 1);
    size_t len = buf ? fread(buf, 1, MAX_MIGRATION_BYTES + 1, f) : 0;
    int bad = !buf || ferror(f) || len > MAX_MIGRATION_BYTES;
    fclose(f);
    if (bad) {
        mlpd_fail(err, MLPD_ESTORE, "%s: %s", path,
                  buf ? "unreadable or larger than 4 MiB" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}
