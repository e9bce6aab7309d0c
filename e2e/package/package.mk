# The Debian package's end-to-end suite (the package is `make deb`).
E2E += e2e-package

# Installs sudo, systemd (for systemd-analyze), lintian and promtool if
# missing, then: mkdeb's own tests (man page, changelog, reproducible
# build), the fleet rule's promtool test, and the Go suite in e2e/package
# (lintian on the package built above: no error or warning but the
# overrides it ships; its changelog and man page; dpkg -i/-r/-P, state-file
# upgrades and refusals, the systemd watchdog). Must run as root (dpkg -i).
e2e-package: deb
	./e2e/package/install.sh
	$(GO) -C deploy/mkdeb vet .
	$(GO) -C deploy/mkdeb test -count=1 .
	promtool test rules deploy/prometheus/fleet.rules.test.yml
	WSM_DEB="$(CURDIR)/$$(ls $(DEB_DIR)/webservicemonitor_*.deb)" WSM_VERSION='$(VERSION)' WSM_COMMIT='$(COMMIT)' \
	  $(GO) test -tags e2e -count=1 -timeout 10m -v ./e2e/package/
