package caddymodule

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// SMTP is the mail relay. Without a host, mail is written to the log.
type SMTP struct {
	// Host of the relay, e.g. "smtp.example.com". Default: none (log only).
	Host string `json:"host,omitempty"`
	// Port; default by TLS mode: 587 (starttls), 465 (tls), 25 (none).
	Port int `json:"port,omitempty"`
	// Username and Password for SMTP AUTH; use a placeholder such as
	// {env.GATEHOUSE_SMTP_PASSWORD} for the password.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// From is the sender address. Required with a host.
	From string `json:"from,omitempty"`
	// TLS is "starttls" (default: refuses to send without it), "tls" (implicit) or
	// "none" (loopback relays only).
	TLS string `json:"tls,omitempty"`
}

// mailer builds the notifier and the outbox worker (started in Start).
func (a *App) mailer(outbox notify.Outbox) (*notify.Notifier, *notify.Worker, error) {
	tpl := a.templates
	var sender notify.Sender = notify.NewLogSender(a.logger.Named("mail"))
	if a.SMTP != nil && a.SMTP.Host != "" {
		repl := caddy.NewReplacer()
		s, err := notify.NewSMTPSender(notify.SMTPConfig{
			Host: a.SMTP.Host, Port: a.SMTP.Port, Username: repl.ReplaceAll(a.SMTP.Username, ""),
			Password: secret.Redacted(repl.ReplaceAll(a.SMTP.Password, "")), From: a.SMTP.From, TLS: a.SMTP.TLS,
			Timeout: 30 * time.Second,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("smtp: %w", err)
		}
		sender = s
	}
	w, err := notify.NewWorker(outbox, sender, clock.Real{}, notify.WorkerConfig{Retention: time.Duration(a.MailRetention), Logger: a.logger.Named("mail")})
	if err != nil {
		return nil, nil, err
	}
	return notify.NewNotifier(tpl, outbox, clock.Real{}, w.Kick), w, nil
}

// startMail runs the outbox worker for this config's lifetime.
func (a *App) startMail() error {
	if a.mailWorker == nil {
		return nil
	}
	if err := a.mailWorker.Start(context.Background()); err != nil {
		return fmt.Errorf("starting mail worker: %w", err)
	}
	a.logger.Info("mail outbox worker running", zap.Bool("smtp", a.SMTP != nil && a.SMTP.Host != ""))
	return nil
}
