package httpx

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue 13: slow clients. 500 connections that trickle their headers or
// their body do not keep the server from answering others, are closed at
// their deadlines, and a long response stream outlives every one of those
// timeouts.
func TestSlowClientsDoNotStarveOthers(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream": // an MCP stream: longer than every timeout below
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; i < 12; i++ {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(100 * time.Millisecond)
			}
		case "/post":
			if _, err := io.ReadAll(r.Body); err != nil {
				http.Error(w, "slow body", http.StatusRequestTimeout)
				return
			}
			_, _ = io.WriteString(w, "ok")
		default:
			_, _ = io.WriteString(w, "ok")
		}
	})
	srv := newServer(handler, 500*time.Millisecond, 500*time.Millisecond, time.Second)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	addr := ln.Addr().String()

	const slow = 500
	var conns []net.Conn
	var mu sync.Mutex
	closed := 0
	var wg sync.WaitGroup
	for i := 0; i < slow; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("slow connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if i%2 == 0 { // slowloris: headers never finish
			_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		} else { // slow POST: headers done, body trickles
			_, _ = io.WriteString(c, "POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\na")
		}
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := io.Copy(io.Discard, c) // nil when the server closes it
			if err == nil {
				mu.Lock()
				closed++
				mu.Unlock()
			}
		}(c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	client := &http.Client{Timeout: 5 * time.Second}
	start := time.Now()
	streamDone := make(chan string, 1)
	go func() {
		resp, err := client.Get("http://" + addr + "/stream")
		if err != nil {
			streamDone <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		streamDone <- string(b)
	}()
	for i := 0; i < 20; i++ {
		t0 := time.Now()
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("request %d with %d slow connections open: %v", i, slow, err)
		}
		resp.Body.Close()
		if el := time.Since(t0); el > time.Second {
			t.Fatalf("request %d took %v with slow connections open", i, el)
		}
	}
	if s := <-streamDone; !strings.Contains(s, "data: 11") {
		t.Fatalf("the long stream was cut: %q", s)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("premise: the stream (%v) must outlast the 500 ms timeouts", el)
	}
	wg.Wait()
	if closed != slow {
		t.Fatalf("%d of %d slow connections closed by the server", closed, slow)
	}
}
