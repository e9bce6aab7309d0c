// Package ha holds the end-to-end tests of high availability
// (`make e2e-ha`, build tag e2e): the leader election and the fenced
// writes of packages ha and state/etcdstore against a real three-member
// cluster of Debian's etcd (etcd-server 3.4, installed by
// e2e/observability/install.sh if missing), started by the tests on
// 127.0.0.1 ports with temp data dirs and stopped by PID at their end.
package ha
