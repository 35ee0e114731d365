/* recipe_options.h - mlpd train's options for the training recipe, made from
 * the engine's table (mlp_recipe_fields), so the command line has the same
 * members, defaults and limits as POST /train.
 *
 * recipe_options_add() appends one cli_option per member that has a flag,
 * writing straight into the recipe where the types agree and into ro's own
 * text otherwise (hidden widths, choice names); recipe_options_finish() copies
 * those back after cli_parse() and checks the whole recipe, naming the flag
 * at fault. ro and r must outlive the options.
 */
#ifndef MLPD_RECIPE_OPTIONS_H
#define MLPD_RECIPE_OPTIONS_H

#include <stddef.h>

#include "cli_args.h"
#include "mlp.h"

#define RECIPE_OPTIONS_MAX 48 /* members with a flag (checked) */
#define RECIPE_CHOICES_MAX 8  /* names of one choice member (checked) */

typedef struct {
    const mlp_recipe_field *field[RECIPE_OPTIONS_MAX];
    cli_int_list list[RECIPE_OPTIONS_MAX];
    const char *name[RECIPE_OPTIONS_MAX];
    const char *choices[RECIPE_OPTIONS_MAX][RECIPE_CHOICES_MAX + 1];
    char help[RECIPE_OPTIONS_MAX][160]; /* a switch's help ("turn off: ...") */
    int n;
} recipe_options;

/* Append r's options to opts (which holds *n entries and room for cap; the
 * caller ends it with a NULL-named entry). r holds the defaults to show.
 * 0, or -1 when opts, ro or a choice list is too small. */
int recipe_options_add(recipe_options *ro, mlp_recipe *r, cli_option *opts, size_t *n, size_t cap);

/* After cli_parse(): complete r and validate it. 0, or 2 (usage) with
 * "--flag: reason" in err. */
int recipe_options_finish(const recipe_options *ro, mlp_recipe *r, char *err, size_t errlen);

#endif /* MLPD_RECIPE_OPTIONS_H */
