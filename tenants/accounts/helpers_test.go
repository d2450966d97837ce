package accounts_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

var ctx = context.Background()

// fast argon2id parameters: the tests check behaviour, not cost.
var fast = accounts.Params{Memory: 64, Time: 1, Threads: 1}

type env struct {
	t     *testing.T
	store *gormstore.Store
	svc   *accounts.Service
	logs  *syncBuf
	now   time.Time
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newEnv(t *testing.T, mode string) *env {
	t.Helper()
	return newEnvOn(t, mode, testdb.SQLite(t))
}

// newEnvOn is newEnv on the database dsn (a SQLite path or a Postgres URL).
func newEnvOn(t *testing.T, mode, dsn string) *env {
	t.Helper()
	store := testdb.Open(t, dsn)
	key := make([]byte, 32)
	copy(key, "accounts-test-key-0123456789abcd")
	sealer, err := tenants.NewSealer([][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, logs: &syncBuf{}, now: time.Now().UTC()}
	logger := slog.New(slog.NewJSONHandler(e.logs, nil))
	aud := &tenants.SyncAuditor{Store: store, Logger: logger}
	e.svc = &accounts.Service{Store: store, Sealer: sealer, Auditor: aud, Logger: logger, PublicURL: "https://gh.example",
		Signup: mode, Params: fast, Now: func() time.Time { return e.now },
		Prov: &tenants.Provisioner{Store: store, Sealer: sealer, Auditor: aud, AllowDevIdP: true}}
	return e
}

var linkRE = regexp.MustCompile(`https://gh\.example/[a-z/]+\?token=[A-Za-z0-9_-]+`)

// mails returns the bodies of every outbox message to addr, oldest first.
func (e *env) mails(addr string) []string {
	e.t.Helper()
	items, _, err := e.store.ListOutboxMessages(ctx, tenants.Page{Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for i := len(items) - 1; i >= 0; i-- {
		if items[i].To == addr {
			out = append(out, e.svc.OpenOutboxBody(&items[i]))
		}
	}
	return out
}

// lastLink is the token of the newest link mailed to addr under path.
func (e *env) lastLink(addr, path string) string {
	e.t.Helper()
	ms := e.mails(addr)
	for i := len(ms) - 1; i >= 0; i-- {
		for _, l := range linkRE.FindAllString(ms[i], -1) {
			if strings.Contains(l, path+"?") {
				_, tok, _ := strings.Cut(l, "token=")
				return tok
			}
		}
	}
	e.t.Fatalf("no %s link mailed to %s; mails: %q", path, addr, ms)
	return ""
}

// operator creates the first account (the operator).
func (e *env) operator() *tenants.Account {
	e.t.Helper()
	r, err := e.svc.SignUp(ctx, accounts.SignupInput{Email: "op@example.com", Password: "correct horse battery"})
	if err != nil || !r.CheckEmail {
		e.t.Fatalf("first sign-up: %v %+v", err, r)
	}
	a, err := e.svc.VerifyEmail(ctx, e.lastLink("op@example.com", "/account/verify"))
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// verified signs up and verifies an account.
func (e *env) verified(email string) *tenants.Account {
	e.t.Helper()
	if _, err := e.svc.SignUp(ctx, accounts.SignupInput{Email: email, Password: "correct horse battery"}); err != nil {
		e.t.Fatal(err)
	}
	a, err := e.svc.VerifyEmail(ctx, e.lastLink(email, "/account/verify"))
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

var _ = io.Discard
