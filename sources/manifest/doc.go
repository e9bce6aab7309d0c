// Package manifest reads the desired state of every tool: the
// service.manifest files that webservice writes into the tools' homes.
//
// It owns finding, opening, checking and parsing those files, and reports
// each one as either a checked Manifest or a Skipped with a stable reason
// code and a sentence for humans. It never reads through a symlink (a home
// that is one is only looked into for whether it holds a manifest, so that
// it can be reported), never trusts a file its tool does not own, never blocks on a file that is not a regular
// one, and never decides what to do about a tool: that is the planner's job.
// A bad file costs its own tool only; the scan as a whole fails only when
// the homes root cannot be listed.
package manifest
