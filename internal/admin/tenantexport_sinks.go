package admin

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/csvsafe"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ExportDocumentFormat is the "format" of the JSON document.
const ExportDocumentFormat = "gatehouse-tenant-export"

// exportSink writes an export in one format as the items come: begin, then for each
// kind open, its items, close; then finish. Nothing is held back but a small buffer.
type exportSink interface {
	begin(at time.Time, ws store.Workspace) error
	open(kind string) error
	item(kind string, v any) error
	close(kind string) error
	finish(counts map[string]int) error
}

// jsonSink writes one JSON document:
//
//	{"format":"gatehouse-tenant-export","version":1,"exported_at":…,"tenant":slug,
//	 "workspace":{…},"settings":{…},"roles":[…],…,"counts":{…}}
//
// Each item is encoded on its own (a json.Encoder per element), so the document is
// never in memory.
type jsonSink struct {
	bw    *bufio.Writer
	enc   *json.Encoder
	first bool // no item written yet in the open list
}

func newJSONSink(w io.Writer) *jsonSink {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &jsonSink{bw: bw, enc: enc}
}

func (j *jsonSink) begin(at time.Time, ws store.Workspace) error {
	fmt.Fprintf(j.bw, `{"format":%q,"version":%d,"exported_at":%q,"tenant":`, ExportDocumentFormat, ExportFormatVersion, timeString(at))
	return j.enc.Encode(ws.Slug)
}

func (j *jsonSink) open(kind string) error {
	if singleKinds[kind] {
		_, err := fmt.Fprintf(j.bw, ",%q:", kind)
		return err
	}
	j.first = true
	_, err := fmt.Fprintf(j.bw, ",%q:[\n", kind)
	return err
}

func (j *jsonSink) item(kind string, v any) error {
	if !singleKinds[kind] && !j.first {
		if err := j.bw.WriteByte(','); err != nil {
			return err
		}
	}
	j.first = false
	return j.enc.Encode(v)
}

func (j *jsonSink) close(kind string) error {
	if singleKinds[kind] {
		return nil
	}
	_, err := j.bw.WriteString("]\n")
	return err
}

func (j *jsonSink) finish(counts map[string]int) error {
	if _, err := j.bw.WriteString(`,"counts":`); err != nil {
		return err
	}
	if err := j.enc.Encode(counts); err != nil {
		return err
	}
	if _, err := j.bw.WriteString("}\n"); err != nil {
		return err
	}
	return j.bw.Flush()
}

// csvSink writes a zip with one CSV file per kind (KIND.csv: RFC 4180, UTF-8, CRLF,
// a header row; cells a spreadsheet could run as a formula defused).
type csvSink struct {
	bw *bufio.Writer
	zw *zip.Writer
	cw *csv.Writer
}

func newCSVSink(w io.Writer) *csvSink {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &csvSink{bw: bw, zw: zip.NewWriter(bw)}
}

func (c *csvSink) begin(time.Time, store.Workspace) error { return nil }

func (c *csvSink) open(kind string) error {
	f, err := c.zw.Create(kind + ".csv")
	if err != nil {
		return err
	}
	c.cw = csv.NewWriter(f)
	c.cw.UseCRLF = true
	return c.cw.Write(csvColumns(reflect.TypeOf(exportItems[kind])))
}

func (c *csvSink) item(_ string, v any) error { return c.cw.Write(csvRowOf(v)) }

func (c *csvSink) close(string) error {
	c.cw.Flush()
	return c.cw.Error()
}

func (c *csvSink) finish(map[string]int) error {
	if err := c.zw.Close(); err != nil {
		return err
	}
	return c.bw.Flush()
}

// csvColumns is the header row of an item type: its JSON keys.
func csvColumns(t reflect.Type) []string {
	cols := make([]string, t.NumField())
	for i := range cols {
		cols[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
	}
	return cols
}

// csvRowOf is an item as a CSV row, in the order of csvColumns: lists joined, maps as
// a JSON object, every cell valid UTF-8 and defused.
func csvRowOf(v any) []string {
	rv := reflect.ValueOf(v)
	row := make([]string, rv.NumField())
	for i := range row {
		f := rv.Field(i)
		switch f.Kind() {
		case reflect.String:
			row[i] = f.String()
		case reflect.Bool:
			row[i] = strconv.FormatBool(f.Bool())
		case reflect.Int, reflect.Int64:
			row[i] = strconv.FormatInt(f.Int(), 10)
		case reflect.Slice:
			row[i] = joinList(f.Interface().([]string))
		case reflect.Map:
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(f.Interface()) // a map of strings always encodes
			row[i] = strings.TrimSuffix(b.String(), "\n")
		default:
			panic(fmt.Sprintf("tenant export: no CSV form for %s", f.Type()))
		}
		row[i] = strings.ToValidUTF8(row[i], "\uFFFD")
	}
	return csvsafe.Row(row)
}
