package doctor

import (
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
)

// Which MCP client product is behind a connection, in words a tenant
// recognizes ("MCP Inspector", "Claude.ai"), from what the client itself
// sends. The markers are the ones measured in e2e/ (docs/COMPATIBILITY.md)
// and reported by the clients' users (docs/RULES.md §10); they only label the
// doctor's timeline and are never used for a security decision.

// Product names.
const (
	SoftwareClaudeAI   = "Claude.ai"
	SoftwareClaudeCode = "Claude Code"
	SoftwareChatGPT    = "ChatGPT"
	SoftwareCursor     = "Cursor"
	SoftwareVSCode     = "VS Code"
	SoftwareInspector  = "MCP Inspector"
	SoftwareMCPRemote  = "mcp-remote"
	SoftwareAISDK      = "Vercel AI SDK"
	SoftwareNode       = "Node.js HTTP client"
	SoftwareBrowser    = "Web browser"
	SoftwareSelfCheck  = "Gatehouse self-check"
)

// uaMarkers map a User-Agent to a product, first match wins (lower case
// substrings, or prefixes where marked).
var uaMarkers = []struct {
	prefix, contains string
	name             string
}{
	{contains: "claude-user", name: SoftwareClaudeAI},      // Claude.ai's connector requests (docs/RULES.md §10)
	{contains: "claude-code/", name: SoftwareClaudeCode},   // claude-code/2.x
	{contains: "claude-cli/", name: SoftwareClaudeCode},    // older Claude Code builds
	{contains: "openai-mcp", name: SoftwareChatGPT},        // ChatGPT connectors
	{contains: "chatgpt-user", name: SoftwareChatGPT},      // ChatGPT fetching on a user's behalf
	{prefix: "cursor/", name: SoftwareCursor},              // Cursor/1.x
	{contains: "visual studio code", name: SoftwareVSCode}, // Visual Studio Code/1.x
	{contains: "ai-sdk/", name: SoftwareAISDK},             // "ai-sdk/2.0.99 node.js/v20.20.2" on MCP requests
	{prefix: strings.ToLower(SelfCheckUserAgent), name: SoftwareSelfCheck},
	{prefix: "mozilla/", name: SoftwareBrowser}, // the person's browser at /authorize
}

// genericNode are the User-Agents Node's built-in fetch (undici) sends when
// the program sets none. Measured: the MCP Inspector's backend, mcp-remote
// and the OpenAI Agents SDK send nothing else, and the AI SDK does on its
// OAuth requests; the first two are named by their registration
// (SoftwareFromClient), the Agents SDK by nothing it sends (its app
// chooses the client name).
var genericNode = map[string]bool{"node": true, "undici": true, "node-fetch": true}

// SoftwareFromUserAgent names the product behind a User-Agent, or "".
func SoftwareFromUserAgent(ua string) string {
	l := strings.ToLower(strings.TrimSpace(ua))
	if l == "" {
		return ""
	}
	if genericNode[l] || strings.HasPrefix(l, "node-fetch/") || strings.HasPrefix(l, "undici/") {
		return SoftwareNode
	}
	for _, m := range uaMarkers {
		if (m.prefix != "" && strings.HasPrefix(l, m.prefix)) || (m.contains != "" && strings.Contains(l, m.contains)) {
			return m.name
		}
	}
	return ""
}

// SoftwareFromClient names the product from a client's registration:
// clients behind a bare Node User-Agent name themselves there (measured:
// the Inspector registers as "MCP Inspector", mcp-remote as "MCP CLI
// Proxy" with the mcp-cli client_uri), and Claude.ai uses its CIMD URL.
func SoftwareFromClient(c *tenants.Client, clientID string) string {
	if clientID == ClaudeCIMDClientID {
		return SoftwareClaudeAI
	}
	if c == nil {
		return ""
	}
	uri := strings.ToLower(c.ClientURI)
	switch {
	case c.Name == "MCP Inspector" || strings.Contains(uri, "github.com/modelcontextprotocol/inspector"):
		return SoftwareInspector
	case c.Name == "MCP CLI Proxy" || c.Name == "MCP CLI Client" || strings.Contains(uri, "github.com/modelcontextprotocol/mcp-cli"):
		return SoftwareMCPRemote
	}
	return ""
}

// ClaudeCIMDClientID is Claude.ai's client ID metadata document (docs/RULES.md §10).
const ClaudeCIMDClientID = "https://claude.ai/oauth/mcp-oauth-client-metadata"

// clientSoftware lists the products seen for one client: from its
// registration first, then from the User-Agents of its own requests
// (browsers and the generic Node fetch say nothing about the product).
func clientSoftware(s *clientState) []string {
	var out []string
	if name := SoftwareFromClient(s.client, s.id); name != "" {
		out = append(out, name)
	}
	for _, ev := range s.events {
		switch name := SoftwareFromUserAgent(ev.UserAgent); name {
		case "", SoftwareBrowser, SoftwareNode, SoftwareSelfCheck:
		default:
			out = addUnique(out, name)
		}
	}
	return out
}

// entrySoftware labels one timeline entry: a bare Node User-Agent on the
// client's own request is the product its registration names.
func entrySoftware(ua string, registered string, attributed bool) string {
	name := SoftwareFromUserAgent(ua)
	if name == SoftwareNode && registered != "" && !attributed {
		return registered + " (" + SoftwareNode + ")"
	}
	return name
}
