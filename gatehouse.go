// Package gatehouse registers the Gatehouse Caddy modules, so that
// `xcaddy build --with github.com/gatehouse-dev/gatehouse` works; the code lives in
// caddymodule/ (Caddy adapter) and internal/ (the domain).
package gatehouse

import _ "github.com/gatehouse-dev/gatehouse/caddymodule"
