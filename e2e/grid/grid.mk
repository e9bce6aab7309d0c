# Real-grid end-to-end suite: a single-host Son of Grid Engine cell from
# Debian's gridengine-* packages (installed by e2e/grid/sge-cell.sh if
# missing; root), the built daemon, a stand-in front proxy and webservice
# command, and the scenarios of e2e/grid (deleted job, Eqw, lost
# registration, proxy failover and failures, qmaster stopped and hung,
# failing and hanging restarts, adversarial homes, the audit while the daemon
# runs) plus a kill -9 soak. The safety valve and source-failure scenarios
# page a real Alertmanager (Debian's prometheus-alertmanager, installed here
# if missing, started by the tests on free 127.0.0.1 ports with temp
# storage). The cell is torn down by PID at the end, even on failure.
# `make e2e-grid WSM_GRID_SOAK_KILLS=200` digs deeper.
E2E += e2e-grid

.PHONY: e2e-grid
e2e-grid: build
	./e2e/observability/install.sh prometheus-alertmanager
	@set -e; trap './e2e/grid/sge-cell.sh down' EXIT; \
	  ./e2e/grid/sge-cell.sh up; \
	  eval "$$(./e2e/grid/sge-cell.sh env)"; \
	  $(GO) test -tags e2e -count=1 -timeout 20m -v ./e2e/grid/...
