package diff

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	yaml "go.yaml.in/yaml/v3"

	"github.com/katonic/katonic/internal/catalog"
)

// sourceAPIPrefix is the API group of Flux's source objects.
const sourceAPIPrefix = "source.toolkit.fluxcd.io/"

// helmAPIPrefix is the API group of Flux's HelmRelease.
const helmAPIPrefix = "helm.toolkit.fluxcd.io/"

// version is what a source object or a HelmRelease's chart pins: an exact
// version or a SemVer range, at field.
type version struct {
	field, value string
	isRange      bool
}

// versionOf returns the version o pins: a HelmRelease's
// spec.chart.spec.version (a version or a range, as Flux reads it); a
// GitRepository's or OCIRepository's spec.ref.semver (a range, which takes
// precedence in Flux) or spec.ref.tag. ok is false for other kinds and for
// refs that name no version (branch, commit, digest).
func versionOf(o *object) (v version, ok bool) {
	switch {
	case o.kind == "HelmRelease" && strings.HasPrefix(o.apiVersion, helmAPIPrefix):
		s := scalar(o.root, "spec", "chart", "spec", "version")
		if s == "" {
			return v, false
		}
		_, err := semver.NewVersion(s)
		return version{"spec.chart.spec.version", s, err != nil}, true
	case (o.kind == "GitRepository" || o.kind == "OCIRepository") && strings.HasPrefix(o.apiVersion, sourceAPIPrefix):
		if s := scalar(o.root, "spec", "ref", "semver"); s != "" {
			return version{"spec.ref.semver", s, true}, true
		}
		if s := scalar(o.root, "spec", "ref", "tag"); s != "" {
			return version{"spec.ref.tag", s, false}, true
		}
	}
	return v, false
}

// maxMajorScan is the highest major below which majors tries every major
// of a range; above it, only the majors written in the range and the next.
const maxMajorScan = 1000

// literal matches the version literals of a SemVer constraint.
var literal = regexp.MustCompile(`v?(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?`)

// majors returns the major versions v admits, and false when v does not
// parse: an exact version admits its own; a range (Masterminds/semver
// constraint syntax, which Flux uses) admits major m when it admits one of
// m.0.0, a version written in it, or the next patch of one (the points
// where an interval of versions starts), for m from 0 to one above the
// highest major written in it, so an open range admits the next major
// (above maxMajorScan, for the majors written and the next ones only).
func (v version) majors() (map[uint64]bool, bool) {
	if !v.isRange {
		sv, err := semver.NewVersion(v.value)
		if err != nil {
			return nil, false
		}
		return map[uint64]bool{sv.Major(): true}, true
	}
	c, err := semver.NewConstraint(v.value)
	if err != nil {
		return nil, false
	}
	var cands []*semver.Version
	var top uint64
	for _, m := range literal.FindAllStringSubmatch(v.value, -1) {
		num := func(s string) uint64 {
			n, _ := strconv.ParseUint(s, 10, 64)
			return n
		}
		maj, min, pat := num(m[1]), num(m[2]), num(m[3])
		top = max(top, maj)
		cands = append(cands, semver.New(maj, min, pat, "", ""), semver.New(maj, min, pat+1, "", ""))
	}
	out := map[uint64]bool{}
	if top <= maxMajorScan {
		for m := uint64(0); m <= top+1; m++ {
			cands = append(cands, semver.New(m, 0, 0, "", ""))
		}
	} else {
		// Date-like majors (20240901): the majors written, the next ones
		// and 0, not every number below.
		cands = append(cands, semver.New(0, 0, 0, "", ""))
		for _, m := range literal.FindAllStringSubmatch(v.value, -1) {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			cands = append(cands, semver.New(n, 0, 0, "", ""), semver.New(n+1, 0, 0, "", ""))
		}
	}
	for _, cv := range cands {
		if c.Check(cv) {
			out[cv.Major()] = true
		}
	}
	return out, true
}

