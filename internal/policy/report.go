package policy

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/katonic/katonic/internal/diag"
)

// JSONSchemaVersion is the schemaVersion of WriteJSON's document. It
// changes only when a field is removed or changes meaning.
const JSONSchemaVersion = 1

// WriteText writes rs for people: each environment's Errors (as
// diag.Diagnostic.Format, relative to the working directory), then one
// line per violation,
//
//	file:line: error: [policy-id] Object: message: detail [source]
//
// with "warning" for warning policies and "waived (reason)" in place of
// the severity for waived violations; ":line" is left out when unknown.
// It returns the first write error.
func WriteText(w io.Writer, rs []*EnvResult) error {
	cwd, _ := os.Getwd()
	var b strings.Builder
	for _, r := range rs {
		if r == nil {
			continue
		}
		for _, d := range r.Errors {
			b.WriteString(d.Format(cwd))
			b.WriteByte('\n')
		}
		for _, v := range r.Violations {
			b.WriteString(v.File)
			if v.Line > 0 {
				fmt.Fprintf(&b, ":%d", v.Line)
			}
			b.WriteString(": ")
			if v.Waived {
				fmt.Fprintf(&b, "waived (%s)", v.Reason)
			} else {
				b.WriteString(v.Severity)
			}
			fmt.Fprintf(&b, ": [%s] %s: %s", v.Policy, v.Object, v.Message)
			if v.Detail != "" {
				b.WriteString(": " + v.Detail)
			}
			fmt.Fprintf(&b, " [%s]\n", v.Source)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonDoc is WriteJSON's document.
type jsonDoc struct {
	SchemaVersion int       `json:"schemaVersion"`
	Environments  []jsonEnv `json:"environments"`
}

type jsonEnv struct {
	Name       string          `json:"name"`
	Violations []jsonViolation `json:"violations"`
	Errors     []diag.Record   `json:"errors"`
}

type jsonViolation struct {
	Policy   string `json:"policy"`
	Severity string `json:"severity"`
	Object   string `json:"object"`
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Path     string `json:"path,omitempty"`
	Message  string `json:"message"`
	Detail   string `json:"detail,omitempty"`
	Source   string `json:"source"`
	Waived   bool   `json:"waived"`
	Reason   string `json:"reason,omitempty"`
}

// WriteJSON writes rs as one indented JSON document:
//
//	{"schemaVersion": 1, "environments": [{"name", "violations": [{"policy",
//	"severity", "object", "file", "line", "path", "message", "detail",
//	"source", "waived", "reason"}], "errors": [{"severity", "file", "line",
//	"column", "path", "message", "rule", "source"}]}]}
//
// Lists are never null; error files are relative to the working
// directory. It returns the first write error.
func WriteJSON(w io.Writer, rs []*EnvResult) error {
	cwd, _ := os.Getwd()
	doc := jsonDoc{SchemaVersion: JSONSchemaVersion, Environments: []jsonEnv{}}
	for _, r := range rs {
		if r == nil {
			continue
		}
		e := jsonEnv{Name: r.Env, Violations: []jsonViolation{}, Errors: r.Errors.Records(cwd)}
		for _, v := range r.Violations {
			e.Violations = append(e.Violations, jsonViolation{
				Policy: v.Policy, Severity: v.Severity, Object: v.Object, File: v.File, Line: v.Line,
				Path: v.Path, Message: v.Message, Detail: v.Detail, Source: v.Source, Waived: v.Waived, Reason: v.Reason,
			})
		}
		doc.Environments = append(doc.Environments, e)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteSARIF writes rs as a SARIF 2.1.0 log (OASIS SARIF v2.1.0, built with
// github.com/owenrumney/go-sarif) for code-scanning tools: one run whose
// tool.driver is "katonic" at toolVersion, with one rule per policy of s
// (id; shortDescription the message; fullDescription and help the source;
// defaultConfiguration.level the severity), and one result per violation:
// ruleId, ruleIndex, level ("error" or "warning"), message "Object:
// message: detail", a location (artifactLocation.uri the file,
// region.startLine when known) with the object as logical location, and
// properties environment and object. Waived violations carry a
// suppression {kind: "external", status: "accepted", justification: the
// reason}. Each environment's Errors become toolExecutionNotifications of
// the run's invocation, whose executionSuccessful is false when there is
// any. It returns the first write error.
func WriteSARIF(w io.Writer, s *Set, rs []*EnvResult, toolVersion string) error {
	cwd, _ := os.Getwd()
	run := sarif.NewRun()
	driver := sarif.NewToolComponent().WithName("katonic").WithInformationURI("https://github.com/katonic/katonic")
	if toolVersion != "" {
		driver.WithVersion(toolVersion)
	}
	run.WithTool(sarif.NewTool().WithDriver(driver))
	index := map[string]int{}
	if s != nil {
		for i, p := range s.Policies() {
			index[p.ID] = i
			run.AddRule(p.ID).
				WithName(p.ID).
				WithDescription(p.Message).
				WithFullDescription(sarif.NewMultiformatMessageString().WithText(p.Source)).
				WithHelp(sarif.NewMultiformatMessageString().WithText(p.Message + ". Source: " + p.Source)).
				WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(level(p.Severity)))
		}
	}
	inv := sarif.NewInvocation().WithExecutionSuccessful(true)
	for _, r := range rs {
		if r == nil {
			continue
		}
		for _, v := range r.Violations {
			text := v.Object + ": " + v.Message
			if v.Detail != "" {
				text += ": " + v.Detail
			}
			res := sarif.NewRuleResult(v.Policy).
				WithLevel(level(v.Severity)).
				WithMessage(sarif.NewTextMessage(text)).
				WithProperties(sarif.NewPropertyBag().Add("environment", r.Env).Add("object", v.Object))
			if i, ok := index[v.Policy]; ok {
				res.WithRuleIndex(i)
			}
			phys := sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewSimpleArtifactLocation(v.File))
			if v.Line > 0 {
				phys.WithRegion(sarif.NewRegion().WithStartLine(v.Line))
			}
			loc := sarif.NewLocationWithPhysicalLocation(phys).
				AddLogicalLocation(sarif.NewLogicalLocation().WithFullyQualifiedName(v.Object).WithKind("object"))
			res.AddLocation(loc)
			if v.Waived {
				res.AddSuppression(sarif.NewSuppression().WithKind("external").WithStatus("accepted").WithJustification(v.Reason))
			}
			run.AddResult(res)
		}
		for _, d := range r.Errors {
			n := sarif.NewNotification().WithLevel(level(d.Severity.String())).
				WithMessage(sarif.NewTextMessage(r.Env + ": " + d.Format(cwd)))
			if d.Pos.Filename != "" {
				phys := sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewSimpleArtifactLocation(diag.Rel(cwd, d.Pos.Filename)))
				if d.Pos.Line > 0 {
					reg := sarif.NewRegion().WithStartLine(d.Pos.Line)
					if d.Pos.Column > 0 {
						reg.WithStartColumn(d.Pos.Column)
					}
					phys.WithRegion(reg)
				}
				n.AddLocation(sarif.NewLocationWithPhysicalLocation(phys))
			}
			inv.AddToolExecutionNotification(n)
			if d.Severity == diag.Error {
				inv.WithExecutionSuccessful(false)
			}
		}
	}
	run.AddInvocation(inv)
	rep := sarif.NewReport()
	rep.AddRun(run)
	if err := rep.PrettyWrite(w); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// level maps a policy severity to a SARIF level.
func level(severity string) string {
	if severity == SeverityWarning {
		return sarif.LevelWarning
	}
	return sarif.LevelError
}
