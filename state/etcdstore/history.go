package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"webservicemonitor/state"
)

// Snapshot is the history as one read at one etcd revision saw it.
type Snapshot struct {
	Records   state.Records  // sorted by tool
	LastCycle time.Time      // zero before the first cycle
	Actions   []state.Action // by ID
	Rev       int64          // the revision every page was read at
	// Schema is the layout of the history under the prefix; 0: no history
	// was ever written there, or it was lost (its key gone).
	Schema int
}

// Schema is this release's layout of the history in etcd, written with
// every cycle's bookkeeping and every import: its key missing is a
// history that was never written, or was lost.
const Schema = 1

// pageSize is how many keys one range request returns: a 100,000-tool
// platform is read in 20 requests, each well under etcd's reply limit.
const pageSize = 5000

// Commit writes a cycle's changes fenced on f, in an order that makes a
// part of them landing harmless (a leader that dies between chunks): tool
// records, then forgotten tools, then the admin actions replaced and
// pruned (after the records a forget changed: re-forgiving is harmless,
// losing a forget is not), and the cycle's time last. A replaced action
// that is not stored fails with state.ErrUnknownAction.
func (s *Store) Commit(ctx context.Context, f Fence, ch state.Changes) (err error) {
	defer s.observe(ctx, OpCommit, time.Now(), &err)
	writes, err := s.changeWrites(ch)
	if err != nil {
		return fmt.Errorf("committing to etcd at %s: %w", s.keys.Prefix(), err)
	}
	err = s.Write(ctx, f, writes)
	if errors.Is(err, ErrMissingKey) {
		return fmt.Errorf("committing to etcd at %s: %w: %w", s.keys.Prefix(), state.ErrUnknownAction, err)
	}
	if err != nil {
		return fmt.Errorf("committing to etcd at %s: %w", s.keys.Prefix(), err)
	}
	return nil
}

// changeWrites is ch as writes, in Commit's order.
func (s *Store) changeWrites(ch state.Changes) ([]Write, error) {
	tools, records, err := state.EncodeRecords(ch.Put)
	if err != nil {
		return nil, err
	}
	actions, err := state.EncodeActions(ch.Actions)
	if err != nil {
		return nil, err
	}
	var ws []Write
	for i, tool := range tools {
		ws = append(ws, Write{Key: s.keys.Tool(tool), Value: records[i]})
	}
	for _, tool := range ch.Delete {
		ws = append(ws, Write{Key: s.keys.Tool(tool), Delete: true})
	}
	for i, a := range ch.Actions {
		ws = append(ws, Write{Key: s.keys.Action(a.ID), Value: actions[i], MustExist: true})
	}
	for _, id := range ch.DeleteActions {
		ws = append(ws, Write{Key: s.keys.Action(id), Delete: true})
	}
	if !ch.At.IsZero() {
		ws = append(ws, s.schemaWrite(),
			Write{Key: s.keys.LastCycle(), Value: []byte(ch.At.UTC().Format(time.RFC3339Nano))})
	}
	return ws, nil
}

// Read reads the whole history at one revision: the records page by page,
// then the admin actions and the last cycle's time. Actions that do not
// decode come back as the state file's *state.UnreadableActionsError, with
// the others, the records and the time.
func (s *Store) Read(ctx context.Context) (snap Snapshot, err error) {
	defer s.observe(ctx, OpRead, time.Now(), &err)
	return s.read(ctx)
}

func (s *Store) read(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	kvs, rev, err := s.rangeAll(ctx, s.keys.Tools(), 0)
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading the tools' records from etcd at %s: %w", s.keys.Prefix(), err)
	}
	snap.Rev = rev
	if err := s.meta(ctx, rev, &snap); err != nil {
		return Snapshot{}, err
	}
	for _, kv := range kvs {
		tool := strings.TrimPrefix(string(kv.Key), s.keys.Tools())
		var r state.ToolRecord
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return Snapshot{}, fmt.Errorf("reading etcd at %s: decoding record of tool %q: %w", s.keys.Prefix(), tool, err)
		}
		snap.Records = append(snap.Records, state.ToolHistory{Tool: tool, Record: r})
	}
	snap.Actions, err = s.actions(ctx, rev)
	return snap, err
}

