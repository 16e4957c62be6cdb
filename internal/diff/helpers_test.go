package diff

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
)

// The examples' render, done once: compiling the CUE module takes seconds.
var (
	baseOnce sync.Once
	baseSide Side
	baseErr  error
)

// base returns a fresh deep copy of the examples' rendered tree
// (compile.Compile of the repository, as `katonic render` does).
func base(t *testing.T) Side {
	t.Helper()
	baseOnce.Do(func() {
		res, err := compile.Compile(compile.Options{Dir: "../..", Render: true})
		if err != nil {
			baseErr = err
			return
		}
		baseSide = Side{Files: res.Files, Envs: map[string]*config.Environment{}}
		for _, e := range res.Envs {
			baseSide.Envs[e.Env.Name] = e.Env
		}
	})
	if baseErr != nil {
		t.Fatalf("rendering the examples: %v", baseErr)
	}
	return clone(baseSide)
}

// clone deep-copies a side: files, environments and their node pools.
func clone(s Side) Side {
	c := Side{Files: map[string][]byte{}, Envs: map[string]*config.Environment{}}
	for k, v := range s.Files {
		c.Files[k] = bytes.Clone(v)
	}
	for k, e := range s.Envs {
		cp := *e
		cp.NodePools = map[config.Role]config.NodePool{}
		for r, p := range e.NodePools {
			cp.NodePools[r] = p
		}
		c.Envs[k] = &cp
	}
	return c
}

// replace replaces old by new in file p, n times (n < 0: all), failing the
// test when old does not occur.
func replace(t *testing.T, s Side, p, old, new string, n int) {
	t.Helper()
	b, ok := s.Files[p]
	if !ok {
		t.Fatalf("no file %s", p)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", p, old)
	}
	s.Files[p] = bytes.Replace(b, []byte(old), []byte(new), n)
}

// dropDoc removes from file p the YAML documents for which drop is true.
func dropDoc(t *testing.T, s Side, p string, drop func(doc string) bool) {
	t.Helper()
	docs := strings.Split(string(s.Files[p]), "\n---\n")
	var keep []string
	for _, d := range docs {
		if !drop(d) {
			keep = append(keep, d)
		}
	}
	if len(keep) == len(docs) {
		t.Fatalf("%s: no document dropped", p)
	}
	s.Files[p] = []byte(strings.Join(keep, "\n---\n"))
}

// renameEnv copies environment from's files under the name to (files and
// Envs), as if a second installation had the same configuration.
func renameEnv(s Side, from, to string) {
	for p, b := range s.Files {
		for _, pre := range []string{"clusters/", "environments/"} {
			if strings.HasPrefix(p, pre+from+"/") {
				np := pre + to + "/" + strings.TrimPrefix(p, pre+from+"/")
				s.Files[np] = bytes.ReplaceAll(b, []byte("/"+from+"/"), []byte("/"+to+"/"))
			}
		}
	}
	if e, ok := s.Envs[from]; ok {
		cp := *e
		cp.Name = to
		s.Envs[to] = &cp
	}
}

// removeEnv deletes environment name's files and resolved environment.
func removeEnv(s Side, name string) {
	for p := range s.Files {
		if strings.HasPrefix(p, "clusters/"+name+"/") || strings.HasPrefix(p, "environments/"+name+"/") {
			delete(s.Files, p)
		}
	}
	delete(s.Envs, name)
}

// bumpVersion rewrites the first "key: X.Y.Z" line of the YAML document of
// file p that contains match, to major+1 (minor=false: X+1.0.0) or minor+1
// (X.Y+1.0), and returns the old and new versions. It keeps the tests
// independent of the catalog's pins.
func bumpVersion(t *testing.T, s Side, p, match, key string, minor bool) (old, cur string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^(\s*` + regexp.QuoteMeta(key) + `: )(\d+)\.(\d+)\.(\d+)$`)
	docs := strings.Split(string(s.Files[p]), "\n---\n")
	for i, d := range docs {
		if !strings.Contains(d, match) {
			continue
		}
		m := re.FindStringSubmatchIndex(d)
		if m == nil {
			continue
		}
		major, _ := strconv.Atoi(d[m[4]:m[5]])
		min, _ := strconv.Atoi(d[m[6]:m[7]])
		old = d[m[4]:m[9]]
		if minor {
			cur = fmt.Sprintf("%d.%d.0", major, min+1)
		} else {
			cur = fmt.Sprintf("%d.0.0", major+1)
		}
		docs[i] = d[:m[4]] + cur + d[m[9]:]
		s.Files[p] = []byte(strings.Join(docs, "\n---\n"))
		return old, cur
	}
	t.Fatalf("%s: no document with %q and a %s: X.Y.Z line", p, match, key)
	return "", ""
}
