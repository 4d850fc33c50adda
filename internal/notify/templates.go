package notify

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
)

// The three files of a kind: <kind>.subject.tmpl and <kind>.text.tmpl are
// text/template, <kind>.html.tmpl is html/template (contextual escaping).
const (
	subjectSuffix = ".subject.tmpl"
	textSuffix    = ".text.tmpl"
	htmlSuffix    = ".html.tmpl"
)

//go:embed templates/*.tmpl
var embedded embed.FS

// Templates renders message kinds. Build one with LoadTemplates, or use
// DefaultTemplates; it is safe for concurrent use.
type Templates struct {
	kinds     map[string]kindTemplates
	overrides []string
}

type kindTemplates struct {
	subject, text *texttemplate.Template
	html          *htmltemplate.Template
}

var defaultTemplates = sync.OnceValue(func() *Templates {
	t, err := loadTemplates(nil)
	if err != nil {
		panic("notify: embedded templates: " + err.Error()) // a build defect; a test guards it
	}
	return t
})

// DefaultTemplates returns the embedded templates.
func DefaultTemplates() *Templates { return defaultTemplates() }

// Render renders kind with the embedded templates; see Templates.Render.
func Render(kind string, data any) (subject, text, html string, err error) {
	return DefaultTemplates().Render(kind, data)
}

// LoadTemplates returns the embedded templates with any of them replaced by the file
// of the same name in dir (account_locked.subject.tmpl, account_locked.text.tmpl,
// account_locked.html.tmpl, …); dir "" means no overrides. Every template is parsed
// and rendered once with sample data, and every problem is reported at once: a
// template that names a field the kind does not have, or a *.tmpl file that matches
// no kind (a misspelt override would otherwise be ignored in silence).
func LoadTemplates(dir string) (*Templates, error) {
	if dir == "" {
		return DefaultTemplates(), nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening mail template directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("mail template directory %s is not a directory", dir)
	}
	t, err := loadTemplates(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("loading mail templates from %s: %w", dir, err)
	}
	return t, nil
}

// Overrides lists the template files taken from the override directory.
func (t *Templates) Overrides() []string { return slices.Clone(t.overrides) }

// loadTemplates parses every kind's templates, preferring override's files.
func loadTemplates(override fs.FS) (*Templates, error) {
	t := &Templates{kinds: make(map[string]kindTemplates, len(kinds))}
	known := map[string]bool{}
	var errs []error
	read := func(name string) string {
		known[name] = true
		if override != nil {
			b, err := fs.ReadFile(override, name)
			if err == nil {
				t.overrides = append(t.overrides, name)
				return string(b)
			}
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("reading %s: %w", name, err))
				return ""
			}
		}
		b, err := embedded.ReadFile(path.Join("templates", name))
		if err != nil {
			errs = append(errs, fmt.Errorf("embedded template %s: %w", name, err))
		}
		return string(b)
	}
	for _, kind := range Kinds() {
		// Each file is parsed and test-rendered on its own, so that every broken
		// file is reported, not only the first of a kind.
		sample := kinds[kind].sample
		var kt kindTemplates
		var err error
		name := kind + subjectSuffix
		if kt.subject, err = newText(name).Parse(read(name)); err == nil {
			_, err = renderSubject(kt.subject, sample)
		}
		errs = appendErr(errs, err)
		name = kind + textSuffix
		if kt.text, err = newText(name).Parse(read(name)); err == nil {
			_, err = render(kt.text, sample)
		}
		errs = appendErr(errs, err)
		name = kind + htmlSuffix
		if kt.html, err = newHTML(name).Parse(read(name)); err == nil {
			_, err = render(kt.html, sample)
		}
		errs = appendErr(errs, err)
		t.kinds[kind] = kt
	}
	if override != nil {
		names, err := fs.Glob(override, "*.tmpl")
		if err != nil {
			errs = append(errs, err)
		}
		for _, n := range names {
			if !known[n] {
				errs = append(errs, fmt.Errorf("%s is not a mail template: want <kind>%s, <kind>%s or <kind>%s with kind one of %s",
					n, subjectSuffix, textSuffix, htmlSuffix, strings.Join(Kinds(), ", ")))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

func newText(name string) *texttemplate.Template {
	return texttemplate.New(name).Option("missingkey=error").Funcs(templateFuncs)
}

func newHTML(name string) *htmltemplate.Template {
	return htmltemplate.New(name).Option("missingkey=error").Funcs(templateFuncs)
}

// Render renders kind with data (AccountLocked for KindAccountLocked, NewSignIn for
// KindNewSignIn). The subject comes back on one line, whatever the template or the
// data hold, so it cannot add a header.
func (t *Templates) Render(kind string, data any) (subject, text, html string, err error) {
	kt, ok := t.kinds[kind]
	if !ok {
		return "", "", "", fmt.Errorf("unknown message kind %q", kind)
	}
	if subject, err = renderSubject(kt.subject, data); err != nil {
		return "", "", "", err
	}
	if text, err = render(kt.text, data); err != nil {
		return "", "", "", err
	}
	if html, err = render(kt.html, data); err != nil {
		return "", "", "", err
	}
	return subject, text, html, nil
}

// executor is what text/template and html/template templates have in common.
type executor interface {
	Execute(w io.Writer, data any) error
	Name() string
}

func render(tm executor, data any) (string, error) {
	var b strings.Builder
	if err := tm.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering %s: %w", tm.Name(), err)
	}
	return b.String(), nil
}

// renderSubject renders a subject on one line: whitespace runs, newlines included,
// become one space.
func renderSubject(tm *texttemplate.Template, data any) (string, error) {
	s, err := render(tm, data)
	if err != nil {
		return "", err
	}
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "", fmt.Errorf("rendering %s: empty subject", tm.Name())
	}
	return s, nil
}

func appendErr(errs []error, err error) []error {
	if err != nil {
		return append(errs, err)
	}
	return errs
}
