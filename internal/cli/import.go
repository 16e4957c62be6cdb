package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/installer"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/render"
)

// maxInstallerFile bounds the installer file import reads: the real ones
// are under 16 KiB.
const maxInstallerFile = 1 << 20

type importOptions struct {
	name, profile, platformVersion, format string
	network                                map[string]string
	force, stdout, strict                  bool
}

func newImportCmd(stdout, stderr io.Writer) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Convert a Katonic installer configuration into environments/<name>.cue",
		Long: `import converts a Katonic installer configuration (Katonic platform v7's
katonic.yml, nested, or its Ansible inventory, flat; told apart by their
keys) into environments/<name>.cue, written with CUE's own printer. Every
field carries a comment naming the installer key and line it came from.

The name is cluster_name (a DNS-1123 label) unless --name is given. Values
that break katonic's hard rules (the pool table of schema/rules.cue and the
profile's rules in profiles/) are clamped to them and reported as adjusted;
pools the profile requires and the file lacks are added at the rule's
figures. With --strict the rules' recommendations are applied as well, so
the result passes 'katonic vet --strict'.

Credentials (passwords, secrets, tokens, access and private keys) are never
copied, not even into a comment or the report: the report names their keys
and lines and the Secret and key each value belongs in, and lists every
Secret the environment needs.

The report (stderr; with -o json, JSON on stdout, schemaVersion 1) lists
what was mapped, adjusted, added and left unmapped, each with
FILE:LINE:COLUMN and the reason. The environment is vetted and rendered in
a scratch copy of the repository before anything is written, and its hosts
are checked against the other environments' (two imports of one inventory
serve one FQDN): one that does not vet is never written.

Exit codes: 2 when FILE is missing, unreadable or not an installer
configuration, or a flag is bad; 4 when environments/<name>.cue exists
(--force overwrites it) or cannot be written; 1 when the converted
environment does not vet: its domain is refused (an IP address, or a host
another environment serves), or else a bug in import. Nothing is written.`,
		Example: `  katonic import installer_katonic.yml
  katonic import inventory.yml --name acme-prod --strict
  katonic import katonic.yml --stdout > /tmp/env.cue
  katonic import katonic.yml --profile azure-private \
      --network vnet=10.20.0.0/16,cluster=10.20.0.0/23,jumphost=10.20.8.0/29`,
		Args: exactArgs(1, "import needs one installer configuration file"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return []string{"yml", "yaml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(stdout, stderr, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "the environment's `name` (default: the installer's cluster_name)")
	f.StringVar(&o.profile, "profile", "", "the `profile` (default: from cloud_provider/deploy_on): cloud, onprem or azure-private")
	f.StringVar(&o.platformVersion, "platform-version", "", "the Katonic platform `version` (default: the installer's when katonic's catalog knows it, else the newest it knows)")
	f.StringToStringVar(&o.network, "network", nil, "the azure-private VNet plan: vnet=CIDR,cluster=CIDR,jumphost=CIDR")
	f.BoolVar(&o.force, "force", false, "overwrite an existing environments/<name>.cue")
	f.BoolVar(&o.stdout, "stdout", false, "print the CUE on stdout instead of writing environments/<name>.cue")
	f.BoolVar(&o.strict, "strict", false, "apply the rules' recommendations too (and add recommended pools), so the result passes vet --strict")
	f.StringVarP(&o.format, "output", "o", "text", "report `format`: text (stderr) or json (stdout)")
	_ = cmd.RegisterFlagCompletionFunc("output", completeWords("text", "json"))
	_ = cmd.RegisterFlagCompletionFunc("profile", completeWords(string(config.ProfileCloud), string(config.ProfileOnPrem), string(config.ProfileAzurePrivate)))
	_ = cmd.RegisterFlagCompletionFunc("platform-version", completeWords(catalog.Versions()...))
	cmd.Annotations = map[string]string{pathFlag: "FILE"}
	return cmd
}

