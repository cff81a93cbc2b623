// Command porthole-relay runs a Porthole relay and manages its agent
// accounts. See docs/relay.md.
package main

import (
	"os"

	"github.com/porthole-dev/porthole/shared/relay/relaycmd"
)

func main() { os.Exit(relaycmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
