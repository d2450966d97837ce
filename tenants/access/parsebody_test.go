package access

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseBodyMatchesDecoder: the byte walk of ParseBody reads every body
// exactly as the json.Decoder token walk it replaced (kept below as the
// reference): same acceptance, methods, tool names and ids.
func FuzzParseBodyMatchesDecoder(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_repo"}}`,
		`[{"jsonrpc":"2.0","id":"a<b","method":"tools/call","params":{"name":"a"}},{"method":"tools/call","params":{"name":"b"}}, 5, [1,{"x":2}], null]`,
		`{"method":"tools/list","METHOD":"tools/call","params":{"name":"x","Name":"y"}}`,
		`{"me\u0074hod":"tools/call","paramſ":{"na\u006de":"x\ud83d\ude00"},"id":"\u00e9"}`,
		`{"method":"tools/call","params":{"arguments":{"name":"z"},"name":"x"}}`,
		`{"id":-1.5e3,"id":true,"method":7,"params":[{"name":"x"}]}`,
		`{"id":null} `, `"scalar"`, `[]`, `{}`, ` [ {} , {"id" : "x" } ] `, `{"a":1}x`, `{"a":}`, ``, `[1,]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gotErr := ParseBody(b)
		want, wantErr := parseBodyDecoder(b)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, the decoder's %v", b, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got  %#v\n want %#v", b, got, want)
		}
	})
}

// BenchmarkParseBody: a tools/call body through ParseBody and through the
// decoder walk it replaced.
func BenchmarkParseBody(b *testing.B) {
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi","n":[1,2,3]}}}`)
	for _, c := range []struct {
		name  string
		parse func([]byte) (*Body, error)
	}{{"bytes", ParseBody}, {"decoder", parseBodyDecoder}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.parse(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// parseBodyDecoder is the json.Decoder token walk ParseBody replaced: it scans a JSON-RPC body without decoding its arguments: a
// streaming token walk that records only methods, tool names and ids. The
// caller bounds the size (the gateway reads at most its body limit).
func parseBodyDecoder(b []byte) (*Body, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, ErrParse
	}
	body := &Body{}
	switch tok {
	case json.Delim('{'):
		c, err := decoderMessage(dec)
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
				c, err := decoderMessage(dec)
				if err != nil {
					return nil, err
				}
				body.Calls = append(body.Calls, c)
				continue
			}
			if err := decoderSkip(dec, t); err != nil {
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

// decoderMessage reads an object whose '{' was consumed.
func decoderMessage(dec *json.Decoder) (Call, error) {
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
				names, err := decoderParams(dec)
				if err != nil {
					return c, err
				}
				c.Names = append(c.Names, names...)
				continue
			}
		}
		if err := decoderSkip(dec, t); err != nil {
			return c, err
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return c, ErrParse
	}
	return c, nil
}

// decoderParams reads a params object whose '{' was consumed, returning the
// "name" members.
func decoderParams(dec *json.Decoder) ([]string, error) {
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
		if err := decoderSkip(dec, t); err != nil {
			return nil, err
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, ErrParse
	}
	return names, nil
}

// decoderSkip skips the rest of a value whose first token t was read.
func decoderSkip(dec *json.Decoder, t json.Token) error {
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
				if depth > 10000 {
					return ErrParse
				}
			} else {
				depth--
			}
		}
	}
	return nil
}
