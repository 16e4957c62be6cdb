package charts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/opencontainers/go-digest"
	"go.yaml.in/yaml/v3"

	"github.com/katonic/katonic/internal/filestat"
)

// LockFile is the name of the lock file, kept at the repository root.
const LockFile = "charts.lock"

// lockHeader starts every lock file that Write produces.
const lockHeader = "# Written by katonic charts pull. DO NOT EDIT.\n"

// Lock is the lock file: every chart the rendered output uses, with its
// digest. The zero value is an empty lock. A Lock is not safe for concurrent
// use.
type Lock struct {
	Charts []Entry `json:"charts" yaml:"charts"`
}

// ReadLock reads the lock file at path.
//
// A missing file is an empty lock and a nil error (a repository that has
// never pulled a chart has no lock file). A file that is not valid YAML, has
// unknown fields, or has an entry with an empty field, a digest that is not
// "sha256:<64 hex digits>", or a ref that appears twice is an error naming
// the file, and so is a path that is not a regular file (a named pipe
// would block the read for ever). Any other read error is returned wrapped
// with the path.
func ReadLock(path string) (*Lock, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Lock{}, nil
	}
	if err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("chart lock file %s is %s, not a regular file", path, filestat.Kind(fi.Mode()))
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Lock{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read chart lock file: %w", err)
	}
	var l Lock
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("chart lock file %s is malformed: %w", path, err)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("chart lock file %s is malformed: %w", path, err)
	}
	return &l, nil
}

// validate checks every entry: all fields set, a sha256 digest in canonical
// form, no ref locked twice.
func (l *Lock) validate() error {
	seen := make(map[Ref]int, len(l.Charts))
	for i, e := range l.Charts {
		n := i + 1
		switch {
		case e.Repository == "":
			return fmt.Errorf("entry %d: repository is empty", n)
		case e.Chart == "":
			return fmt.Errorf("entry %d (%s): chart is empty", n, e.Repository)
		case e.Version == "":
			return fmt.Errorf("entry %d (%s %s): version is empty", n, e.Repository, e.Chart)
		}
		if err := checkDigest(e.Digest); err != nil {
			return fmt.Errorf("entry %d (%s): %w", n, e.Ref, err)
		}
		if prev, dup := seen[e.Ref]; dup {
			return fmt.Errorf("entry %d (%s) repeats entry %d", n, e.Ref, prev)
		}
		seen[e.Ref] = n
	}
	return nil
}

// checkDigest accepts exactly "sha256:<64 lowercase hex digits>", the form
// Cache.Put returns (the canonical OCI digest, validated by go-digest).
func checkDigest(d string) error {
	parsed, err := digest.Parse(d)
	if err != nil {
		return fmt.Errorf("digest %q: %w", d, err)
	}
	if parsed.Algorithm() != digest.SHA256 {
		return fmt.Errorf("digest %q: algorithm %s is not sha256", d, parsed.Algorithm())
	}
	return nil
}

// Write writes l to path as YAML: a "# Written by katonic charts pull. DO
// NOT EDIT." header, then the entries sorted by Repository, Chart and
// Version with the fields repository, chart, version and digest in that
// order. The output depends only on the set of entries, so writing a lock
// read by ReadLock reproduces the file byte for byte. The file is written
// atomically (a temporary file in the same directory, then a rename), so a
// reader never sees half a file. l itself is not reordered.
func (l *Lock) Write(path string) error {
	sorted := Lock{Charts: slices.Clone(l.Charts)}
	if sorted.Charts == nil {
		sorted.Charts = []Entry{}
	}
	slices.SortStableFunc(sorted.Charts, func(a, b Entry) int { return compareRefs(a.Ref, b.Ref) })

	var buf bytes.Buffer
	buf.WriteString(lockHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(sorted); err != nil {
		return fmt.Errorf("encode chart lock file %s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode chart lock file %s: %w", path, err)
	}
	if err := writeFileAtomic(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write chart lock file: %w", err)
	}
	return nil
}

// Lookup returns the entry locked for r and true, or the zero Entry and
// false if r is not locked. Refs match only if all fields are equal.
func (l *Lock) Lookup(r Ref) (Entry, bool) {
	for _, e := range l.Charts {
		if e.Ref == r {
			return e, true
		}
	}
	return Entry{}, false
}

// Set adds e to the lock, replacing the entry with the same Ref if there is
// one.
func (l *Lock) Set(e Entry) {
	for i := range l.Charts {
		if l.Charts[i].Ref == e.Ref {
			l.Charts[i] = e
			return
		}
	}
	l.Charts = append(l.Charts, e)
}

// Retain drops every entry whose Ref is not in refs (charts the rendered
// output no longer uses) and returns the dropped entries sorted by
// Repository, Chart and Version; nil if none was dropped.
func (l *Lock) Retain(refs []Ref) (removed []Entry) {
	keep := make(map[Ref]bool, len(refs))
	for _, r := range refs {
		keep[r] = true
	}
	kept := l.Charts[:0:0]
	for _, e := range l.Charts {
		if keep[e.Ref] {
			kept = append(kept, e)
		} else {
			removed = append(removed, e)
		}
	}
	l.Charts = kept
	slices.SortStableFunc(removed, func(a, b Entry) int { return compareRefs(a.Ref, b.Ref) })
	return removed
}

// writeFileAtomic writes data to a temporary file in path's directory and
// renames it over path, so that path holds either the old or the new
// content, never a mix.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
