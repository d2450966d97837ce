// Package demo is the built-in demo upstream MCP server (dev use and tests):
// a few tools written with the official Go SDK, served over Streamable HTTP.
package demo

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
)

// Path is where serve mounts the demo upstream on its own listener.
const Path = "/_demo/mcp"

type echoIn struct {
	Text string `json:"text" jsonschema:"the text to echo back"`
}

type addIn struct {
	A float64 `json:"a" jsonschema:"first addend"`
	B float64 `json:"b" jsonschema:"second addend"`
}

type addOut struct {
	Sum float64 `json:"sum"`
}

type countdownIn struct {
	From       int `json:"from" jsonschema:"start counting down from this number (1-60)"`
	IntervalMS int `json:"interval_ms,omitempty" jsonschema:"milliseconds between steps (default 500)"`
}

// NewServer returns the demo MCP server.
func NewServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "gatehouse-demo", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Echo the text back."},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "add", Description: "Add two numbers."},
		func(ctx context.Context, req *mcp.CallToolRequest, in addIn) (*mcp.CallToolResult, addOut, error) {
			return nil, addOut{Sum: in.A + in.B}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "whoami", Description: "Show the identity headers Gatehouse attached to this call."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			var lines []string
			if req.Extra != nil {
				for k, v := range req.Extra.Header {
					if tenants.IsIdentityHeader(k) && !strings.EqualFold(k, access.HeaderAssertion) {
						lines = append(lines, k+": "+strings.Join(v, ","))
					}
				}
			}
			sort.Strings(lines)
			if len(lines) == 0 {
				lines = []string{"no identity headers (not called through Gatehouse)"}
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.Join(lines, "\n")}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "countdown", Description: "Count down, streaming a progress notification per step."},
		func(ctx context.Context, req *mcp.CallToolRequest, in countdownIn) (*mcp.CallToolResult, any, error) {
			if in.From < 1 || in.From > 60 {
				return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "from must be between 1 and 60"}}}, nil, nil
			}
			interval := time.Duration(in.IntervalMS) * time.Millisecond
			if interval <= 0 {
				interval = 500 * time.Millisecond
			}
			token := req.Params.GetProgressToken()
			for i := in.From; i > 0; i-- {
				if token != nil {
					_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
						ProgressToken: token, Progress: float64(in.From - i + 1), Total: float64(in.From), Message: fmt.Sprintf("%d", i),
					})
				}
				select {
				case <-ctx.Done():
					return nil, nil, ctx.Err()
				case <-time.After(interval):
				}
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "liftoff"}}}, nil, nil
		})
	return s
}

// SessionTimeout closes a demo session no request touched for this long
// (the gateway's stream idle timeout). Without it every session the demo
// ever saw kept its goroutines for the life of the process.
const SessionTimeout = 10 * time.Minute

// Handler serves the demo server over Streamable HTTP.
func Handler() http.Handler { return NewHandler(SessionTimeout) }

// NewHandler serves the demo server with idle sessions closed after
// sessionTimeout. Stream events are kept (1 MiB per process) so a client
// whose stream ended — e.g. a gateway replica draining — resumes it with
// Last-Event-ID.
func NewHandler(sessionTimeout time.Duration) http.Handler {
	s := NewServer()
	events := mcp.NewMemoryEventStore(nil)
	events.SetMaxBytes(1 << 20)
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{SessionTimeout: sessionTimeout, EventStore: events})
}
