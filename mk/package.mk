# The Debian package (`make deb`) and its end-to-end suite.
#
# `make deb` builds bin/webservicemonitor with the version from git describe
# in -ldflags (the `build` target) and packs it with deploy/mkdeb, which uses
# nfpm as a library pinned in deploy/mkdeb/go.mod. SOURCE_DATE_EPOCH (the
# commit time) makes the archive's timestamps reproducible.
E2E += e2e-package

DEB_DIR := bin

.PHONY: deb e2e-package

deb: build
	rm -f $(DEB_DIR)/webservicemonitor_*.deb
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || echo 0) \
	  $(GO) -C deploy/mkdeb run . -root '$(CURDIR)' -binary bin/webservicemonitor -out $(DEB_DIR) \
	    -version '$(VERSION)' -commit '$(COMMIT)' -commits $$(git rev-list --count HEAD 2>/dev/null || echo 0)

# Installs sudo, systemd (for systemd-analyze) and promtool if missing, then:
# mkdeb's own tests, the fleet rule's promtool test, and the Go suite in
# e2e/package (dpkg -i/-r/-P of the package built above, state-file
# upgrades and refusals, the systemd watchdog). Must run as root (dpkg -i).
e2e-package: deb
	./deploy/e2e/package/install.sh
	$(GO) -C deploy/mkdeb vet .
	$(GO) -C deploy/mkdeb test -count=1 .
	promtool test rules deploy/prometheus/fleet.rules.test.yml
	WSM_DEB="$(CURDIR)/$$(ls $(DEB_DIR)/webservicemonitor_*.deb)" WSM_VERSION='$(VERSION)' WSM_COMMIT='$(COMMIT)' \
	  $(GO) test -tags e2e -count=1 -timeout 10m -v ./e2e/package/
