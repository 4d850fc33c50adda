package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates, each rendered inside layout.html.
var pageNames = []string{"login", "logout", "setup", "message", "2fa", "security", "totp_enroll", "codes", "admin_security",
	"sessions", "password", "forgot", "newpassword", "reauth", "members", "member", "review", "roles", "role", "stepup", "audit", "audit_record", "exports",
	"requests", "emailchange"}

// methodNames says how a session signed in, in words ("password + authenticator app").
func methodNames(methods []string) string {
	names := make([]string, 0, len(methods))
	for _, m := range methods {
		switch m {
		case authn.MethodPassword:
			m = "password"
		case authn.MethodTOTP:
			m = "authenticator app"
		case authn.MethodRecovery:
			m = "recovery code"
		case authn.MethodPasskey:
			m = "passkey"
		}
		names = append(names, m)
	}
	return strings.Join(names, " + ")
}

var pages = func() map[string]*template.Template {
	funcs := template.FuncMap{
		"date":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
		"datetime": func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 MST") },
		"days":     func(d time.Duration) int { return int(d / (24 * time.Hour)) },
		"duration": admin.FormatDuration,
		"status":   memberStatus,
		"join":     strings.Join,
		"methods":  methodNames,
	}
	m := map[string]*template.Template{}
	for _, name := range pageNames {
		m[name] = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
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

// pageInfo is what the layout needs besides the page's own data.
type pageInfo struct {
	Title  string
	Wide   bool   // admin pages with tables
	Nav    string // the navigation entry to mark as current
	Notice string
	Error  string
}

// navItem is an entry of the signed-in user's navigation.
type navItem struct {
	Key, Label, Path string
}

// layout is what layout.html sees.
type layout struct {
	pageInfo
	Tenant  string
	Prefix  string
	HomeURL string
	CSRF    string
	User    string    // the signed-in user's e-mail ("" = nobody)
	NavList []navItem // for the signed-in user
	Page    any       // the page's own data
}

// navFor lists the pages a signed-in user can go to: their own, and the workspace's
// for owners and admins. Later pages (sessions, members, roles, audit, exports) join
// here.
func (p *Portal) navFor(e *session.Entry) []navItem {
	items := []navItem{{"security", "Security", p.path("/settings/security")}, {"sessions", "Sessions", p.path("/settings/sessions")}}
	if isAdmin(e) {
		items = append(items, navItem{"members", "Members", p.path("/admin/members")},
			navItem{"roles", "Roles", p.path("/admin/roles")},
			navItem{"workspace", "Workspace security", p.path("/admin/security")},
			navItem{"audit", "Audit", p.path("/admin/audit")})
		items = append(items, navItem{"requests", "Requests", p.path("/admin/requests")})
		items = append(items, navItem{"review", "Permission review", p.path("/admin/team/audit")})
		if p.Exports != nil {
			items = append(items, navItem{"exports", "Exports", p.path("/admin/exports")})
		}
	}
	return items
}

func isAdmin(e *session.Entry) bool {
	for _, r := range e.User.Roles {
		if r == identity.RoleOwner || r == identity.RoleAdmin {
			return true
		}
	}
	return false
}

// render writes a page inside the layout; templates run into a buffer first, so a
// template error never sends half a page.
func (p *Portal) render(c *call, status int, name string, info pageInfo, data any) {
	l := layout{pageInfo: info, Tenant: c.Workspace.Name, Prefix: p.Prefix, HomeURL: p.HomeURL, Page: data}
	if c.csrf == "" {
		c.csrf = csrfToken(c.w, c.r, c.HTTPS)
	}
	l.CSRF = c.csrf
	me := c.me
	if me == nil || me.Session.Pending {
		me, _ = p.session(c) // error pages and public pages show the navigation too
	}
	if me != nil && !me.Session.Pending {
		l.User, l.NavList = me.User.Email, p.navFor(me)
	}
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", l); err != nil {
		p.Logger.Error("rendering page", zap.String("page", name), zap.Error(err))
		http.Error(c.w, "internal error", http.StatusInternalServerError)
		return
	}
	c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(buf.Bytes())
}

// messagePage is a page with one message and a way on.
type messagePage struct {
	Message, Link, LinkText  string
	Secondary, SecondaryText string
}

// message renders a message page.
func (p *Portal) message(c *call, status int, title string, m messagePage) {
	p.render(c, status, "message", pageInfo{Title: title}, m)
}
