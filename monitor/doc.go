// Package monitor joins the three sources into one decision per tool, applies
// the restart policy and the safety valve, and runs the restarts the plan asks
// for.
//
// The planner (MakePlan) is a pure function of its inputs: no I/O, no clock
// reads, no randomness, so every decision is reproducible in a table test.
// The I/O lives at the edges: Cycle collects the sources and records the
// outcome, Restarter runs commands. Level-triggered: every cycle recomputes
// desired versus observed from scratch; the only memory carried across cycles
// is the restart history in the state store.
package monitor
