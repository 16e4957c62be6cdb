package fit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Image is a container image reference as the image rules read it.
type Image struct {
	// Repository is the full repository name, registry first, with Docker
	// Hub as docker.io and its official images under library/
	// ("docker.io/library/busybox", "quay.io/minio/minio").
	Repository string
	// Tag is the explicit tag ("" when none); Digest the explicit digest.
	Tag, Digest string
}

// ParseImage parses a container image reference the way a container
// runtime does (go-containerregistry's name package): a bare name is on
// Docker Hub (docker.io/library/x), index.docker.io is written docker.io.
// It returns an error for a reference that is not valid.
func ParseImage(s string) (Image, error) {
	var im Image
	base := s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		base, im.Digest = s[:i], s[i+1:]
		if _, err := name.NewDigest(s); err != nil {
			return im, err
		}
	}
	if i := strings.LastIndexByte(base, ':'); i > strings.LastIndexByte(base, '/') {
		im.Tag = base[i+1:]
	}
	ref, err := name.ParseReference(base)
	if err != nil {
		return im, err
	}
	repo := ref.Context().Name()
	if r, ok := strings.CutPrefix(repo, name.DefaultRegistry+"/"); ok {
		repo = "docker.io/" + r
	}
	im.Repository = repo
	return im, nil
}

// under reports whether repository repo is prefix or below it.
func under(repo, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return repo == prefix || strings.HasPrefix(repo, prefix+"/")
}

// normPrefix writes a registry prefix the way ParseImage writes
// repositories (index.docker.io as docker.io).
func normPrefix(p string) string {
	p = strings.TrimSuffix(p, "/")
	if r, ok := strings.CutPrefix(p, name.DefaultRegistry+"/"); ok {
		return "docker.io/" + r
	}
	if p == name.DefaultRegistry {
		return "docker.io"
	}
	return p
}

// images checks fit.image-tag and fit.image-registry or fit.image-mirror
// for every container of a pod.
func (c *checker) images(i int, w Workload, p Pod) {
	mirror := normPrefix(c.in.Env.Images.Mirror)
	for _, ct := range p.Containers {
		if ct.OperatorImage {
			continue
		}
		what := fmt.Sprintf("%s: container %s", p.What, ct.Name)
		if ct.Init {
			what = fmt.Sprintf("%s: init container %s", p.What, ct.Name)
		}
		if ct.Image == "" {
			c.add(i, p.Field, RuleImageTag, SrcImageTag, "%s has no image", what)
			continue
		}
		im, err := ParseImage(ct.Image)
		if err != nil {
			c.add(i, p.Field, RuleImageTag, SrcImageTag, "%s: image %q is not a valid image reference: %v", what, ct.Image, err)
			continue
		}
		switch {
		case im.Digest != "":
		case im.Tag == "":
			c.add(i, p.Field, RuleImageTag, SrcImageTag, "%s: image %q has no tag, so it is pulled as latest; pin a tag or digest", what, ct.Image)
		case im.Tag == "latest":
			c.add(i, p.Field, RuleImageTag, SrcImageTag, "%s: image %q is tagged latest; pin a version tag or digest", what, ct.Image)
		}
		switch {
		case mirror != "":
			if !under(im.Repository, mirror) {
				c.add(i, p.Field, RuleImageMirror, SrcImageMirror,
					"%s: image %q (%s) is not pulled from the image mirror %s, so an air-gapped installation cannot pull it",
					what, ct.Image, im.Repository, mirror)
			}
		case len(w.Registries) > 0:
			if !slices.ContainsFunc(w.Registries, func(r string) bool { return under(im.Repository, normPrefix(r)) }) {
				c.add(i, p.Field, RuleImageRegistry, SrcImageRegistry,
					"%s: image %q (%s) is not from the chart's registries (%s)", what, ct.Image, im.Repository, strings.Join(w.Registries, ", "))
			}
		}
	}
}

// routes checks fit.ingress-path for the Ingress paths and VirtualService
// uri matches of a workload that serve one of the environment's hosts.
func (c *checker) routes(i int, w Workload) {
	hosts := c.in.Env.Hosts()
	for _, r := range w.Routes {
		if r.Host != "" && r.Host != "*" && !slices.Contains(hosts, r.Host) {
			continue
		}
		host := r.Host
		if host == "" || host == "*" {
			host = "every host"
		}
		switch {
		case r.Istio && r.Match == "exact":
			c.add(i, "spec.http", RuleIngressPath, SrcIngressPath,
				"%s: the route for %s matches uri exact %q, so nothing below it is served; use prefix or regex", r.What, host, r.Path)
		case !r.Istio && r.Match != "Prefix":
			c.add(i, "spec.rules", RuleIngressPath, SrcIngressPath,
				"%s: path %q for %s has pathType %s, which Istio matches exactly, so nothing below it is served; use pathType Prefix",
				r.What, r.Path, host, r.Match)
		}
	}
}
