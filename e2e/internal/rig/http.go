package rig

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Get fetches a URL with a 5 s deadline, returning the status and up to
// 32 MiB of body.
func Get(rawURL string) (int, []byte, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(rawURL)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("reading GET %s: %w", rawURL, err)
	}
	return resp.StatusCode, body, nil
}

// GetJSON fetches a URL that must answer 200 and decodes its JSON into v.
func GetJSON(rawURL string, v any) error {
	code, body, err := Get(rawURL)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %.200s", rawURL, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decoding GET %s: %w", rawURL, err)
	}
	return nil
}
