// Command katonic compiles Katonic environments (CUE) into a Flux
// repository. See the README for its commands and exit codes.
package main

import (
	"os"

	"github.com/katonic/katonic/internal/cli"
)

func main() {
	os.Exit(cli.Main())
}
