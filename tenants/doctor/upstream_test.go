package doctor

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckUpstream(t *testing.T) {
	var got string
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Method + " " + r.Header.Get("Content-Type")
		w.WriteHeader(http.StatusUnauthorized) // speaking, even if it wants a token
	}))
	defer ok.Close()
	if c := CheckUpstream(context.Background(), ok.Client(), ok.URL); !c.OK || got != "POST application/json" {
		t.Fatalf("reachable upstream: %+v (%s)", c, got)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer bad.Close()
	if c := CheckUpstream(context.Background(), bad.Client(), bad.URL); c.OK || !strings.Contains(c.Detail, "502") {
		t.Fatalf("5xx upstream: %+v", c)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if c := CheckUpstream(context.Background(), http.DefaultClient, "http://"+addr+"/mcp"); c.OK || !strings.Contains(c.Detail, "did not answer") {
		t.Fatalf("closed port: %+v", c)
	}
}
