package main

import (
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The e2e test hooks are refused outside test mode and, when on, make CIMD
// fetches trust the given CA and dial the mapped address.
func TestTestHooks(t *testing.T) {
	c := &Config{Addr: "127.0.0.1:0", LogLevel: "info", TestHostMap: "claude.ai:443=127.0.0.1:1"}
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_TEST_CA_FILE") {
		t.Fatalf("hooks without GATEHOUSE_ALLOW_PRIVATE_FETCH: %v", err)
	}
	if _, err := c.testCIMDClient(); err == nil {
		t.Fatal("testCIMDClient without AllowPrivateFetch")
	}
	if hc, err := (&Config{}).testCIMDClient(); hc != nil || err != nil {
		t.Fatalf("no hooks: %v %v", hc, err)
	}

	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.Host))
	}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	// httptest's certificate is valid for example.com.
	c = &Config{AllowPrivateFetch: true, TestCAFile: caFile, TestHostMap: "example.com:443=" + srv.Listener.Addr().String()}
	hc, err := c.testCIMDClient()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get("https://example.com/doc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("not TLS: %+v", resp.TLS)
	}
	if _, err := (&Config{AllowPrivateFetch: true, TestHostMap: "nonsense"}).testCIMDClient(); err == nil {
		t.Error("a malformed host map was accepted")
	}
}
