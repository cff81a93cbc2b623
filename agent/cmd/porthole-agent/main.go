// Command porthole-agent is the Porthole agent console.
package main

import (
	"os"

	"github.com/porthole-dev/porthole/agent/internal/app"
)

func main() { os.Exit(app.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
