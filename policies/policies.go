// Package policies holds, embedded in the binary, the built-in roles (roles.yaml)
// and the worked example route policies that the tests load and the demo uses.
package policies

import "embed"

// FS holds every YAML file of this folder.
//
//go:embed *.yaml
var FS embed.FS
