package cli

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// completeEnvs completes ENV arguments with the environment names of
// environments/ in the working directory. An environment file is named
// after the environment it declares (internal/load enforces it), so the
// names come from file names and completion never evaluates CUE. Names
// already on the command line are left out.
func completeEnvs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return envNames(args, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeOneEnv is completeEnvs for commands that take exactly one ENV.
func completeOneEnv(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return completeEnvs(cmd, args, toComplete)
}

// envNames lists the environments/*.cue base names that start with prefix
// and are not in skip, sorted.
func envNames(skip []string, prefix string) []string {
	matches, _ := filepath.Glob(filepath.Join("environments", "*.cue"))
	used := map[string]bool{}
	for _, s := range skip {
		used[s] = true
	}
	var names []string
	for _, m := range matches {
		n := strings.TrimSuffix(filepath.Base(m), ".cue")
		if strings.HasPrefix(n, prefix) && !used[n] {
			if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

// completeWords returns a completion function offering fixed words, for
// flags such as --output and --profile.
func completeWords(words ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, w := range words {
			if strings.HasPrefix(w, toComplete) {
				out = append(out, w)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
