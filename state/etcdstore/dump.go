package etcdstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"webservicemonitor/state"
)

// Export returns the whole history at one etcd revision, as a state.Dump:
// what `state export` writes into a state file. Unreadable actions, or an
// import that did not finish, fail the export.
func (s *Store) Export(ctx context.Context) (_ state.Dump, err error) {
	defer s.observe(ctx, OpDump, time.Now(), &err)
	fail := func(err error) (state.Dump, error) {
		return state.Dump{}, fmt.Errorf("exporting etcd at %s: %w", s.keys.Prefix(), err)
	}
	snap, err := s.read(ctx)
	if err != nil {
		return fail(err)
	}
	d := state.Dump{Records: snap.Records, LastCycle: snap.LastCycle, Actions: snap.Actions}
	alerts, _, err := s.rangeAll(ctx, s.keys.Alerts(), snap.Rev)
	if err != nil {
		return fail(err)
	}
	if d.Alerts, err = s.decodeAlerts(alerts); err != nil {
		return fail(err)
	}
	if d.ActionsSeq, _, err = s.actionsSeq(ctx, snap.Rev); err != nil {
		return fail(err)
	}
	return d, nil
}

// actionsSeq reads the last action ID given at rev (0: now), and the
// counter's mod revision (0: never numbered).
func (s *Store) actionsSeq(ctx context.Context, rev int64) (uint64, int64, error) {
	seqKey := s.keys.ActionsSeq()
	resp, err := s.get(ctx, seqKey, clientv3.WithRev(rev))
	if err != nil {
		return 0, 0, fmt.Errorf("reading the last action ID: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return 0, 0, nil
	}
	last, err := strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("etcd key %s holds %q, not an action ID", seqKey, resp.Kvs[0].Value)
	}
	return last, resp.Kvs[0].ModRevision, nil
}

// Import writes d under the store's prefix, fenced on f: an import is a
// write of the history like a cycle's, so only the leader makes it (a
// cycle of the leader's could otherwise interleave with it). A prefix that
// holds any history, or an unfinished import, is refused with
// state.ErrNotEmpty unless replace, which deletes it.
//
// Over etcd's transaction size the import is several transactions: the
// first marks the import as running (Read refuses the store meanwhile),
// the last removes the mark, so a history half imported is never acted
// on; running the import again with replace finishes it.
func (s *Store) Import(ctx context.Context, f Fence, d state.Dump, replace bool) (err error) {
	defer s.observe(ctx, OpDump, time.Now(), &err)
	fail := func(err error) error { return fmt.Errorf("importing into etcd at %s: %w", s.keys.Prefix(), err) }
	if err := d.Check(); err != nil {
		return fail(err)
	}
	held, err := s.heldKeys(ctx)
	if err != nil {
		return fail(err)
	}
	if len(held) > 0 && !replace {
		return fail(fmt.Errorf("%w (%d keys, %s first): import with replace to remove it first", state.ErrNotEmpty, len(held), held[0]))
	}
	writes, err := s.importWrites(d, held)
	if err != nil {
		return fail(err)
	}
	// The mark and its removal are transactions of their own: etcd
	// refuses a put and a delete of one key in one transaction, and the
	// mark must land before anything else does.
	mark := Write{Key: s.keys.Import(), Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))}
	for _, ws := range [][]Write{{mark}, writes, {{Key: mark.Key, Delete: true}}} {
		if err := s.Write(ctx, f, ws); err != nil {
			return fail(err)
		}
	}
	return nil
}

// heldKeys lists the history's keys under the prefix: everything but the
// election's.
func (s *Store) heldKeys(ctx context.Context) ([]string, error) {
	var held []string
	for _, prefix := range []string{s.keys.Tools(), s.keys.Actions(), s.keys.Alerts()} {
		kvs, _, err := s.rangeAll(ctx, prefix, 0)
		if err != nil {
			return nil, fmt.Errorf("looking for history under %s: %w", prefix, err)
		}
		for _, k := range kvs {
			held = append(held, string(k.Key))
		}
	}
	for _, key := range []string{s.keys.ActionsSeq(), s.keys.LastCycle(), s.keys.Import()} {
		resp, err := s.get(ctx, key, clientv3.WithCountOnly())
		if err != nil {
			return nil, fmt.Errorf("looking for %s: %w", key, err)
		}
		if resp.Count > 0 {
			held = append(held, key)
		}
	}
	return held, nil
}

// importWrites is the import between its mark and the mark's removal, in
// order: the held keys the dump does not overwrite deleted (etcd refuses a
// put and a delete of one key in one transaction), then the records,
// actions, numbering, alerts and last cycle.
func (s *Store) importWrites(d state.Dump, held []string) ([]Write, error) {
	var writes []Write
	var puts []Write
	put := make(map[string]state.ToolRecord, len(d.Records))
	for _, h := range d.Records {
		put[h.Tool] = h.Record
	}
	tools, records, err := state.EncodeRecords(put)
	if err != nil {
		return nil, err
	}
	for i, tool := range tools {
		puts = append(puts, Write{Key: s.keys.Tool(tool), Value: records[i]})
	}
	actions, err := state.EncodeActions(d.Actions)
	if err != nil {
		return nil, err
	}
	for i, a := range d.Actions {
		puts = append(puts, Write{Key: s.keys.Action(a.ID), Value: actions[i]})
	}
	if d.ActionsSeq > 0 {
		puts = append(puts, Write{Key: s.keys.ActionsSeq(), Value: []byte(strconv.FormatUint(d.ActionsSeq, 10))})
	}
	alerts, err := s.alertWrites(nil, d.Alerts)
	if err != nil {
		return nil, err
	}
	puts = append(puts, alerts...)
	if !d.LastCycle.IsZero() {
		puts = append(puts, Write{Key: s.keys.LastCycle(), Value: []byte(d.LastCycle.UTC().Format(time.RFC3339Nano))})
	}
	puts = append(puts, s.schemaWrite())
	overwritten := make(map[string]bool, len(puts))
	for _, w := range puts {
		overwritten[w.Key] = true
	}
	for _, key := range held {
		if key != s.keys.Import() && !overwritten[key] {
			writes = append(writes, Write{Key: key, Delete: true})
		}
	}
	writes = append(writes, puts...)
	return writes, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
