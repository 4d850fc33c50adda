package web

import (
	"io"
	"net/http"
	"strings"
)

func io_Copy(b *strings.Builder, resp *http.Response) (int64, error) { return io.Copy(b, resp.Body) }
