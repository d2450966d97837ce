package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cimdHosts are the hosts the TLS fake answers for. The binary reaches them
// through GATEHOUSE_TEST_HOST_MAP and trusts the fake's CA through
// GATEHOUSE_TEST_CA_FILE (test-only hooks in cmd/gatehouse/testhooks.go).
var cimdHosts = []string{"claude.ai", "client.e2e.test", entIdPHost}

// ClaudeCIMD is Claude.ai's client ID metadata document URL (docs/RULES.md §10).
const ClaudeCIMD = "https://claude.ai/oauth/mcp-oauth-client-metadata"

// cimdHost serves client ID metadata documents over TLS.
type cimdHost struct {
	srv    *http.Server
	ln     net.Listener
	caFile string

	mu   sync.Mutex
	docs map[string]any // path → document
	hits map[string]int
}

// testCA issues the certificates of the TLS fakes and the TLS front; the
// binary (GATEHOUSE_TEST_CA_FILE, SSL_CERT_FILE), the Go clients (pool) and
// Node (NODE_EXTRA_CA_CERTS) trust it.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	file string
}

var ca *testCA

func newTestCA(dir string) (*testCA, error) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse e2e test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	c := &testCA{cert: cert, key: key, pool: x509.NewCertPool(), file: filepath.Join(dir, "e2e-ca.pem")}
	c.pool.AddCert(cert)
	if err := os.WriteFile(c.file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return c, nil
}

// serial numbers the leaves; tests start servers in parallel.
var serial atomic.Int64

// leaf issues a server certificate for names and IPs.
func (c *testCA) leaf(names []string, ips []net.IP) (tls.Certificate, error) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(10 + serial.Add(1)), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names, IPAddresses: ips,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func newCIMDHost(c *testCA) (*cimdHost, error) {
	cert, err := c.leaf(cimdHosts, nil)
	if err != nil {
		return nil, err
	}
	h := &cimdHost{docs: map[string]any{}, hits: map[string]int{}, caFile: c.file}
	h.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h.srv = &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.ServeTLS(h.ln, "", "") }()

	// Claude.ai's document, as its client id names it.
	h.put(ClaudeCIMD, map[string]any{
		"client_id": ClaudeCIMD, "client_name": "Claude", "client_uri": "https://claude.ai",
		"redirect_uris":              []string{"https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	})
	return h, nil
}

// hostMap is GATEHOUSE_TEST_HOST_MAP for the binary.
func (h *cimdHost) hostMap() string {
	var parts []string
	for _, host := range cimdHosts {
		parts = append(parts, host+":443="+h.ln.Addr().String())
	}
	return strings.Join(parts, ",")
}

// put serves doc at the https URL u (its host must be one of cimdHosts).
func (h *cimdHost) put(u string, doc map[string]any) {
	path := strings.TrimPrefix(u, "https://")
	h.mu.Lock()
	h.docs[path] = doc
	h.mu.Unlock()
}

func (h *cimdHost) fetches(u string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[strings.TrimPrefix(u, "https://")]
}

func (h *cimdHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Split(r.Host, ":")[0] == entIdPHost {
		entIdP.ServeHTTP(w, r) // the enterprise IdP (enterprise_test.go)
		return
	}
	key := strings.Split(r.Host, ":")[0] + r.URL.Path
	h.mu.Lock()
	doc, ok := h.docs[key]
	h.hits[key]++
	h.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

func (h *cimdHost) close() { _ = h.srv.Close() }
