// Package observability holds the end-to-end test of the supervisor's
// metrics and alerts against the real Prometheus and Alertmanager of
// Debian (`make e2e-observability`, build tag e2e). It has no code of its
// own: the test drives the built binary, the demo platform and the two
// servers from the outside.
package observability
