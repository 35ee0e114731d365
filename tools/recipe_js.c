/* recipe_js.c - writes web/js/recipe.js (api_recipe_schema_js) to stdout.
 * Built and run by `make` (rule web/js/recipe.js). */
#include <stdio.h>
#include <stdlib.h>

#include "recipe_schema.h"

int main(void) {
    char *s = api_recipe_schema_js();
    if (!s) {
        fprintf(stderr, "recipe-js: out of memory\n");
        return 1;
    }
    fputs(s, stdout);
    free(s);
    return ferror(stdout) ? 1 : 0;
}
