# web/web.mk - the dashboard's assets (included by the top Makefile).
#
#   make web-assets    copy Chart.js (npm chart.js, pinned by package-lock.json)
#                      into web/vendor/, and write web/assets.list: the files
#                      the daemon serves (server/rest/web_assets.h). Nothing
#                      else in web/ is served: not this file, README.md,
#                      package.json or anything left lying here. Each served
#                      text asset gets a gzip sibling (name.gz, gzip -9 -n),
#                      sent to clients that accept gzip; so does
#                      api/openapi.yaml.
#
# web/vendor/ is generated and git-ignored (web/.gitignore). The dashboard
# still loads without it, showing its curves as tables only.

WEB_CHARTJS_SRC := node_modules/chart.js/dist/chart.umd.js
WEB_CHARTJS_LICENSE := node_modules/chart.js/LICENSE.md
WEB_VENDOR := web/vendor

# The dashboard: its page, styles and ES modules, and the vendored files.
WEB_SERVED = $(sort $(patsubst web/%,%,$(wildcard web/*.html web/*.css web/*.js web/js/*.js \
                                                  web/js/*/*.js web/*.svg web/*.png web/*.ico))) \
             vendor/chart.umd.js vendor/chart.js.LICENSE.md
WEB_ASSETS_LIST := web/assets.list

.PHONY: web-assets web-assets-list
# Precompressed at build time, so serving a file costs no CPU: text assets
# (html, css, js, svg, md, yaml) only; images are compressed already.
WEB_GZ = $(addsuffix .gz,$(addprefix web/,$(filter %.html %.css %.js %.svg %.md,$(WEB_SERVED)))) \
         api/openapi.yaml.gz
web-assets: $(WEB_VENDOR)/chart.umd.js $(WEB_VENDOR)/chart.js.LICENSE.md web-assets-list $(WEB_GZ)

web/%.gz: web/%
	gzip -9 -n -c $< >$@.tmp && mv $@.tmp $@

api/openapi.yaml.gz: api/openapi.yaml
	gzip -9 -n -c $< >$@.tmp && mv $@.tmp $@

# Rewritten only when the set of files changes (a file added or removed).
web-assets-list:
	@printf '%s\n' '# Written by make (web/web.mk): the files mlpd serves from here.' \
	    $(WEB_SERVED) >$(WEB_ASSETS_LIST).tmp
	@cmp -s $(WEB_ASSETS_LIST).tmp $(WEB_ASSETS_LIST) && rm -f $(WEB_ASSETS_LIST).tmp \
	    || mv $(WEB_ASSETS_LIST).tmp $(WEB_ASSETS_LIST)

$(WEB_VENDOR)/chart.umd.js: $(WEB_CHARTJS_SRC)
	@mkdir -p $(dir $@)
	cp $< $@

$(WEB_VENDOR)/chart.js.LICENSE.md: $(WEB_CHARTJS_LICENSE)
	@mkdir -p $(dir $@)
	cp $< $@

# Only reached when node_modules lacks the file: say how to get it.
$(WEB_CHARTJS_SRC) $(WEB_CHARTJS_LICENSE):
	@echo "web-assets: $@ is missing; run 'make deps' (npm ci) first" >&2
	@exit 1
