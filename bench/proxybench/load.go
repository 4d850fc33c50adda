package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The load generator speaks HTTP/1.1 directly over keep-alive TCP connections:
// one goroutine per connection, one request in flight per connection, a
// pre-built request and a minimal response parser. That keeps the client's
// CPU cost per request a few microseconds, so the client core (shared with
// the upstream) is never the bottleneck and both variants see identical
// request bytes apart from the Host port.

// loadSpec describes one round of load against one server.
type loadSpec struct {
	addr     string   // host:port to dial
	path     string   // request path, e.g. /r/A01
	headers  []string // extra header lines without CRLF, e.g. "Cookie: gatehouse=..."
	conns    int
	warmup   time.Duration
	duration time.Duration
	timeout  time.Duration // per-request I/O timeout
	// Called (from the coordinating goroutine) when the measurement window
	// opens and closes; used to sample server CPU time.
	onWindowStart, onWindowEnd func()
}

// loadResult is the outcome of one round.
type loadResult struct {
	OK        int64         // all 200 responses of the round (warm-up, window and tail)
	Measured  int64         // 200 responses completed inside the window
	Errors    int64         // non-200 responses + transport errors
	Statuses  map[int]int64 // non-200 status counts
	NetErrors int64
	Samples   []string // a few error descriptions
	Window    time.Duration
}

// buildRequest returns the raw bytes of the GET request sent on every iteration.
// browserHeaders are what a current browser adds to a page load (besides Host,
// User-Agent, Accept and cookies): sent to both variants so that each request is the
// size the gateway meets in practice.
var browserHeaders = []string{
	"Accept-Language: en-GB,en;q=0.9",
	"Accept-Encoding: gzip, deflate, br, zstd",
	"Sec-Ch-Ua: \"Chromium\";v=\"156\", \"Not.A/Brand\";v=\"99\"",
	"Sec-Ch-Ua-Mobile: ?0",
	"Sec-Ch-Ua-Platform: \"Linux\"",
	"Upgrade-Insecure-Requests: 1",
	"Sec-Fetch-Site: same-origin",
	"Sec-Fetch-Mode: navigate",
	"Sec-Fetch-User: ?1",
	"Sec-Fetch-Dest: document",
	"Referer: http://127.0.0.1/app/",
}

