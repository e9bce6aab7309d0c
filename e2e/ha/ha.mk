# End-to-end suite of high availability: the leader election and fenced
# writes against a real three-member etcd cluster (Debian's etcd-server,
# installed by the script if missing with no service started; members
# started by the tests on free 127.0.0.1 ports with temp data dirs, stopped
# by PID at their end).
E2E += e2e-ha

.PHONY: e2e-ha
e2e-ha: build
	./e2e/observability/install.sh etcd-server
	$(GO) test -tags e2e -count=1 -timeout 10m -v ./e2e/ha/
