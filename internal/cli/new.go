package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/scaffold"
)

type newOptions struct {
	profile  string
	provider string
	domain   string
	stdout   bool
	force    bool
}

func newNewCmd(stdout, stderr io.Writer) *cobra.Command {
	var o newOptions
	cmd := &cobra.Command{
		Use:   "new ENV --profile PROFILE",
		Short: "Scaffold an environment with its profile's minimums",
		Long: `new writes environments/ENV.cue: an environment of the given profile with
every node pool the profile requires or recommends, at the least the rules of
profiles/ and schema/rules.cue accept without a warning. Each field is
commented with what it is, its unit (nodes, vCPU, GiB), its bounds and their
source; the optional pools, the services and identity are shown as
commented-out lines with their defaults. platformVersion is the newest
release katonic knows, kubernetesVersion the profile's minimum, domain
--domain or a placeholder to change (ENV.example.com); azure-private gets a
sample network plan that meets the subnet rules.

The scaffold is vetted (as 'katonic vet ENV --strict') before it is written,
and its hosts are checked against the other environments' (one host, one
installation); it is never written if it does not vet. An existing file is
not overwritten without --force (exit 4); --stdout prints the scaffold
instead of writing it.`,
		Example: `  katonic new acme-prod --profile azure-private --domain katonic.acme.com
  katonic new globex-dev --profile cloud --provider aws
  katonic new tesla-lab --profile onprem --stdout`,
		Args:              exactArgs(1, "new needs the name of the environment to create"),
		ValidArgsFunction: cobra.NoFileCompletions, // ENV is new: nothing to complete
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNew(stdout, stderr, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.profile, "profile", "", "the environment's `profile`: cloud, onprem or azure-private (required)")
	f.StringVar(&o.provider, "provider", "", "the cloud `provider` (aws, gcp or azure); cloud profile only")
	f.StringVar(&o.domain, "domain", "", "the platform `FQDN` (default ENV.example.com, a placeholder)")
	f.BoolVar(&o.stdout, "stdout", false, "print the scaffold on stdout instead of writing environments/ENV.cue")
	f.BoolVar(&o.force, "force", false, "overwrite an existing environments/ENV.cue")
	_ = cmd.MarkFlagRequired("profile")
	_ = cmd.RegisterFlagCompletionFunc("profile", completeWords("cloud", "onprem", "azure-private"))
	_ = cmd.RegisterFlagCompletionFunc("provider", completeWords(scaffold.Providers...))
	return cmd
}

func runNew(stdout, stderr io.Writer, o newOptions, name string) error {
	cwd, _ := os.Getwd()
	if err := scaffold.CheckName(name); err != nil {
		return exitf(ExitUsage, "%v", err)
	}
	repo, diags, err := load.Load(".")
	if err != nil {
		return exitf(ExitUsage, "%v", err)
	}
	if repo == nil {
		// schema/ or profiles/ do not load: nothing to scaffold from.
		diags.Print(stderr, cwd)
		return exitf(ExitInvalid, "schema/ or profiles/ has errors: cannot scaffold")
	}
	rel := filepath.Join(load.EnvironmentsDir, name+".cue")
	path := filepath.Join(repo.Dir, rel)
	for _, e := range repo.Envs {
		if e.Name == name && e.File != path {
			return exitf(ExitUsage, "environment %s is already declared in %s (one file per installation, named after it)",
				name, diag.Rel(cwd, e.File))
		}
	}
	if !o.stdout && !o.force {
		if _, err := os.Lstat(path); err == nil {
			return exitf(ExitOutput, "%s exists: use --force to overwrite it, or --stdout to print the scaffold", diag.Rel(cwd, path))
		}
	}
	src, err := scaffold.Environment(repo, scaffold.Options{
		Name: name, Profile: config.Profile(o.profile), Provider: o.provider, Domain: o.domain,
	})
	var oe *scaffold.OptionError
	switch {
	case errors.As(err, &oe):
		return exitf(ExitUsage, "%v", err)
	case err != nil:
		return exitf(ExitInvalid, "%v", err)
	}
	vd, err := scaffold.Check(repo.Dir, name, src, renderCache(false))
	if err != nil {
		vd.Print(stderr, cwd)
		if !errors.Is(err, compile.ErrInvalid) {
			return exitf(ExitInvalid, "vetting the scaffold: %v", err)
		}
		// The domain is the one value the scaffold takes as given: the
		// rules of the DNS (dns.name, dns.unique) judge it, not the
		// profiles.
		if n := domainErrors(vd); n > 0 && n == vd.Errors() {
			return exitf(ExitInvalid, "--domain %s is refused (%d %s above); nothing written", o.domain, n, plural(n, "error"))
		}
		return exitf(ExitInvalid, "the scaffold of profile %s does not vet (%d %s): the rules of profiles/ and schema/rules.cue contradict each other; nothing written",
			o.profile, vd.Errors(), plural(vd.Errors(), "error"))
	}
	if o.stdout {
		if _, err := stdout.Write(src); err != nil {
			return exitf(ExitOutput, "%v", err)
		}
		return nil
	}
	if err := writeEnvironment(path, src); err != nil {
		return exitf(ExitOutput, "%v", err)
	}
	fmt.Fprintf(stderr, "wrote %s (profile %s); check it with: katonic vet %s --strict\n", diag.Rel(cwd, path), o.profile, name)
	return nil
}

// domainErrors counts the errors of ds that the DNS rules (dns.name,
// dns.unique) give: about the domain new was given.
func domainErrors(ds diag.List) int {
	n := 0
	for _, d := range ds {
		if d.Severity == diag.Error && strings.HasPrefix(d.Rule, "dns.") {
			n++
		}
	}
	return n
}
