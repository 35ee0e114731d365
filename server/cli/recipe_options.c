/* recipe_options.c - mlpd train's recipe options from mlp_recipe_fields
 * (contracts in recipe_options.h). */
#include "recipe_options.h"

#include <stdio.h>
#include <string.h>

/* One member as a cli_option; -1 when its choices do not fit. */
static int make_option(recipe_options *ro, mlp_recipe *r, const mlp_recipe_field *f,
                       cli_option *o) {
    int k = ro->n;
    *o = (cli_option){.name = f->flag,
                      .dest = mlp_recipe_value(r, f),
                      .min = f->min,
                      .max = f->max,
                      .help = f->help};
    switch (f->type) {
    case MLP_RF_FLOAT:
        o->kind = CLI_FLOAT;
        o->flags = ((f->flags & MLP_RF_MIN_OPEN) ? CLI_MIN_OPEN : 0) |
                   ((f->flags & MLP_RF_MAX_OPEN) ? CLI_MAX_OPEN : 0);
        break;
    case MLP_RF_INT: o->kind = CLI_INT; break;
    case MLP_RF_U64: o->kind = CLI_U64; break;
    case MLP_RF_BOOL:
        /* A member that is on by default is a switch that turns it off. */
        o->kind = CLI_FLAG;
        if (*(int *)o->dest) {
            o->flags = CLI_NEGATE;
            snprintf(ro->help[k], sizeof ro->help[k], "turn off: %s", f->help);
            o->help = ro->help[k];
        }
        break;
    case MLP_RF_LIST:
        o->kind = CLI_INT_LIST;
        ro->list[k].n = r->n_hidden;
        memcpy(ro->list[k].v, r->hidden, sizeof(int) * (size_t)r->n_hidden);
        o->dest = &ro->list[k];
        break;
    case MLP_RF_CHOICE: {
        int i = 0;
        for (const char *c; (c = mlp_recipe_choice_name(f, i)); i++) {
            if (i == RECIPE_CHOICES_MAX) return -1;
            ro->choices[k][i] = c;
        }
        ro->choices[k][i] = NULL;
        int v = *(int *)o->dest;
        ro->name[k] = v >= 0 ? f->name_of(v) : NULL;
        o->kind = CLI_CHOICE;
        o->choices = ro->choices[k];
        o->dest = &ro->name[k];
        break;
    }
    }
    ro->field[k] = f;
    ro->n++;
    return 0;
}

int recipe_options_add(recipe_options *ro, mlp_recipe *r, cli_option *opts, size_t *n, size_t cap) {
    memset(ro, 0, sizeof *ro);
    for (size_t i = 0; i < mlp_recipe_n_fields; i++) {
        const mlp_recipe_field *f = &mlp_recipe_fields[i];
        if (!f->flag) continue;
        if (ro->n == RECIPE_OPTIONS_MAX || *n + 1 >= cap) return -1;
        if (make_option(ro, r, f, &opts[*n]) != 0) return -1;
        ++*n;
    }
    return 0;
}

int recipe_options_finish(const recipe_options *ro, mlp_recipe *r, char *err, size_t errlen) {
    for (int k = 0; k < ro->n; k++) {
        const mlp_recipe_field *f = ro->field[k];
        if (f->type == MLP_RF_LIST) {
            r->n_hidden = ro->list[k].n;
            memcpy(r->hidden, ro->list[k].v, sizeof(int) * (size_t)ro->list[k].n);
        } else if (f->type == MLP_RF_CHOICE) {
            int *v = mlp_recipe_value(r, f);
            if (!ro->name[k])
                *v = -1; /* the names were checked by cli_parse against the same list */
            else if (mlp_recipe_choice_value(f, ro->name[k], v) != 0)
                return 2;
        }
    }
    const mlp_recipe_field *bad = NULL;
    mlp_error e = {{0}};
    if (mlp_recipe_validate(r, &bad, &e) == MLP_OK) return 0;
    if (bad && bad->flag)
        snprintf(err, errlen, "--%s: %s", bad->flag, e.msg);
    else
        snprintf(err, errlen, "%s", e.msg);
    return 2;
}
