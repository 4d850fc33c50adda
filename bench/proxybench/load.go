package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	weakrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// browserHeaders are what a browser adds to a page load besides Host,
// User-Agent, Accept and cookies: requests the size a gateway meets.
var browserHeaders = []string{
	"Accept-Language: en-GB,en;q=0.9", "Accept-Encoding: gzip, deflate, br, zstd",
	`Sec-Ch-Ua: "Chromium";v="156", "Not.A/Brand";v="99"`, "Sec-Ch-Ua-Mobile: ?0", `Sec-Ch-Ua-Platform: "Linux"`,
	"Upgrade-Insecure-Requests: 1", "Sec-Fetch-Site: same-origin", "Sec-Fetch-Mode: navigate",
	"Sec-Fetch-User: ?1", "Sec-Fetch-Dest: document", "Referer: http://127.0.0.1/app/",
}

func buildRequest(host, path string, headers []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: proxybench\r\nAccept: */*\r\n", path, host)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// floodRequests returns a generator of failing password sign-ins: a random
// unknown address, each from the next X-Forwarded-For address in 10.0.0.0/8.
func floodRequests(host string) func() []byte {
	var n atomic.Uint32
	return func() []byte {
		i := n.Add(1)
		body := fmt.Sprintf(`{"email":"nobody-%016x@example.net","password":"wrong password guess"}`, weakrand.Uint64())
		return fmt.Appendf(nil, "POST /auth/api/v1/login HTTP/1.1\r\nHost: %s\r\nUser-Agent: proxybench-flood\r\n"+
			"Accept: application/json\r\nContent-Type: application/json\r\nX-Forwarded-For: 10.%d.%d.%d\r\n"+
			"Content-Length: %d\r\n\r\n%s", host, i>>16&255, i>>8&255, i&255, len(body), body)
	}
}

// counts are the outcomes of a load, safe for concurrent use.
type counts struct {
	mu       sync.Mutex
	status   map[int]int64 // answers by HTTP status; 0 = transport error
	measured int64         // 200s completed inside the measured window
	sample   string        // the first failure, for the log
}

func (c *counts) add(status int, measured bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == nil {
		c.status = map[int]int64{}
	}
	c.status[status]++
	if measured {
		c.measured++
	}
	if c.sample == "" && err != nil {
		c.sample = err.Error()
	} else if c.sample == "" && status != 200 {
		c.sample = fmt.Sprintf("HTTP %d", status)
	}
}

func (c *counts) total() (n int64) {
	for _, v := range c.status {
		n += v
	}
	return n
}

// outcomes renders the status counts, e.g. "401 20, 503 4" (0: transport errors).
func (c *counts) outcomes() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c.status)) {
		parts = append(parts, fmt.Sprintf("%d %d", k, c.status[k]))
	}
	return strings.Join(parts, ", ")
}

// freshPool hands out prepared requests, each once: M's, every one with its
// own never-seen token.
type freshPool struct {
	reqs [][]byte
	next atomic.Int64
}

// newFreshPool prepares one request per token for path.
func newFreshPool(host, path string, headers, tokens []string) *freshPool {
	p := &freshPool{reqs: make([][]byte, len(tokens))}
	for i, t := range tokens {
		p.reqs[i] = buildRequest(host, path, append(slices.Clip(headers), "Authorization: Bearer "+t))
	}
	return p
}

// take returns the next request, nil once all are taken.
func (p *freshPool) take() []byte {
	if i := p.next.Add(1) - 1; i < int64(len(p.reqs)) {
		return p.reqs[i]
	}
	return nil
}

// dry tells whether a request was asked for after the last was taken.
func (p *freshPool) dry() bool { return p.next.Load() > int64(len(p.reqs)) }

// drive runs conns closed-loop keep-alive connections to addr, each writing
// next() and reading the answer back to back, until stop is set, (unless
// zero) until passes, or next returns nil. 200s completed in [from, until)
// count as measured. Writing prepared bytes keeps the client's cost per
// request small.
func drive(addr string, conns int, next func() []byte, stop *atomic.Bool, from, until time.Time, into *counts) {
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			var c net.Conn
			var br *bufio.Reader
			for !stop.Load() && (until.IsZero() || time.Now().Before(until)) {
				if c == nil {
					var err error
					if c, err = net.DialTimeout("tcp", addr, 5*time.Second); err != nil {
						into.add(0, false, err)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					br = bufio.NewReaderSize(c, 16<<10)
				}
				req := next()
				if req == nil {
					break
				}
				status, keep, err := exchange(c, br, req)
				now := time.Now()
				into.add(status, status == 200 && !now.Before(from) && (until.IsZero() || now.Before(until)), err)
				if !keep {
					c.Close()
					c = nil
				}
			}
			if c != nil {
				c.Close()
			}
		})
	}
	wg.Wait()
}

// exchange writes one request and reads its response, discarding the body.
func exchange(c net.Conn, br *bufio.Reader, req []byte) (status int, keep bool, err error) {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err = c.Write(req); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, false, err
	}
	return resp.StatusCode, !resp.Close, nil
}
