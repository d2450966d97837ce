package doctor

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// UpstreamCheck says whether the tenant's MCP server answers.
type UpstreamCheck struct {
	OK     bool
	Detail string
}

// CheckUpstream sends the tenant's MCP server a JSON-RPC ping (MCP
// "ping", the lightest request every server handles) the way the gateway
// reaches it: client must carry the gateway's outbound address policy for
// upstreams. Any HTTP answer below 500 means the server is reachable (a
// 400 or 401 is the server speaking); a dial error, a timeout or a 5xx is not.
func CheckUpstream(ctx context.Context, client *http.Client, upstream string) UpstreamCheck {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, upstream, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	if err != nil {
		return UpstreamCheck{Detail: "the upstream URL is not valid: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("User-Agent", "Gatehouse-Onboarding-Check")
	res, err := client.Do(req)
	if err != nil {
		return UpstreamCheck{Detail: "it did not answer: " + err.Error()}
	}
	res.Body.Close()
	if res.StatusCode >= 500 {
		return UpstreamCheck{Detail: fmt.Sprintf("it answered HTTP %d (a server error)", res.StatusCode)}
	}
	return UpstreamCheck{OK: true, Detail: fmt.Sprintf("it answered HTTP %d", res.StatusCode)}
}
