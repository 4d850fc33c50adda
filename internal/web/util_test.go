package web

import (
	"io"
	"net/http"
	"os"
	"strings"
)

func io_Copy(b *strings.Builder, resp *http.Response) (int64, error) { return io.Copy(b, resp.Body) }

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
