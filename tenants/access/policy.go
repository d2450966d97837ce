package access

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

// MethodToolsCall is the JSON-RPC method the per-tool scope policy governs.
const MethodToolsCall = "tools/call"

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

// ParseBody reads a JSON-RPC body without decoding its arguments: after
// json.Valid (which also bounds nesting, as encoding/json does) a byte walk
// records only methods, tool names and ids. A json.Decoder token walk did
// the same at four times the cost (an error value allocated per scalar
// token: a tenth of the gateway's allocations). The caller bounds the size
// (the gateway reads at most its body limit). The ids may share b's memory.
func ParseBody(b []byte) (*Body, error) {
	if !json.Valid(b) {
		return nil, ErrParse
	}
	s := &bodyScanner{b: b}
	body := &Body{}
	switch s.next() {
	case '{':
		body.Calls = append(body.Calls, s.message())
	case '[':
		body.Batch = true
		s.i++
		for s.next() != ']' {
			if s.b[s.i] == '{' {
				body.Calls = append(body.Calls, s.message())
			} else {
				s.skip()
			}
			if s.next() == ',' {
				s.i++
			}
		}
	default:
		// A scalar is valid JSON but not JSON-RPC; the upstream answers it.
	}
	return body, nil
}

// bodyScanner walks a body json.Valid accepted, so it checks no syntax.
type bodyScanner struct {
	b []byte
	i int
}

// next skips whitespace and returns the byte there (0 at the end).
func (s *bodyScanner) next() byte {
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// rawString returns the string at s.i with its quotes, undecoded.
func (s *bodyScanner) rawString() []byte {
	start := s.i
	for s.i++; ; s.i++ {
		switch s.b[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return s.b[start:s.i]
		}
	}
}

// plain reports whether a raw string reads as its bytes: no escapes, ASCII.
func plain(raw []byte) bool {
	for _, c := range raw {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// decodeString is a raw string's value, as encoding/json reads it
// (escapes undone, invalid UTF-8 replaced).
func decodeString(raw []byte) string {
	if plain(raw) {
		return string(raw[1 : len(raw)-1])
	}
	var v string
	_ = json.Unmarshal(raw, &v)
	return v
}

// keyIs matches a raw member name case-insensitively (Unicode folding, as
// encoding/json's struct decoding does).
func keyIs(raw []byte, name string) bool {
	if plain(raw) {
		return strings.EqualFold(string(raw[1:len(raw)-1]), name)
	}
	return strings.EqualFold(decodeString(raw), name)
}

// skip passes over the value at s.i.
func (s *bodyScanner) skip() {
	depth := 0
	for {
		switch s.next() {
		case '"':
			s.rawString()
		case '{', '[':
			depth++
			s.i++
		case '}', ']':
			depth--
			s.i++
		case ',', ':':
			s.i++
			continue
		default: // number, true, false, null
			for s.i < len(s.b) && strings.IndexByte("0123456789+-.eEtrufalsn", s.b[s.i]) >= 0 {
				s.i++
			}
		}
		if depth == 0 {
			return
		}
	}
}

// members calls member with each member name of the object at s.i, the
// value next; member must consume the value.
func (s *bodyScanner) members(member func(key []byte)) {
	s.i++ // {
	for s.next() != '}' {
		key := s.rawString()
		s.next()
		s.i++ // :
		s.next()
		member(key)
		if s.next() == ',' {
			s.i++
		}
	}
	s.i++ // }
}

// message reads the object at s.i as a JSON-RPC message.
func (s *bodyScanner) message() Call {
	var c Call
	s.members(func(key []byte) {
		v := s.b[s.i]
		switch {
		case v == '"' && keyIs(key, "method"):
			c.Methods = append(c.Methods, decodeString(s.rawString()))
			return
		case keyIs(key, "id") && v != '{' && v != '[' && v != 't' && v != 'f':
			start := s.i
			s.skip()
			c.ID = json.RawMessage(s.b[start:s.i])
			if v == '"' && (!plain(c.ID) || bytes.ContainsAny(c.ID, "<>&")) {
				// The id as encoding/json writes it back.
				c.ID, _ = json.Marshal(decodeString(c.ID))
			}
			return
		case v == '{' && keyIs(key, "params"):
			s.members(func(key []byte) {
				if s.b[s.i] == '"' && keyIs(key, "name") {
					c.Names = append(c.Names, decodeString(s.rawString()))
					return
				}
				s.skip()
			})
			return
		}
		s.skip()
	})
	return c
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
