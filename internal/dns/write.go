package dns

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes r as two tables, records then certificates, after a
// line that names the load balancer.
func WriteText(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	lb := r.LoadBalancer
	switch {
	case lb == nil:
		fmt.Fprintf(ew, "%s: no Istio ingress gateway rendered (services.istio is off)\n", r.Environment)
	case lb.Type == "LoadBalancer":
		how := "no internal-load-balancer annotation"
		if lb.Annotation != "" {
			how = lb.Annotation
		}
		fmt.Fprintf(ew, "%s: %s load balancer: Service %s/%s (type LoadBalancer, %s), from %s (%s)\n",
			r.Environment, lb.Exposure, lb.Namespace, lb.Name, how, lb.Release, lb.File)
	default:
		fmt.Fprintf(ew, "%s: %s load balancer of your own (the environment's loadBalancer) in front of Service %s/%s (%s), from %s (%s)\n",
			r.Environment, lb.Exposure, lb.Namespace, lb.Name, nodePorts(lb), lb.Release, lb.File)
	}
	fmt.Fprintln(ew)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORD\tTYPE\tZONE\tPOINTS AT")
	for _, rec := range r.Records {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", rec.Name, rec.Type, rec.Zone, rec.Target)
	}
	tw.Flush()
	fmt.Fprintln(ew)
	tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CERTIFICATE SANS\tTLS SECRET\tREFERENCED BY")
	for _, c := range r.Certificates {
		secret := c.Secret
		if secret == "" {
			secret = "(none named in out/)"
		}
		var refs []string
		for _, ref := range c.ReferencedBy {
			refs = append(refs, ref.Object+" "+ref.Field)
		}
		by := strings.Join(refs, ", ")
		if by == "" {
			by = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.Join(c.SANs, ","), secret, by)
	}
	tw.Flush()
	return ew.err
}

// WriteJSON writes r as one JSON document with "schemaVersion": 1 first.
func WriteJSON(w io.Writer, r *Report) error {
	doc := struct {
		SchemaVersion int `json:"schemaVersion"`
		*Report
	}{SchemaVersion, r}
	if doc.Records == nil {
		doc.Records = []Record{}
	}
	if doc.Certificates == nil {
		doc.Certificates = []Certificate{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// errWriter keeps the first write error, so the table code stays flat.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	_, e.err = e.w.Write(p)
	return len(p), nil
}
