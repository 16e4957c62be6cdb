package diff

import "bytes"

// oldRenderedName names Options.OldRendered in errors.
const oldRenderedName = "old rendered"

// rebuilt is Options.OldRendered with its files grouped by environment.
type rebuilt struct {
	side  Side
	files map[string][]sideFile
}

// tree parses environment env's files of the old configuration rendered
// by this katonic. A file with the same name and bytes as one of the new
// side (to) or the old side (from) shares the objects already parsed for
// it (newParsed, oldParsed: by file name), so it is not parsed again.
func (r *rebuilt) tree(env string, from, to Side, oldParsed, newParsed map[string][]*object) (*tree, error) {
	t := newTree()
	for _, f := range r.files[env] {
		b := r.side.Files[f.name]
		var objs []*object
		if nb, ok := to.Files[f.name]; ok && bytes.Equal(b, nb) {
			objs = newParsed[f.name]
		} else if ob, ok := from.Files[f.name]; ok && bytes.Equal(b, ob) {
			objs = oldParsed[f.name]
		} else {
			var err error
			if objs, err = parseFile(f, b, oldRenderedName); err != nil {
				return nil, err
			}
		}
		for _, o := range objs {
			if err := t.add(o, oldRenderedName); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// origin says why an object changed between old (nil: added) and cur
// (nil: removed), given r, the object as this katonic renders the old
// configuration (nil: not rendered). When r is cur, the configuration did
// not change the object: OriginKatonic. When r is old, this katonic
// renders the old configuration as the old side has it, so the
// configuration made the change: OriginConfiguration. Otherwise both
// differ: OriginBoth. "Is" means what Compare calls unchanged: both
// absent, or the same file and no dyff difference.
func origin(old, cur, r *object) (string, error) {
	same, err := sameObject(r, cur)
	if err != nil || same {
		return OriginKatonic, err
	}
	same, err = sameObject(old, r)
	if err != nil || same {
		return OriginConfiguration, err
	}
	return OriginBoth, nil
}

// sameObject reports whether a and b (either may be nil) are the same
// object as Compare judges a pair: both absent, or in the same file with no
// field change.
func sameObject(a, b *object) (bool, error) {
	if a == nil || b == nil {
		return a == b, nil
	}
	if a == b {
		return true, nil
	}
	if a.file != b.file {
		return false, nil
	}
	changes, err := objectChanges(a, b)
	return len(changes) == 0, err
}
