# web/web.mk - the dashboard's vendored assets (included by the top Makefile).
#
#   make web-assets    copy Chart.js (npm chart.js, pinned by package-lock.json)
#                      into web/vendor/, which the daemon serves with the rest of web/
#
# web/vendor/ is generated and git-ignored (web/.gitignore). The dashboard
# still loads without it, showing its curves as tables only.

WEB_CHARTJS_SRC := node_modules/chart.js/dist/chart.umd.js
WEB_CHARTJS_LICENSE := node_modules/chart.js/LICENSE.md
WEB_VENDOR := web/vendor

.PHONY: web-assets
web-assets: $(WEB_VENDOR)/chart.umd.js $(WEB_VENDOR)/chart.js.LICENSE.md

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
