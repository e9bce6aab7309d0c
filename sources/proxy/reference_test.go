package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// decodeListReference is the /list decoder as it was before the streaming
// one: encoding/json's Decoder, every value decoded whole. It is the
// reference the streaming decoder is fuzzed against: both must accept the
// same bodies and read the same statuses from them (once the reference's
// result is bounded as the streaming one's is, see boundedReference).
func decodeListReference(body []byte) (map[string]Registration, error) {
	return decodeObjectReference(json.NewDecoder(bytes.NewReader(body)))
}

func decodeObjectReference(dec *json.Decoder) (map[string]Registration, error) {
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty body, expected a JSON object")
	}
	if err != nil {
		return nil, fmt.Errorf("decoding JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("body is %s, expected a JSON object keyed by tool name", describeTokenReference(tok))
	}
	regs := make(map[string]Registration)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("decoding JSON: %w", err)
		}
		tool, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("decoding JSON: unexpected key token %v", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("decoding JSON value of tool %q: %w", tool, err)
		}
		if len(raw) == 0 || raw[0] != '{' {
			return nil, fmt.Errorf("value of tool %q is %s, expected an object like {\"status\": \"active\"}", tool, describeRawReference(raw))
		}
		var reg Registration
		if err := json.Unmarshal(raw, &reg); err != nil {
			return nil, fmt.Errorf("decoding value of tool %q: %w", tool, err)
		}
		regs[tool] = reg
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("decoding JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			return nil, errors.New("decoding JSON: trailing data after the object")
		}
		return nil, fmt.Errorf("decoding JSON after the object: %w", err)
	}
	return regs, nil
}

func describeTokenReference(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "a JSON array"
		}
		return fmt.Sprintf("%q", string(v))
	case nil:
		return "JSON null"
	case string:
		return "a JSON string"
	case bool:
		return "a JSON boolean"
	case float64, json.Number:
		return "a JSON number"
	}
	return fmt.Sprintf("%T", tok)
}

func describeRawReference(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}
