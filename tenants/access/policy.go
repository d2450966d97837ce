package access

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

// MethodToolsCall is the JSON-RPC method the per-tool scope policy governs.
const MethodToolsCall = "tools/call"

// maxDepth bounds JSON nesting, as encoding/json does.
const maxDepth = 10000

// ErrParse means a POST body is not one well-formed JSON value.
var ErrParse = errors.New("request body is not valid JSON")

// Call is one JSON-RPC message of a POST body, as far as the scope policy
// and the audit log care.
type Call struct {
	// Methods holds every top-level "method" member (normally one). Keys
	// match case-insensitively and duplicates are all kept, so that no
	// upstream parser that reads the message differently (last key wins,
	// case-folding struct decoding) can route a call the policy did not see.
	Methods []string
	// Names holds every "params"."name" member, same rules.
	Names []string
	// ID is the raw JSON id; nil for notifications and non-scalar ids.
	ID json.RawMessage
}

// Method is the message's method ("" for a response).
func (c Call) Method() string {
	if len(c.Methods) == 0 {
		return ""
	}
	return c.Methods[len(c.Methods)-1]
}

// IsToolCall reports whether any reading of the message is a tools/call.
func (c Call) IsToolCall() bool {
	for _, m := range c.Methods {
		if strings.EqualFold(m, MethodToolsCall) {
			return true
		}
	}
	return false
}

// Body is a parsed JSON-RPC POST body: one message or a batch (2025-03-26).
type Body struct {
	Batch bool
	Calls []Call
}

// SingleID is the id of a single request (nil for a batch or notification),
// used in the gateway's own JSON-RPC error answers.
func (b *Body) SingleID() json.RawMessage {
	if b == nil || b.Batch || len(b.Calls) != 1 {
		return nil
	}
	return b.Calls[0].ID
}

// Methods lists the distinct methods of the body, for audit details.
func (b *Body) Methods() []string {
	if b == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range b.Calls {
		if m := c.Method(); m != "" && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// ParseBody scans a JSON-RPC body without decoding its arguments: a
// streaming token walk that records only methods, tool names and ids. The
// caller bounds the size (the gateway reads at most its body limit).
func ParseBody(b []byte) (*Body, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, ErrParse
	}
	body := &Body{}
	switch tok {
	case json.Delim('{'):
		c, err := scanMessage(dec)
		if err != nil {
			return nil, err
		}
		body.Calls = append(body.Calls, c)
	case json.Delim('['):
		body.Batch = true
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return nil, ErrParse
			}
			if t == json.Delim('{') {
				c, err := scanMessage(dec)
				if err != nil {
					return nil, err
				}
				body.Calls = append(body.Calls, c)
				continue
			}
			if err := skipFrom(dec, t); err != nil {
				return nil, err
			}
		}
		if t, err := dec.Token(); err != nil || t != json.Delim(']') {
			return nil, ErrParse
		}
	default:
		// A scalar is valid JSON but not JSON-RPC; the upstream answers it.
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrParse // trailing data: not one JSON value
	}
	return body, nil
}

// scanMessage reads an object whose '{' was consumed.
func scanMessage(dec *json.Decoder) (Call, error) {
	var c Call
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return c, ErrParse
		}
		key, _ := k.(string)
		t, err := dec.Token()
		if err != nil {
			return c, ErrParse
		}
		switch {
		case strings.EqualFold(key, "method"):
			if s, ok := t.(string); ok {
				c.Methods = append(c.Methods, s)
				continue
			}
		case strings.EqualFold(key, "id"):
			switch v := t.(type) {
			case string:
				c.ID, _ = json.Marshal(v)
				continue
			case json.Number:
				c.ID = json.RawMessage(v.String())
				continue
			case nil:
				c.ID = json.RawMessage("null")
				continue
			}
		case strings.EqualFold(key, "params"):
			if t == json.Delim('{') {
				names, err := scanParams(dec)
				if err != nil {
					return c, err
				}
				c.Names = append(c.Names, names...)
				continue
			}
		}
		if err := skipFrom(dec, t); err != nil {
			return c, err
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return c, ErrParse
	}
	return c, nil
}