// majorChange compares the major versions of a and b. head is
// "spec.ref.tag 1.8.5 → 2.3.0" (naming both fields when they differ);
// extra are the majors b admits that a did not, "" when none or when
// either cannot be judged; exact is true when both are exact versions.
func majorChange(a, b version) (head, extra string, exact bool) {
	if a.value == b.value {
		return "", "", false
	}
	ma, ok := a.majors()
	if !ok {
		return "", "", false
	}
	mb, ok := b.majors()
	if !ok {
		return "", "", false
	}
	var out []string
	for _, m := range sortedMajors(mb) {
		if !ma[m] {
			out = append(out, strconv.FormatUint(m, 10))
		}
	}
	head = a.field + " " + a.value + " → " + b.value
	if a.field != b.field {
		head = a.field + " " + a.value + " → " + b.field + " " + b.value
	}
	return head, strings.Join(out, ", "), !a.isRange && !b.isRange
}

func sortedMajors(m map[uint64]bool) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// versionRisks are the rules on a version change of b: chart-major (a
// HelmRelease's chart, or an OCIRepository that serves a chart),
// source-major (a GitRepository, or an OCIRepository that serves
// manifests), and crds (a chart that ships CRDs).
func versionRisks(rc *riskContext, a, b *object) []Risk {
	va, ok := versionOf(a)
	if !ok {
		return nil
	}
	vb, ok := versionOf(b)
	if !ok || va.value == vb.value {
		return nil
	}
	var rs []Risk
	chart, releases := chartOf(rc, b)
	if head, extra, exact := majorChange(va, vb); extra != "" {
		if chart != "" || b.kind == "HelmRelease" {
			msg := head + " changes the chart's major version"
			if !exact {
				msg = fmt.Sprintf("%s admits chart major version %s, outside %s", head, extra, va.value)
			}
			rs = append(rs, Risk{Class: ClassChartMajor, Level: LevelHigh, Message: msg +
				": read its upgrade notes (breaking values, data migrations)"})
		} else {
			what := "no Flux Kustomization of the environment uses it"
			if users := sourceUsers(rc, b); len(users) > 0 {
				what = "applied by " + strings.Join(users, ", ")
			}
			msg := head + " changes the major version"
			if !exact {
				msg = fmt.Sprintf("%s admits major version %s, outside %s,", head, extra, va.value)
			}
			rs = append(rs, Risk{Class: ClassSourceMajor, Level: LevelHigh, Message: msg +
				" of what Flux applies from this source (" + what + "): read its upgrade notes (breaking changes, CRDs, data migrations)"})
		}
	}
	if chart != "" && !va.isRange && !vb.isRange {
		if r, ok := crdRisk(chart, va.value, vb.value, releases); ok {
			rs = append(rs, r)
		}
	}
	return rs
}

// chartOf returns the chart name b installs and the HelmReleases that
// install it: for a HelmRelease with spec.chart, its spec.chart.spec.chart
// and itself; for an OCIRepository, the last element of its spec.url when
// a HelmRelease of the environment names it in spec.chartRef or its
// layerSelector selects the Helm chart layer, with those HelmReleases.
// chart is "" for anything else.
func chartOf(rc *riskContext, b *object) (chart string, releases []*object) {
	switch {
	case b.kind == "HelmRelease" && strings.HasPrefix(b.apiVersion, helmAPIPrefix):
		return scalar(b.root, "spec", "chart", "spec", "chart"), []*object{b}
	case b.kind == "OCIRepository" && strings.HasPrefix(b.apiVersion, sourceAPIPrefix):
		for _, o := range sortedObjects(rc.cur) {
			if o.kind != "HelmRelease" || !strings.HasPrefix(o.apiVersion, helmAPIPrefix) {
				continue
			}
			if refersTo(o, lookup(o.root, "spec", "chartRef"), b) {
				releases = append(releases, o)
			}
		}
		if len(releases) == 0 && scalar(b.root, "spec", "layerSelector", "mediaType") != catalog.HelmChartLayerMediaType {
			return "", nil
		}
		u := strings.TrimPrefix(scalar(b.root, "spec", "url"), "oci://")
		return path.Base(u), releases
	}
	return "", nil
}

// refersTo reports whether ref (a sourceRef or chartRef of o: kind,
// name, and a namespace that defaults to o's) names source.
func refersTo(o *object, ref *yaml.Node, source *object) bool {
	if ref == nil || scalar(ref, "kind") != source.kind || scalar(ref, "name") != source.name {
		return false
	}
	ns := scalar(ref, "namespace")
	if ns == "" {
		ns = o.namespace
	}
	return ns == source.namespace
}

