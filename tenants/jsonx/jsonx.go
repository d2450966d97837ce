// Package jsonx holds the JSON helpers the domain uses that know nothing of
// the domain: strict decoding with errors that name the field, and RFC 7396
// merge patch. tenants.DecodeStrict turns a FieldError into a field of a
// validation error.
package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// DecodeStrict decodes one JSON value from data into v: unknown object
// fields, wrong types and trailing data are errors. A problem of one field
// comes back as a *FieldError, malformed JSON as a *SyntaxError.
func DecodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if fe, ok := fieldError(err); ok {
			return fe
		}
		return &SyntaxError{Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &SyntaxError{Err: errors.New("unexpected data after the JSON value")}
	}
	return nil
}

// FieldError is a decode problem of one field.
type FieldError struct {
	// Field is the dotted path encoding/json names ("" for the whole value).
	Field string
	// Unknown: the field is not one the value has.
	Unknown bool
	Detail  string
}

func (e *FieldError) Error() string { return e.Field + " " + e.Detail }

// SyntaxError is malformed JSON (not a problem of one field).
type SyntaxError struct{ Err error }

func (e *SyntaxError) Error() string {
	var se *json.SyntaxError
	if errors.As(e.Err, &se) {
		return fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, se.Error())
	}
	if errors.Is(e.Err, io.EOF) || errors.Is(e.Err, io.ErrUnexpectedEOF) {
		return "the JSON value is empty or truncated"
	}
	return e.Err.Error()
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// fieldError turns an encoding/json decode error about one field (wrong
// type, unknown field) into a FieldError.
func fieldError(err error) (*FieldError, bool) {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &FieldError{Field: te.Field, Detail: fmt.Sprintf("must be %s, not %s", typeName(te.Type), te.Value)}, true
	}
	if msg := err.Error(); strings.HasPrefix(msg, `json: unknown field "`) {
		name := strings.TrimSuffix(strings.TrimPrefix(msg, `json: unknown field "`), `"`)
		return &FieldError{Field: name, Unknown: true, Detail: "is not a known field"}, true
	}
	return nil, false
}

// typeName says a Go type as the JSON type a client must send.
func typeName(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}

// MergePatch applies an RFC 7396 JSON merge patch to a JSON document.
func MergePatch(target, patch json.RawMessage) (json.RawMessage, error) {
	var p any
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, err
	}
	var t any
	if len(bytes.TrimSpace(target)) > 0 {
		if err := json.Unmarshal(target, &t); err != nil {
			return nil, err
		}
	}
	return json.Marshal(mergeValue(t, p))
}

// mergeValue is RFC 7396 §2 MergePatch(Target, Patch).
func mergeValue(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
		} else {
			tm[k] = mergeValue(tm[k], v)
		}
	}
	return tm
}
