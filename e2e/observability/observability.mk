# End-to-end suite of the metrics and alerts: the built daemon against the
# demo platform, scraped by Debian's Prometheus, paging Debian's
# Alertmanager (both installed by the script if missing, started by the
# test on free 127.0.0.1 ports with temp storage, killed at its end).
E2E += e2e-observability

.PHONY: e2e-observability
e2e-observability: build
	./e2e/observability/install.sh
	$(GO) test -tags e2e -count=1 -timeout 10m -v ./e2e/observability/
