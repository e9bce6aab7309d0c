# End-to-end suite of high availability: the leader election and fenced
# writes against a real three-member etcd cluster, and built daemons as
# hosts on it (failover after SIGKILL and SIGSTOP, members stopped, admin
# commands from a standby, a soak of WSM_HA_SOAK_KILLS kills, default 30).
# Debian's etcd-server and prometheus-alertmanager are installed by the
# script if missing, with no service started; members are started by the
# tests on free 127.0.0.1 ports with temp data dirs, stopped by PID at
# their end. About 6 minutes on 2 cores; the timeout leaves room for a
# loaded machine.
E2E += e2e-ha

.PHONY: e2e-ha
e2e-ha: build
	./e2e/observability/install.sh etcd-server prometheus-alertmanager
	$(GO) test -tags e2e -count=1 -timeout 20m -v ./e2e/ha/
