package web

import (
	"strings"

	"go.uber.org/zap"
)

func zapErr(err error) zap.Field { return zap.Error(err) }

func joinMethods(m []string) string { return strings.Join(m, ",") }

// truncate cuts client-supplied text to n bytes (valid UTF-8) before it is stored.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
