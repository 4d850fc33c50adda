package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages maps a page name to its template set (layout + content).
var pages = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, name := range []string{"login", "logout", "setup", "message", "2fa", "security", "totp_enroll", "codes", "admin_security"} {
		m[name] = template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return m
}()

// staticFiles serves the embedded static assets.
func staticFiles() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	return http.FileServer(http.FS(sub))
}

// pageData is what every template sees.
type pageData struct {
	Title, TenantName, Prefix string
	Notice, Error             string
	CSRF                      string
	// page specific
	Redirect, Email, Name, Token string
	MinLength                    int
	SignedIn                     bool
	Message, Link, LinkText      string
	// second factors and security settings
	Passkey           bool // offer a passkey on the 2FA page
	Enrol             bool // the 2FA page can only enrol (tenant policy)
	EnrolTOTP         bool // ... and an authenticator app is among the options
	TOTP              bool
	Codes             int
	Passkeys          []store.Passkey
	QR, Secret        string
	RecoveryCodes     []string
	LocationProfiling bool
	// tenant policy
	Settings  store.SecuritySettings
	GraceDays int
}

// render writes a page with status; templates are executed into a buffer first, so a
// template error never sends half a page.
func render(w http.ResponseWriter, status int, page string, d pageData) {
	var buf bytes.Buffer
	if err := pages[page].ExecuteTemplate(&buf, "layout", d); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