// rangeAll reads every key under prefix at rev (0: now), pageSize keys a
// request, every page at the first one's revision; it returns that
// revision.
func (s *Store) rangeAll(ctx context.Context, prefix string, rev int64) ([]*kv, int64, error) {
	var out []*kv
	from, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize), clientv3.WithRev(rev)}
		resp, err := s.get(ctx, from, opts...)
		if err != nil {
			return nil, 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, k := range resp.Kvs {
			out = append(out, &kv{Key: k.Key, Value: k.Value})
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, rev, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

type kv struct{ Key, Value []byte }

func (s *Store) get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	rctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	defer cancel()
	resp, err := s.cli.Get(rctx, key, opts...)
	err = requestTimedOut(rctx, err)
	if err != nil && (ctx.Err() != nil || retryable(err)) {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return resp, err
}

// errImportRunning is why the store cannot be read: an import began and
// has not finished (or died), so the history is part old, part new.
var errImportRunning = errors.New("an import into etcd did not finish: run state import again with replace")

func (s *Store) schemaWrite() Write {
	return Write{Key: s.keys.Schema(), Value: []byte(strconv.Itoa(Schema))}
}

// meta reads the history's meta keys at rev in one request: it refuses a
// history an import is writing (or left half written) and a layout newer
// than this release's, as a newer state file is; it sets the snapshot's
// last cycle and schema (zero when their keys are missing).
func (s *Store) meta(ctx context.Context, rev int64, snap *Snapshot) error {
	resp, err := s.get(ctx, s.keys.Meta(), clientv3.WithPrefix(), clientv3.WithRev(rev))
	if err != nil {
		return fmt.Errorf("reading the history's meta keys from etcd at %s: %w", s.keys.Prefix(), err)
	}
	for _, k := range resp.Kvs {
		switch key, v := string(k.Key), string(k.Value); key {
		case s.keys.Import():
			return fmt.Errorf("reading etcd at %s: %w", s.keys.Prefix(), errImportRunning)
		case s.keys.LastCycle():
			if snap.LastCycle, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return fmt.Errorf("reading etcd key %s: %w", key, err)
			}
		case s.keys.Schema():
			if snap.Schema, err = strconv.Atoi(v); err != nil || snap.Schema < 1 {
				return fmt.Errorf("etcd key %s holds %q, not a schema number", key, v)
			}
		}
	}
	if snap.Schema > Schema {
		return fmt.Errorf("etcd at %s holds a history of schema %d, newer than this release's %d (run the newer release): %w",
			s.keys.Prefix(), snap.Schema, Schema, state.ErrNewerSchema)
	}
	return nil
}

// actions reads the admin actions at rev, by ID (the keys' order).
func (s *Store) actions(ctx context.Context, rev int64) ([]state.Action, error) {
	kvs, _, err := s.rangeAll(ctx, s.keys.Actions(), rev)
	if err != nil {
		return nil, fmt.Errorf("reading admin actions from etcd at %s: %w", s.keys.Prefix(), err)
	}
	var out []state.Action
	unreadable := &state.UnreadableActionsError{Path: "etcd " + s.keys.Actions()}
	for _, k := range kvs {
		a, id, err := s.decodeAction(k)
		if err != nil {
			if id > 0 {
				unreadable.IDs = append(unreadable.IDs, id)
			}
			unreadable.Problems = append(unreadable.Problems, fmt.Sprintf("key %s: %v", k.Key, err))
			continue
		}
		out = append(out, a)
	}
	if len(unreadable.Problems) > 0 {
		return out, unreadable
	}
	return out, nil
}

// decodeAction decodes one stored action, which must carry the ID its key
// names; id is that ID (0 when the key names none).
func (s *Store) decodeAction(k *kv) (a state.Action, id uint64, err error) {
	id, err = strconv.ParseUint(strings.TrimPrefix(string(k.Key), s.keys.Actions()), 10, 64)
	if err != nil {
		return a, 0, errors.New("key is not an action ID")
	}
	if err := json.Unmarshal(k.Value, &a); err != nil {
		return state.Action{}, id, err
	}
	if a.ID != id {
		return state.Action{}, id, fmt.Errorf("stored as action %d but says it is action %d", id, a.ID)
	}
	return a, id, nil
}

// actionTries bounds RecordAction's attempts when other hosts' actions
// keep taking the next ID first.
const actionTries = 20

// RecordAction stores a as a new action with the next ID (a.ID is
// ignored) and returns it as stored. Admins record actions from any host,
// leader or not, so this write is not fenced on the leadership: the ID
// counter's own mod revision is the compare, and of two hosts numbering at
// once one gets the next ID and the other tries again.
func (s *Store) RecordAction(ctx context.Context, a state.Action) (_ state.Action, err error) {
	defer s.observe(ctx, OpAction, time.Now(), &err)
	fail := func(err error) (state.Action, error) {
		return state.Action{}, fmt.Errorf("recording %s action in etcd at %s: %w", a.Kind, s.keys.Prefix(), err)
	}
	if err := state.CheckAction(a); err != nil {
		return fail(err)
	}
	for range actionTries {
		stored, ok, err := s.tryRecordAction(ctx, a)
		if err != nil {
			return fail(err)
		}
		if ok {
			return stored, nil
		}
	}
	return fail(fmt.Errorf("the next action ID was taken by another host %d times running", actionTries))
}

// tryRecordAction numbers a after the last ID given and stores both, if no
// other action was numbered meanwhile (ok false: try again).
func (s *Store) tryRecordAction(ctx context.Context, a state.Action) (state.Action, bool, error) {
	seqKey := s.keys.ActionsSeq()
	resp, err := s.get(ctx, seqKey)
	if err != nil {
		return state.Action{}, false, fmt.Errorf("reading the last action ID: %w", err)
	}
	var last uint64
	var modRev int64 // 0: no action was ever numbered
	if len(resp.Kvs) == 1 {
		modRev = resp.Kvs[0].ModRevision
		if last, err = strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64); err != nil {
			return state.Action{}, false, fmt.Errorf("etcd key %s holds %q, not an action ID", seqKey, resp.Kvs[0].Value)
		}
	}
	a.ID = last + 1
	v, err := json.Marshal(a)
	if err != nil {
		return state.Action{}, false, fmt.Errorf("encoding action %d: %w", a.ID, err)
	}
	rctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	defer cancel()
	// A txn whose answer was lost is reported, not tried again: it may have
	// landed, and trying again would record the action twice.
	tx, err := s.cli.Txn(rctx).
		If(clientv3.Compare(clientv3.ModRevision(seqKey), "=", modRev)).
		Then(clientv3.OpPut(seqKey, strconv.FormatUint(a.ID, 10)), clientv3.OpPut(s.keys.Action(a.ID), string(v))).
		Commit()
	if err != nil {
		if ctx.Err() != nil || retryable(err) {
			err = fmt.Errorf("%w, %w: %w", ErrUnavailable, ErrAnswerLost, err)
		}
		return state.Action{}, false, fmt.Errorf("storing action %d: %w", a.ID, err)
	}
	return a, tx.Succeeded, nil
}
