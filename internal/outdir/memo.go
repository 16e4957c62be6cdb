package outdir

import (
	"bytes"
	"maps"
	"sync"
)

// parsed remembers the last parse of a file's bytes in this process, so
// that a render reading the same manifest or stat cache twice (Check,
// then the Write of the drifted environments) parses it once. The file is
// always read again, and the parse reused only if the bytes are the same,
// so nothing another process wrote in between is missed; callers get a
// copy of the map, free to change.
type parsed[V any] struct {
	mu      sync.Mutex
	raw     []byte
	entries map[string]V
}

// get returns a copy of the entries remembered for raw, if raw is the
// remembered bytes.
func (m *parsed[V]) get(raw []byte) (map[string]V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil || !bytes.Equal(m.raw, raw) {
		return nil, false
	}
	return maps.Clone(m.entries), true
}

// put remembers entries as the parse of raw (both copied).
func (m *parsed[V]) put(raw []byte, entries map[string]V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.raw = bytes.Clone(raw)
	m.entries = maps.Clone(entries)
}

var (
	manifestParses  parsed[string]
	statCacheParses parsed[statEntry]
)
