package etcdstore

import (
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// An etcd 3.4 server refuses a transaction with more than 128 operations in
// a list (--max-txn-ops) or a request over 1.5 MiB (--max-request-bytes).
// The chunks stay well under both, leaving room for the compares and the
// gRPC framing.
const (
	maxChunkOps   = 100
	maxChunkBytes = 1 << 20
)

// Write is one put (Value set) or delete (Delete) of a key.
type Write struct {
	Key    string
	Value  []byte
	Delete bool
	// MustExist makes the write's chunk hold only if the key is stored
	// already: a cycle replaces the admin actions it read, never invents one.
	MustExist bool
}

func (w Write) size() int { return len(w.Key) + len(w.Value) }

func (w Write) op() clientv3.Op {
	if w.Delete {
		return clientv3.OpDelete(w.Key)
	}
	return clientv3.OpPut(w.Key, string(w.Value))
}

// planChunks splits writes, in their order, into runs of at most maxOps
// writes and maxBytes of keys and values. A single write over maxBytes is
// refused, naming its key: it could never land, and cutting it would store
// a record nobody can read.
func planChunks(writes []Write, maxOps, maxBytes int) ([][]Write, error) {
	var chunks [][]Write
	var cur []Write
	curBytes := 0
	for _, w := range writes {
		n := w.size()
		if n > maxBytes {
			return nil, fmt.Errorf("value of %s is %d bytes, over the %d bytes one etcd transaction may carry", w.Key, n, maxBytes)
		}
		if len(cur) == maxOps || curBytes+n > maxBytes {
			chunks = append(chunks, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, w)
		curBytes += n
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks, nil
}
