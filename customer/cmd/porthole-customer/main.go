// Command porthole-customer is the Porthole customer client.
package main

import (
	"os"

	"github.com/porthole-dev/porthole/customer/internal/app"
)

func main() { os.Exit(app.Main(os.Args[0], os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
