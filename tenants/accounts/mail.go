package accounts

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Mailer delivers one message. SMTPMailer is the real one; without
// GATEHOUSE_SMTP_URL there is none and messages wait in the outbox for an
// operator (docs/ACCOUNTS.md, "Mail").
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// SMTPMailer sends through one SMTP server (RFC 5321), with STARTTLS when the
// server offers it (smtp://) or implicit TLS (smtps://).
type SMTPMailer struct {
	Addr     string // host:port
	From     string
	Username string
	Password string
	Implicit bool        // smtps://
	TLS      *tls.Config // nil: verify against the system roots for Addr's host
}

// ParseSMTPURL reads smtp[s]://[user:pass@]host[:port]?from=addr.
func ParseSMTPURL(raw string) (*SMTPMailer, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, errors.New("must be smtp://[user:password@]host[:port]?from=address or smtps://…")
	}
	m := &SMTPMailer{Implicit: u.Scheme == "smtps", From: u.Query().Get("from")}
	port := u.Port()
	if port == "" {
		port = "587"
		if m.Implicit {
			port = "465"
		}
	}
	m.Addr = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		m.Username = u.User.Username()
		m.Password, _ = u.User.Password()
	}
	if m.From == "" {
		return nil, errors.New("needs ?from=address (the sender of verification and reset mail)")
	}
	if _, err := mail.ParseAddress(m.From); err != nil {
		return nil, fmt.Errorf("from=%q is not an email address", m.From)
	}
	return m, nil
}

// Send delivers one plain-text message.
func (m *SMTPMailer) Send(ctx context.Context, to, subject, body string) error {
	if strings.ContainsAny(to+subject, "\r\n") {
		return errors.New("mail: header injection refused")
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(m.Addr)
	tcfg := m.TLS
	if tcfg == nil {
		tcfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if m.Implicit {
		conn = tls.Client(conn, tcfg)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok && !m.Implicit {
		if err := c.StartTLS(tcfg); err != nil {
			return err
		}
	}
	if m.Username != "" {
		// net/smtp's PlainAuth refuses to send the password unencrypted
		// except to localhost.
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return err
		}
	}
	if err := c.Mail(m.From); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	msg := "From: " + m.From + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n") + "\r\n"
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