// sortedObjects returns the objects of t in key order.
func sortedObjects(t *tree) []*object {
	out := make([]*object, 0, len(t.objects))
	for _, o := range t.objects {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].objKey.less(out[j].objKey) })
	return out
}

// sourceUsers returns the Flux Kustomizations of the environment whose
// spec.sourceRef names source, as Kind/namespace/name.
func sourceUsers(rc *riskContext, source *object) []string {
	var out []string
	for _, o := range sortedObjects(rc.cur) {
		if o.kind == "Kustomization" && strings.HasPrefix(o.apiVersion, fluxKustomizationPrefix) &&
			refersTo(o, lookup(o.root, "spec", "sourceRef"), source) {
			out = append(out, o.ref())
		}
	}
	return out
}

// crdRisk is the crds rule on chart's version change from old to cur,
// installed by releases (rules in the package comment): how the chart
// ships its CRDs comes from katonic's catalog (catalog.ChartCRDs), what
// an upgrade does with CRDs of a crds/ directory from each HelmRelease's
// spec.upgrade.crds (Flux: Skip when unset, Create, CreateReplace).
func crdRisk(chart, old, cur string, releases []*object) (Risk, bool) {
	layout, _, pinned := catalog.ChartCRDs(chart, cur)
	oldLayout, _, oldPinned := catalog.ChartCRDs(chart, old)
	if oldPinned != old {
		oldLayout = catalog.CRDsUnknown
	}
	if len(releases) == 0 || (layout != catalog.CRDsDir && layout != catalog.CRDsTemplates) {
		return Risk{}, false
	}
	what := fmt.Sprintf("chart %s %s → %s", chart, old, cur)
	if pinned != cur {
		what += fmt.Sprintf(" (katonic's catalog knows %s %s)", chart, pinned)
	}
	refs := make([]string, len(releases))
	for i, r := range releases {
		refs[i] = r.ref()
	}
	const breaks = "a CRD version the new chart stops serving breaks the objects stored in it: read the chart's upgrade notes"
	switch {
	case oldLayout == catalog.CRDsDir && layout == catalog.CRDsTemplates:
		return Risk{Class: ClassCRDs, Level: LevelHigh, Message: fmt.Sprintf(
			"%s moves its CRDs from crds/ to templates: Helm must now own as release objects the CRDs it created from crds/, which carry no release ownership "+
				"(label app.kubernetes.io/managed-by: Helm, annotations meta.helm.sh/release-name and meta.helm.sh/release-namespace), "+
				"so the upgrade of %s fails until they carry that label and those annotations", what, strings.Join(refs, ", "))}, true
	case layout == catalog.CRDsTemplates:
		return Risk{Class: ClassCRDs, Level: LevelMedium, Message: fmt.Sprintf(
			"%s ships its CRDs as templates: Helm upgrades them with the release, cluster-wide; %s", what, breaks)}, true
	}
	var skip, replace []string
	for _, r := range releases {
		p := scalar(r.root, "spec", "upgrade", "crds")
		switch p {
		case "CreateReplace":
			replace = append(replace, r.ref())
		case "":
			skip = append(skip, r.ref()+" has spec.upgrade.crds unset (Skip)")
		default:
			skip = append(skip, r.ref()+" has spec.upgrade.crds "+p)
		}
	}
	if len(skip) > 0 {
		return Risk{Class: ClassCRDs, Level: LevelHigh, Message: fmt.Sprintf(
			"%s ships its CRDs in crds/, which Helm never upgrades, and %s: the cluster keeps the old CRDs under the new release; "+
				"set spec.upgrade.crds: CreateReplace or apply the new CRDs first", what, strings.Join(skip, ", "))}, true
	}
	return Risk{Class: ClassCRDs, Level: LevelMedium, Message: fmt.Sprintf(
		"%s ships its CRDs in crds/ and %s has spec.upgrade.crds CreateReplace: Flux replaces them cluster-wide before the upgrade; %s",
		what, strings.Join(replace, ", "), breaks)}, true
}
