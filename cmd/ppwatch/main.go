// Command ppwatch watches Postfix, Exim and PowerMTA logs for Proofpoint
// blocks and deferrals.
package main

import (
	"os"
	_ "time/tzdata" // timezone names in the config work on hosts without tzdata

	"github.com/ppwatch/ppwatch/pkg/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}
