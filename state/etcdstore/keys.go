// Package etcdstore keeps the supervisor's shared state in etcd when
// several hosts run it (high availability): the key layout under one
// prefix, and the fenced write by which only the current leader's changes
// land. Every write is one etcd transaction (or several, in order, when it
// is over etcd's per-transaction limits) that holds only while the
// writer's election key still has the create revision it won with; a
// deposed leader's write is refused with ErrNotLeader.
package etcdstore

import (
	"fmt"
	"strings"
)

// DefaultPrefix is the key prefix when none is configured: one per platform.
const DefaultPrefix = "/webservicemonitor/"

// Keys is the key layout under one prefix.
type Keys struct{ prefix string }

// NewKeys checks the prefix: absolute and ending in "/", so that one
// platform's keys are never a prefix of another's.
func NewKeys(prefix string) (Keys, error) {
	if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
		return Keys{}, fmt.Errorf("etcd prefix %q must begin and end with /", prefix)
	}
	return Keys{prefix: prefix}, nil
}

// Prefix is the prefix every key begins with.
func (k Keys) Prefix() string { return k.prefix }

// Election is the prefix the candidates' lease-bound keys are created
// under (concurrency.Election adds "/<lease hex>").
func (k Keys) Election() string { return k.prefix + "election" }

// Tools is the prefix of the tools' records.
func (k Keys) Tools() string { return k.prefix + "tools/" }

// Tool is the key of one tool's record.
func (k Keys) Tool(name string) string { return k.Tools() + name }

// Actions is the prefix of the admin actions.
func (k Keys) Actions() string { return k.prefix + "actions/" }

// Action is the key of one admin action: zero-padded, so that the keys'
// order is the IDs' order.
func (k Keys) Action(id uint64) string { return fmt.Sprintf("%s%020d", k.Actions(), id) }

// ActionsSeq holds the last action ID given.
func (k Keys) ActionsSeq() string { return k.prefix + "actions-seq" }

// Alerts is the prefix of the firing alerts' memory.
func (k Keys) Alerts() string { return k.prefix + "alerts/" }

// Alert is the key of one firing alert.
func (k Keys) Alert(identity string) string { return k.Alerts() + identity }

// Meta is the prefix of the history's own keys: schema, last cycle, import.
func (k Keys) Meta() string { return k.prefix + "meta/" }

// Schema holds the layout version.
func (k Keys) Schema() string { return k.Meta() + "schema" }

// LastCycle holds the time of the last committed cycle (RFC 3339).
func (k Keys) LastCycle() string { return k.Meta() + "last_cycle" }

// Import is present only while an import runs.
func (k Keys) Import() string { return k.Meta() + "import" }