func runImport(stdout, stderr io.Writer, o importOptions, file string) error {
	switch o.format {
	case "text", "json":
	default:
		return exitf(ExitUsage, "-o %s: want text or json", o.format)
	}
	if o.stdout && o.format == "json" {
		return exitf(ExitUsage, "--stdout and -o json both write stdout: choose one")
	}
	network, err := parseNetwork(o.network)
	if err != nil {
		return err
	}
	cwd, _ := os.Getwd()
	abs, err := filepath.Abs(file)
	if err != nil {
		return exitf(ExitUsage, "import: %v", err)
	}
	display := diag.Rel(cwd, abs)
	src, err := readInstallerFile(abs, display)
	if err != nil {
		return err
	}

	opts, diags, err := installer.LoadOptions(".")
	if err != nil {
		return exitf(ExitUsage, "%v", err)
	}
	if diags.Errors() > 0 {
		diags.Print(stderr, cwd)
		return exitf(ExitInvalid, "schema/ or profiles/ has errors: %s", countList(diags))
	}
	opts.File = display
	opts.Name = o.name
	opts.Profile = config.Profile(o.profile)
	opts.PlatformVersion = o.platformVersion
	opts.Network = network
	opts.Strict = o.strict
	res, err := installer.Convert(src, opts)
	if err != nil {
		return exitf(ExitUsage, "import: %v", err)
	}

	target := filepath.Join(load.EnvironmentsDir, res.Name+".cue")
	if !o.stdout && !o.force {
		if _, err := os.Lstat(target); err == nil {
			return exitf(ExitOutput, "import: %s exists: --force overwrites it, --stdout prints the environment instead", filepath.ToSlash(target))
		}
	}

	// Vet and render in a scratch copy of the repository, so that an
	// environment that does not vet is never written (and other
	// environments' errors do not get in the way).
	vetted, err := vetScratch(stderr, cwd, res)
	if err != nil {
		return err
	}
	rep := res.Report
	rep.Environment = res.Name
	for _, d := range vetted.Diags {
		rep.Warnings = append(rep.Warnings, d.Format(""))
	}
	rep.SetSecrets(vetted.Secrets)

	if o.stdout {
		if _, err := stdout.Write(res.Source); err != nil {
			return exitf(ExitOutput, "%v", err)
		}
	} else {
		if err := writeEnvironment(target, res.Source); err != nil {
			return exitf(ExitOutput, "import: %v", err)
		}
		rep.Output = filepath.ToSlash(target)
	}
	if o.format == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stderr)
	}
	if err != nil {
		return exitf(ExitOutput, "%v", err)
	}
	return nil
}

// parseNetwork reads --network vnet=CIDR,cluster=CIDR,jumphost=CIDR.
func parseNetwork(m map[string]string) (*installer.Network, error) {
	if len(m) == 0 {
		return nil, nil
	}
	want := []string{"cluster", "jumphost", "vnet"}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		return nil, exitf(ExitUsage, "--network %s: want exactly vnet=CIDR,cluster=CIDR,jumphost=CIDR", strings.Join(keys, ","))
	}
	return &installer.Network{VNetCIDR: m["vnet"], ClusterSubnetCIDR: m["cluster"], JumphostSubnetCIDR: m["jumphost"]}, nil
}

func readInstallerFile(abs, display string) ([]byte, error) {
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, exitf(ExitUsage, "import: %s: no such file", display)
	case err != nil:
		return nil, exitf(ExitUsage, "import: %v", err)
	case !fi.Mode().IsRegular():
		return nil, exitf(ExitUsage, "import: %s is not a regular file", display)
	case fi.Size() > maxInstallerFile:
		return nil, exitf(ExitUsage, "import: %s is %d bytes: an installer configuration is under %d", display, fi.Size(), maxInstallerFile)
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, exitf(ExitUsage, "import: %v", err)
	}
	return src, nil
}

// vetted is what the scratch vet of an imported environment found.
type vetted struct {
	Diags   diag.List
	Secrets []render.SecretRef
}

// vetScratch copies cue.mod/, schema/ and profiles/ of the working
// directory into a temporary directory, adds the imported environment
// alone, and compiles it with rendering; then its hosts are checked against
// the other environments' (compile.Candidate). It returns its warnings and the
// Secrets its render references; on errors it prints the diagnostics and
// returns ExitInvalid.
func vetScratch(stderr io.Writer, cwd string, res *installer.Result) (*vetted, error) {
	cres, err := compile.Candidate(cwd, res.Name, res.Source, compile.Options{Render: true, Cache: renderCache(false)})
	if err != nil {
		if cres != nil {
			cres.Diags.Print(stderr, cwd)
			// The domain is the installation's own: the DNS rules may
			// refuse it (an IP address; a host another environment
			// serves) without katonic import being wrong.
			if n := domainErrors(cres.Diags); n > 0 && n == cres.Diags.Errors() {
				return nil, exitf(ExitInvalid, "import: the domain of %s is refused (%d %s above); nothing written", res.Report.File, n, plural(n, "error"))
			}
		}
		return nil, exitf(ExitInvalid, "import: the environment converted from %s does not vet (a bug in katonic import; please report it): nothing written: %v", res.Report.File, err)
	}
	v := &vetted{}
	for _, e := range cres.Envs {
		for _, d := range e.Diags {
			d.Pos.Filename = diag.Rel(cwd, d.Pos.Filename)
			v.Diags = append(v.Diags, d)
		}
		v.Secrets = append(v.Secrets, e.Secrets...)
	}
	return v, nil
}

// writeEnvironment writes src to target atomically (renameio: a
// temporary file in the same directory, renamed over it), so a reader
// never sees half a file. The temporary file's name starts with a dot,
// which CUE's loader ignores.
func writeEnvironment(target string, src []byte) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	return renameio.WriteFile(target, src, 0o644)
}

func countList(l diag.List) string {
	e, w := l.Errors(), l.Warnings()
	return fmt.Sprintf("%d %s, %d %s", e, plural(e, "error"), w, plural(w, "warning"))
}
