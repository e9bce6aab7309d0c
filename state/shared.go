package state

// The encodings another store of the same history (etcd, for high
// availability) must share with the state file, so that a record or an
// action is the same bytes wherever it is kept and moves between stores
// unchanged.

// EncodeRecords returns the tools of put, sorted, and each one's record
// encoded as the state file stores it; a record with an empty tool name is
// refused.
func EncodeRecords(put map[string]ToolRecord) (tools []string, encoded [][]byte, err error) {
	return encodePut(put)
}

// EncodeActions encodes actions as the state file stores them, refusing
// one no command means (no kind, or an empty tool name).
func EncodeActions(actions []Action) ([][]byte, error) { return encodeActions(actions) }

// CheckAction refuses an action no command means: without a kind, or
// naming a tool by the empty string.
func CheckAction(a Action) error { return checkAction(a) }
