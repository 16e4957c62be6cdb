package outdir

import (
	"bytes"
	"sync"
)

// parsed remembers the last parse of a file's bytes in this process, so
// that a render reading the same manifest twice (Check, then the Write
// of the drifted environments) parses it once. The file is
// always read again, and the parse reused only if the bytes are the same,
// so nothing another process wrote in between is missed. The maps are
// shared, and read only: the package's own readers never change a parsed
// manifest, and ReadManifest gives its callers a copy.
type parsed[V any] struct {
	mu      sync.Mutex
	raw     []byte
	entries map[string]V
}

// get returns the entries remembered for raw, if raw is the remembered
// bytes.
func (m *parsed[V]) get(raw []byte) (map[string]V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil || !bytes.Equal(m.raw, raw) {
		return nil, false
	}
	return m.entries, true
}

// put remembers entries as the parse of raw. Neither may change
// afterwards: raw is a file's bytes as read or written, entries its parse.
func (m *parsed[V]) put(raw []byte, entries map[string]V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.raw, m.entries = raw, entries
}

var manifestParses parsed[string]