func buildRequest(host, path string, headers []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: proxybench\r\nAccept: */*\r\n", path, host)
	for _, h := range headers {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

type workerStats struct {
	ok, measured, errs, netErrs int64
	statuses                    map[int]int64
	samples                     []string
}

func (w *workerStats) fail(sample string) {
	w.errs++
	if len(w.samples) < 3 && !slices.Contains(w.samples, sample) {
		w.samples = append(w.samples, sample)
	}
}

// runLoad drives spec.conns connections for warm-up + duration and counts
// responses. Connections are dialled before the clock starts.
func runLoad(ctx context.Context, spec loadSpec) (loadResult, error) {
	req := buildRequest(spec.addr, spec.path, spec.headers)
	conns := make([]net.Conn, 0, spec.conns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	d := net.Dialer{Timeout: 5 * time.Second}
	for range spec.conns {
		c, err := d.DialContext(ctx, "tcp", spec.addr)
		if err != nil {
			return loadResult{}, fmt.Errorf("dial %s: %w", spec.addr, err)
		}
		conns = append(conns, c)
	}

	start := time.Now()
	wStart := start.Add(spec.warmup)
	wEnd := wStart.Add(spec.duration)
	var stop atomic.Bool
	stats := make([]workerStats, spec.conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st := &stats[i]
			st.statuses = map[int]int64{}
			c := conns[i]
			br := bufio.NewReaderSize(c, 16<<10)
			for !stop.Load() && time.Now().Before(wEnd) {
				if c == nil {
					nc, err := d.DialContext(ctx, "tcp", spec.addr)
					if err != nil {
						st.netErrs++
						st.fail("redial: " + err.Error())
						time.Sleep(10 * time.Millisecond)
						continue
					}
					c = nc
					conns[i] = nc // closed by the deferred loop
					br.Reset(c)
				}
				c.SetDeadline(time.Now().Add(spec.timeout))
				status, closeConn, err := doRequest(c, br, req)
				now := time.Now()
				if err != nil {
					st.netErrs++
					st.fail(err.Error())
					c.Close()
					c = nil
					continue
				}
				if status == 200 {
					st.ok++
					if !now.Before(wStart) && now.Before(wEnd) {
						st.measured++
					}
				} else {
					st.statuses[status]++
					st.fail("HTTP status " + strconv.Itoa(status))
				}
				if closeConn {
					c.Close()
					c = nil
				}
			}
		}(i)
	}

	// Coordinator: mark the window edges, stop early on cancellation.
	timer := time.NewTimer(time.Until(wStart))
	select {
	case <-timer.C:
		if spec.onWindowStart != nil {
			spec.onWindowStart()
		}
	case <-ctx.Done():
		stop.Store(true)
	}
	if !stop.Load() {
		timer.Reset(time.Until(wEnd))
		select {
		case <-timer.C:
			if spec.onWindowEnd != nil {
				spec.onWindowEnd()
			}
		case <-ctx.Done():
			stop.Store(true)
		}
	}
	wg.Wait()

	res := loadResult{Statuses: map[int]int64{}, Window: spec.duration}
	for _, st := range stats {
		res.OK += st.ok
		res.Measured += st.measured
		res.Errors += st.errs
		res.NetErrors += st.netErrs
		for k, v := range st.statuses {
			res.Statuses[k] += v
		}
		for _, s := range st.samples {
			if len(res.Samples) < 5 && !slices.Contains(res.Samples, s) {
				res.Samples = append(res.Samples, s)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

// doRequest writes one request and reads one response, discarding the body.
func doRequest(c net.Conn, br *bufio.Reader, req []byte) (status int, closeConn bool, err error) {
	if _, err := c.Write(req); err != nil {
		return 0, false, err
	}
	return readResponse(br)
}

var errMalformed = errors.New("malformed HTTP response")

// readResponse parses one HTTP/1.1 response from br (status line, headers,
// body framed by Content-Length, chunked encoding or connection close) and
// discards the body. 1xx interim responses are skipped.
func readResponse(br *bufio.Reader) (status int, closeConn bool, err error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
			return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
		}
		status, err = strconv.Atoi(string(line[9:12]))
		if err != nil {
			return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
		}
		closeConn = line[7] == '0' // HTTP/1.0 defaults to close
		contentLength := int64(-1)
		chunked := false
		for {
			line, err = br.ReadSlice('\n')
			if err != nil {
				return 0, false, err
			}
			if len(line) <= 2 {
				break
			}
			colon := bytes.IndexByte(line, ':')
			if colon < 0 {
				return 0, false, fmt.Errorf("%w: header %q", errMalformed, line)
			}
			name := line[:colon]
			value := bytes.TrimSpace(line[colon+1:])
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				contentLength, err = strconv.ParseInt(string(value), 10, 64)
				if err != nil || contentLength < 0 {
					return 0, false, fmt.Errorf("%w: content-length %q", errMalformed, value)
				}
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
			case bytes.EqualFold(name, []byte("Connection")):
				v := bytes.ToLower(value)
				if bytes.Contains(v, []byte("close")) {
					closeConn = true
				} else if bytes.Contains(v, []byte("keep-alive")) {
					closeConn = false
				}
			}
		}
		if status >= 100 && status < 200 && status != 101 {
			continue // interim response; the real one follows
		}
		switch {
		case status == 204 || status == 304:
		case chunked:
			if err := discardChunked(br); err != nil {
				return 0, false, err
			}
		case contentLength >= 0:
			if _, err := br.Discard(int(contentLength)); err != nil {
				return 0, false, err
			}
		default:
			if _, err := io.Copy(io.Discard, br); err != nil {
				return 0, false, err
			}
			closeConn = true
		}
		return status, closeConn, nil
	}
}

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		sz := bytes.TrimSpace(line)
		if i := bytes.IndexByte(sz, ';'); i >= 0 {
			sz = sz[:i]
		}
		n, err := strconv.ParseInt(string(sz), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if n == 0 {
			for { // trailers up to the empty line
				line, err = br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(line) <= 2 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}
