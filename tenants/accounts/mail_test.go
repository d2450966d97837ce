package accounts_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
)

// smtpSink is a real SMTP server (emersion/go-smtp) that keeps what it gets.
type smtpSink struct {
	mu   sync.Mutex
	msgs []sunk
}

type sunk struct {
	from string
	to   []string
	data string
}

type sinkSession struct {
	s   *smtpSink
	cur sunk
}

func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }
func (ss *sinkSession) Reset()                                  { ss.cur = sunk{} }
func (ss *sinkSession) Logout() error                           { return nil }
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.cur.from = from
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.cur.to = append(ss.cur.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.data = string(b)
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.cur)
	ss.s.mu.Unlock()
	return nil
}

func startSMTP(t *testing.T) (*smtpSink, string) {
	t.Helper()
	sink := &smtpSink{}
	srv := smtp.NewServer(sink)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return sink, ln.Addr().String()
}

func TestSMTPDeliversVerificationMail(t *testing.T) {
	sink, addr := startSMTP(t)
	m, err := accounts.ParseSMTPURL("smtp://" + addr + "?from=no-reply@gh.example")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, accounts.SignupOpen)
	e.operator() // its verification stays in the outbox
	e.svc.Mailer = m
	if _, err := e.svc.SignUp(ctx, accounts.SignupInput{Email: "ada@example.com", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.msgs) != 1 {
		t.Fatalf("%d messages delivered", len(sink.msgs))
	}
	got := sink.msgs[0]
	tok := e.lastLink("ada@example.com", "/account/verify")
	if got.from != "no-reply@gh.example" || len(got.to) != 1 || got.to[0] != "ada@example.com" ||
		!strings.Contains(got.data, "Subject: Confirm your email address") || !strings.Contains(got.data, tok) {
		t.Fatalf("delivered message: %+v", got)
	}
	items, _, _ := e.store.ListOutboxMessages(ctx, tenants.Page{Limit: 5})
	if len(items) == 0 || items[0].SentAt == nil {
		t.Fatal("outbox does not record the delivery")
	}
	if strings.Count(e.logs.String(), "MAIL NOT SENT") != 1 { // the operator's own, before SMTP was set
		t.Fatal("a delivered mail was reported unsent")
	}
}

func TestSMTPFailureIsRecordedForOperators(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens
	m, _ := accounts.ParseSMTPURL("smtp://" + addr + "?from=no-reply@gh.example")
	e := newEnv(t, accounts.SignupOpen)
	e.operator() // its verification stays in the outbox
	e.svc.Mailer = m
	_ = e.svc.RequestPasswordReset(ctx, "op@example.com")
	items, _, _ := e.store.ListOutboxMessages(ctx, tenants.Page{Limit: 5})
	if len(items) != 2 || items[0].SentAt != nil || items[0].LastError == "" { // [1]: the operator's own verification, before SMTP
		t.Fatalf("failed delivery not recorded: %+v", items)
	}
}

func TestParseSMTPURL(t *testing.T) {
	m, err := accounts.ParseSMTPURL("smtps://user:p%40ss@mail.example?from=a@b.example")
	if err != nil || m.Addr != "mail.example:465" || !m.Implicit || m.Password != "p@ss" || m.Username != "user" {
		t.Fatalf("%v %+v", err, m)
	}
	for _, bad := range []string{"http://x?from=a@b.c", "smtp://host", "smtp://host?from=nope", "smtp://?from=a@b.c"} {
		if _, err := accounts.ParseSMTPURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
