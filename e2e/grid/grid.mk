# Real-grid end-to-end suite: a single-host Son of Grid Engine cell from
# Debian's gridengine-* packages (installed by e2e/grid/sge-cell.sh if
# missing; root), the built daemon, a stand-in front proxy and webservice
# command, and the scenarios of e2e/grid (deleted job, Eqw, lost
# registration, proxy failover and failures, qmaster stopped and hung,
# failing and hanging restarts, adversarial homes, the audit while the daemon
# runs) plus a kill -9 soak. The safety valve and source-failure scenarios
# page a real Alertmanager (Debian's prometheus-alertmanager, installed here
# if missing, started by the tests on free 127.0.0.1 ports with temp
# storage). `sge-cell.sh suite` runs it all: one run per machine at a time
# (a lock), `finish` before the cell comes up (what a killed run left) and,
# in a trap, at the end, pass or fail: the cell's daemons stopped by PID, no
# process of a run, no tools.* account or group of the cell, no
# /var/tmp/wsm-grid; a failed scenario's run directory is printed into the
# log before it goes. The installed packages stay.
# `make e2e-grid WSM_GRID_SOAK_KILLS=200` digs deeper.
E2E += e2e-grid

.PHONY: e2e-grid
e2e-grid: build
	./e2e/observability/install.sh prometheus-alertmanager
	./e2e/grid/sge-cell.sh suite $(GO) test -tags e2e -count=1 -timeout 20m -v ./e2e/grid/...
