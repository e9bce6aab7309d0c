// Package grid holds the real-grid end-to-end scenarios (build tag e2e):
// the real webservicemonitor binary against a single-host Son of Grid Engine
// cell (e2e/grid/sge-cell.sh), a stand-in front proxy (frontproxy) and a
// stand-in webservice command (cmd/webservice), breaking things the way
// production broke them; the scenarios that page do so through a real
// Alertmanager (e2e/internal/rig). Run them with `make e2e-grid` (root, Debian).
//
// It owns only test code; nothing here is part of the supervisor.
package grid
