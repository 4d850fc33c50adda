// Command gatehouse is Caddy with its standard modules, the Gatehouse app and handler,
// and Gatehouse's CLI commands (tenant, user).
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/gatehouse-dev/gatehouse/caddymodule"
)

func main() {
	// Only this binary is branded: a Caddy built with xcaddy --with gatehouse stays Caddy.
	caddymodule.UseGatehouseCLI()
	caddycmd.Main()
}
