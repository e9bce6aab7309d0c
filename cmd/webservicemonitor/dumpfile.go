package main

// The file of state export and state import: one JSON document around
// state.Dump, versioned, so that a history moves between the state file
// and etcd (and between releases) without either store's bytes.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"webservicemonitor/internal/toolname"
	"webservicemonitor/state"
)

// dumpFormat is the layout of the file. A release reads its own format
// and refuses a newer one (its fields would be dropped unseen).
const dumpFormat = 1

// dumpFile is the document. Every field is always written (empty lists and
// maps included), so that two exports of one history are the same bytes.
type dumpFile struct {
	Format int `json:"format"`
	// Schema is the records' schema (state.SchemaVersion of the release
	// that wrote them).
	Schema    int                          `json:"schema"`
	LastCycle time.Time                    `json:"last_cycle,omitzero"`
	Tools     map[string]state.ToolRecord  `json:"tools"`
	Actions   []state.Action               `json:"actions"`
	ActionSeq uint64                       `json:"action_seq"`
	Alerts    map[string]state.AlertRecord `json:"alerts"`
}

// encodeDump is d as the file holds it, indented for an admin's eyes.
func encodeDump(d state.Dump) ([]byte, error) {
	f := dumpFile{
		Format: dumpFormat, Schema: state.SchemaVersion, LastCycle: d.LastCycle.UTC(),
		Tools: make(map[string]state.ToolRecord, len(d.Records)), Actions: d.Actions,
		ActionSeq: d.ActionsSeq, Alerts: d.Alerts,
	}
	for _, h := range d.Records {
		f.Tools[h.Tool] = h.Record
	}
	if f.Actions == nil {
		f.Actions = []state.Action{}
	}
	if f.Alerts == nil {
		f.Alerts = map[string]state.AlertRecord{}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the history: %w", err)
	}
	return append(b, '\n'), nil
}

// decodeDump reads the file named name, refusing with the file and the
// field named what no store should take: another format or schema, a
// field this release does not know, a tool name that is not one, actions
// out of their numbering.
func decodeDump(name string, data []byte) (state.Dump, error) {
	fail := func(format string, args ...any) (state.Dump, error) {
		return state.Dump{}, fmt.Errorf("%s: "+format, append([]any{name}, args...)...)
	}
	var head struct {
		Format *int `json:"format"`
		Schema *int `json:"schema"`
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fail("empty")
	}
	// Unmarshal checks the whole document's syntax, trailing data included.
	if err := json.Unmarshal(data, &head); err != nil {
		return fail("%s", describeJSONError(err))
	}
	switch {
	case head.Format == nil:
		return fail("field format missing: not a file of webservicemonitor state export")
	case *head.Format > dumpFormat:
		return state.Dump{}, fmt.Errorf("%s: field format is %d: %w (this release reads format %d)", name, *head.Format, errNewerDump, dumpFormat)
	case *head.Format < 1:
		return fail("field format is %d: not a format of webservicemonitor state export", *head.Format)
	case head.Schema == nil:
		return fail("field schema missing")
	case *head.Schema > state.SchemaVersion:
		return state.Dump{}, fmt.Errorf("%s: field schema is %d: %w (this release stores schema %d)", name, *head.Schema, errNewerDump, state.SchemaVersion)
	case *head.Schema != state.SchemaVersion:
		return fail("field schema is %d: this release stores only schema %d", *head.Schema, state.SchemaVersion)
	}
	var f dumpFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fail("%s", describeJSONError(err))
	}
	return f.dump(name)
}

// errNewerDump is why a file from a newer release is refused.
var errNewerDump = errors.New("written by a newer release")

// dump is the file's history, checked.
func (f dumpFile) dump(name string) (state.Dump, error) {
	d := state.Dump{LastCycle: f.LastCycle, Actions: f.Actions, ActionsSeq: f.ActionSeq, Alerts: f.Alerts}
	for tool, rec := range f.Tools {
		if !toolname.Safe(tool) {
			return state.Dump{}, fmt.Errorf("%s: field tools: %q is not a tool name", name, tool)
		}
		d.Records = append(d.Records, state.ToolHistory{Tool: tool, Record: rec})
	}
	slices.SortFunc(d.Records, func(a, b state.ToolHistory) int { return strings.Compare(a.Tool, b.Tool) })
	for id := range f.Alerts {
		if id == "" {
			return state.Dump{}, fmt.Errorf("%s: field alerts: an alert with an empty identity", name)
		}
	}
	for _, a := range f.Actions {
		if err := state.CheckAction(a); err != nil {
			return state.Dump{}, fmt.Errorf("%s: field actions: action %d: %w", name, a.ID, err)
		}
	}
	if err := d.Check(); err != nil {
		return state.Dump{}, fmt.Errorf("%s: field actions (and action_seq): %w", name, err)
	}
	// As the stores read them back: none rather than empty.
	if len(d.Actions) == 0 {
		d.Actions = nil
	}
	if len(d.Alerts) == 0 {
		d.Alerts = nil
	}
	return d, nil
}

// describeJSONError says where a file is not what it should be: the
// field of a value of the wrong type, the byte of a syntax error.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %s: a JSON %s where %s is wanted", typeErr.Field, typeErr.Value, typeErr.Type)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("not JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	}
	// json: unknown field "x", a time that does not parse...
	return strings.TrimPrefix(err.Error(), "json: ")
}