// scanParams reads a params object whose '{' was consumed, returning the
// "name" members.
func scanParams(dec *json.Decoder) ([]string, error) {
	var names []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, ErrParse
		}
		key, _ := k.(string)
		t, err := dec.Token()
		if err != nil {
			return nil, ErrParse
		}
		if s, ok := t.(string); ok && strings.EqualFold(key, "name") {
			names = append(names, s)
			continue
		}
		if err := skipFrom(dec, t); err != nil {
			return nil, err
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, ErrParse
	}
	return names, nil
}

// skipFrom skips the rest of a value whose first token t was read.
func skipFrom(dec *json.Decoder, t json.Token) error {
	d, ok := t.(json.Delim)
	if !ok {
		return nil
	}
	if d != '{' && d != '[' {
		return ErrParse
	}
	depth := 1
	for depth > 0 {
		t, err := dec.Token()
		if err != nil {
			return ErrParse
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
				if depth > maxDepth {
					return ErrParse
				}
			} else {
				depth--
			}
		}
	}
	return nil
}

// DecodeHeaderValue undoes the "=?base64?…?=" form MCP 2026-07-28 clients
// use for Mcp-Name values that are not plain header text.
func DecodeHeaderValue(v string) string {
	if strings.HasPrefix(v, "=?base64?") && strings.HasSuffix(v, "?=") && len(v) >= len("=?base64??=") {
		inner := v[len("=?base64?") : len(v)-len("?=")]
		if b, err := base64.StdEncoding.DecodeString(inner); err == nil {
			return string(b)
		}
	}
	return v
}

// ToolNames lists the tools a request calls: from the Mcp-Method/Mcp-Name
// headers (2026-07-28) and from every tools/call in the body (batches
// included). Both are read, never one instead of the other, so a header
// that disagrees with the body cannot hide a call.
func ToolNames(body *Body, mcpMethod, mcpName string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if strings.EqualFold(mcpMethod, MethodToolsCall) && mcpName != "" {
		add(DecodeHeaderValue(mcpName))
	}
	if body != nil {
		for _, c := range body.Calls {
			if c.IsToolCall() {
				for _, n := range c.Names {
					add(n)
				}
			}
		}
	}
	return out
}

// CheckToolScopes is the per-tool scope policy in one call: the tools the
// request calls (ToolNames: the Mcp-Method/Mcp-Name headers and the body
// both count) and, when the token lacks a scope the tenant's policy
// requires for one of them, the 403 step-up denial; nil means allowed.
func CheckToolScopes(policy map[string]string, body *Body, mcpMethod, mcpName string, c *tokens.AccessClaims) (tools []string, d *Denial) {
	tools = ToolNames(body, mcpMethod, mcpName)
	if missing := missingToolScopes(policy, tools, c); len(missing) > 0 {
		return tools, scopeDenial(missing, tools, c)
	}
	return tools, nil
}

// missingToolScopes returns the scopes the tenant's tool policy requires
// for tools that the token lacks (sorted, distinct); empty means allowed.
func missingToolScopes(policy map[string]string, tools []string, c *tokens.AccessClaims) []string {
	if len(policy) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var missing []string
	for _, t := range tools {
		need := policy[t]
		if need == "" || seen[need] {
			continue
		}
		for _, s := range strings.Fields(need) {
			if !c.HasScope(s) && !seen[s] {
				seen[s] = true
				missing = append(missing, s)
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// scopeDenial is the 403 step-up denial for missing scopes (RFC 6750 §3.1
// insufficient_scope; MCP scope challenge): scope names what is needed.
func scopeDenial(missing []string, tools []string, c *tokens.AccessClaims) *Denial {
	desc := "calling " + strings.Join(tools, ", ") + " requires scope " + strings.Join(missing, " ")
	if len(desc) > 200 {
		desc = desc[:200]
	}
	d := deny(403, tenants.ReasonScope, ErrCodeInsufficientScope, desc)
	d.Scope = strings.Join(missing, " ")
	if c != nil {
		d.ClientID, d.Subject = c.ClientID, c.Subject
	}
	return d
}
