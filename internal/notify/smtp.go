package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// SMTP transport security modes (SMTPConfig.TLS).
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS, and refuses to send if
	// the server does not offer it: never a silent fallback to plaintext.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte ("SMTPS", usually port 465).
	TLSImplicit = "tls"
	// TLSNone sends in the clear. It is accepted only for a loopback host: a local
	// relay, development and tests.
	TLSNone = "none"
)

// DefaultSMTPTimeout bounds one SMTP conversation when SMTPConfig.Timeout is 0.
const DefaultSMTPTimeout = 15 * time.Second

// SMTPConfig is how to reach the SMTP submission server.
type SMTPConfig struct {
	// Host is the server's name or address. Required.
	Host string
	// Port defaults to 587 for starttls, 465 for tls, 25 for none.
	Port int
	// Username enables SMTP AUTH; empty sends without authenticating. Over a
	// connection without TLS only challenge-response mechanisms are used.
	Username string
	// Password for Username; it prints as REDACTED.
	Password secret.Redacted
	// From is the sender, an address with an optional name:
	// "Gatehouse <no-reply@example.com>". Required.
	From string
	// TLS is TLSStartTLS (the default when empty), TLSImplicit or TLSNone.
	TLS string
	// Timeout bounds each conversation with the server; 0 means DefaultSMTPTimeout.
	Timeout time.Duration
	// RootCAs verifies the server's certificate; nil means the system roots. For a
	// relay with a private CA.
	RootCAs *x509.CertPool
}

// withDefaults fills the zero values.
func (c SMTPConfig) withDefaults() SMTPConfig {
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if c.Port == 0 {
		switch c.TLS {
		case TLSImplicit:
			c.Port = gomail.DefaultPortSSL
		case TLSNone:
			c.Port = gomail.DefaultPort
		default:
			c.Port = gomail.DefaultPortTLS
		}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultSMTPTimeout
	}
	return c
}

// Validate reports every problem of the configuration at once.
func (c SMTPConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Host == "" {
		errs = append(errs, errors.New("smtp: host is required"))
	} else if strings.ContainsAny(c.Host, "/: \t") && net.ParseIP(c.Host) == nil {
		errs = append(errs, fmt.Errorf("smtp: host %q is not a host name or address (give the port separately)", c.Host))
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("smtp: port %d out of range", c.Port))
	}
	switch c.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if c.Host != "" && !isLoopbackHost(c.Host) {
			errs = append(errs, fmt.Errorf("smtp: tls %q is only allowed for a loopback host, not %q: use %q or %q",
				TLSNone, c.Host, TLSStartTLS, TLSImplicit))
		}
	default:
		errs = append(errs, fmt.Errorf("smtp: unknown tls mode %q: want %q, %q or %q", c.TLS, TLSStartTLS, TLSImplicit, TLSNone))
	}
	if c.Password != "" && c.Username == "" {
		errs = append(errs, errors.New("smtp: password without username"))
	}
	if c.From == "" {
		errs = append(errs, errors.New("smtp: from address is required"))
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		errs = append(errs, fmt.Errorf("smtp: from address %q: %w", c.From, err))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("smtp: negative timeout %s", c.Timeout))
	}
	return errors.Join(errs...)
}

// isLoopbackHost accepts "localhost" and loopback addresses, without resolving
// anything: a name that resolves to loopback today may not tomorrow.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SMTPSender sends messages through an SMTP server with wneessen/go-mail, one
// connection per message. It is safe for concurrent use.
type SMTPSender struct {
	client *gomail.Client
	from   string
	domain string // of From, for Message-ID
}

// Compile-time check that SMTPSender is a Sender.
var _ Sender = (*SMTPSender)(nil)

// NewSMTPSender validates cfg and returns a sender. It does not connect: the server
// may be down at start, and the outbox waits for it.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	from, _ := mail.ParseAddress(cfg.From) // checked by Validate
	opts := []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTimeout(cfg.Timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs}),
	}
	switch cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username),
			gomail.WithPassword(cfg.Password.Reveal()),
		)
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating SMTP client: %w", err)
	}
	return &SMTPSender{client: client, from: from.String(), domain: addressDomain(from.Address)}, nil
}

func addressDomain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}

// Send delivers m in one SMTP conversation.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	msg, err := s.compose(m)
	if err != nil {
		return err
	}
	if err := s.client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("sending mail: %w", err)
	}
	return nil
}

// compose builds the MIME message: text with an HTML alternative, marked as
// automatic so that auto-responders stay quiet.
func (s *SMTPSender) compose(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return nil, fmt.Errorf("setting From: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("setting To: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.ID + "@" + s.domain)
	date := m.CreatedAt
	if date.IsZero() {
		date = time.Now()
	}
	msg.SetDateWithValue(date)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}
