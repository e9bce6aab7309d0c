package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	retryablehttp "github.com/hashicorp/go-retryablehttp"

	"webservicemonitor/internal/retryhttp"
	"webservicemonitor/internal/sanitize"
)

// Client pushes alerts to one Alertmanager.
type Client struct {
	// Name identifies the Alertmanager in logs, errors and the
	// alertmanager metric label: its URL as sanitize.URL shows it, without
	// credentials or query values.
	Name    string
	url     string // .../api/v2/alerts
	timeout time.Duration
	retries int
	http    *http.Client
}

// DefaultRetries is how often a failed push is retried inside its deadline:
// a few quick retries. A push that still fails is not retried here: the next
// cycle sends again.
const DefaultRetries = 3

const (
	// errorBodyShown is how much of a refusal's body goes into the error:
	// enough for Alertmanager's complaint, not enough to flood a log line.
	errorBodyShown = 256
	// statusShown bounds the status line quoted in an error.
	statusShown = 64
	// drainedBody is how much of an accepted push's answer is read so the
	// connection can be reused; Alertmanager answers with next to nothing.
	drainedBody = 64 << 10

	// dialTimeout and handshakeTimeout bound connecting, so a dead
	// Alertmanager cannot eat the whole push deadline before a retry.
	dialTimeout      = 5 * time.Second
	handshakeTimeout = 5 * time.Second
	// idleTimeout closes the kept connection when cycles stop coming.
	idleTimeout = 90 * time.Second
)

// NewClient returns a client for the Alertmanager at base (its root URL,
// e.g. http://127.0.0.1:9093). timeout bounds one push, retries included,
// and must be greater than 0; retries of 0 (or less) means none.
func NewClient(base string, timeout time.Duration, retries int) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("alertmanager URL %q is not an http(s) URL", sanitize.URL(base))
	}
	name := sanitize.URL(u.String())
	if timeout <= 0 {
		return nil, fmt.Errorf("alertmanager %s: the push deadline must be greater than 0, got %s", name, timeout)
	}
	return &Client{
		Name:    name,
		url:     u.JoinPath("api", "v2", "alerts").String(),
		timeout: timeout,
		retries: retries,
		http: &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: dialTimeout}).DialContext,
			TLSHandshakeTimeout:   handshakeTimeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   1,
			IdleConnTimeout:       idleTimeout,
		}},
	}, nil
}

// Post sends alerts in one request (API v2, POST /api/v2/alerts), retrying
// connection errors and 5xx answers with a short backoff, all within the
// client's deadline.
func (c *Client) Post(ctx context.Context, alerts []Alert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return fmt.Errorf("encoding %d alert(s) for Alertmanager %s: %w", len(alerts), c.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, c.url, body)
	if err != nil {
		return fmt.Errorf("building request to Alertmanager %s: %w", c.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, attempts, err := retryhttp.Do(c.http, req, c.retries)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w (deadline %s)", err, c.timeout)
		}
		return fmt.Errorf("pushing %d alert(s) to Alertmanager %s after %d attempt(s): %w", len(alerts), c.Name, attempts, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		// What the server says reaches logs and alerts: one line, bounded.
		prefix, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyShown))
		return fmt.Errorf("pushing %d alert(s) to Alertmanager %s: HTTP status %s after %d attempt(s): %s",
			len(alerts), c.Name, sanitize.Text(resp.Status, statusShown), attempts, sanitize.Text(string(prefix), errorBodyShown))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainedBody)) // lets the connection be reused
	return nil
}
