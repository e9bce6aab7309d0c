// Package ha holds the end-to-end tests of high availability
// (`make e2e-ha`, build tag e2e), against a real three-member cluster of
// Debian's etcd (etcd-server 3.4, installed by
// e2e/observability/install.sh if missing), started by the tests on
// 127.0.0.1 ports with temp data dirs and stopped by PID at their end:
// first the leader election and the fenced writes of packages ha and
// state/etcdstore, then built daemons as two or three hosts on the demo
// platform (fleet_test.go) — a leader killed or frozen, etcd members
// stopped, admin commands from a standby, TLS, and a soak of 30 kills —
// counted from a recorder log every host's restart command appends to.
package ha
