// Package proxy reads the front proxy's registration list: which host is the
// active proxy (from the active-proxy file, re-read every cycle because it
// changes at failover) and which tools are registered with it (its /list JSON).
//
// It owns only that collection step. It never decides whether a tool is up or
// down, and it never returns a partial list: a Fetch either yields the complete
// registry or an error, and an error means "don't know", never "nobody is
// registered".
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"webservicemonitor/internal/retryhttp"
	"webservicemonitor/internal/sanitize"
)

const (
	// maxListBody caps the /list body: about 40 bytes a tool, so room for
	// hundreds of thousands of tools, and no more memory than that however
	// much a broken proxy sends.
	maxListBody = 32 << 20

	// maxActiveProxyFile bounds the read of the active-proxy file, which
	// holds one host name; anything larger is not what we expect.
	maxActiveProxyFile = 4 << 10

	// errorBodyPrefix is how much of a non-200 body goes into the error:
	// enough to see the proxy's complaint, not enough to flood a log line.
	errorBodyPrefix = 256
	// statusShown bounds the status line quoted in an error.
	statusShown = 64

	// dialTimeout bounds connecting to the proxy, so one unreachable
	// address cannot eat the whole Timeout before a retry.
	dialTimeout = 5 * time.Second

	// maxResponseHeader bounds the headers of the answer: /list sends a
	// few; anything near this is not the proxy.
	maxResponseHeader = 64 << 10
)

// proxyHostPattern accepts a host name or IPv4 address with an optional
// numeric port. Nothing that could change the URL's shape (slashes, '@',
// '?', '#', spaces, brackets) gets through, since the host is spliced into
// URLTemplate as text.
var proxyHostPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?$`)

// Source fetches the proxy registry. Its settings have no defaults here (the
// daemon's configuration holds them): a zero Timeout is refused, and zero
// Retries means no retry.
type Source struct {
	// ActiveProxyFile holds the active proxy's host name; empty content
	// switches registration checking off.
	ActiveProxyFile string
	// URLTemplate is the list URL with "{proxy}" where the host goes,
	// e.g. "http://{proxy}:8081/list".
	URLTemplate string
	// Timeout is the total deadline for one Fetch, all retries included;
	// it must be greater than 0.
	Timeout time.Duration
	// Retries is how many times a failed request is retried; 0 (or less):
	// never.
	Retries int
	// HTTPClient, when set, carries the requests (tests use it); otherwise
	// each Fetch uses its own short-lived client without keep-alives.
	HTTPClient *http.Client
}

// Fetch reads the active-proxy file and, unless it is empty, fetches the
// proxy's complete registration list.
func (s *Source) Fetch(ctx context.Context) (Snapshot, error) {
	host, err := readActiveProxy(s.ActiveProxyFile)
	if err != nil {
		return Snapshot{}, err
	}
	if host == "" {
		return Snapshot{Enabled: false}, nil
	}
	if !strings.Contains(s.URLTemplate, "{proxy}") {
		return Snapshot{}, fmt.Errorf("proxy list URL template %q has no {proxy} placeholder", sanitize.URL(s.URLTemplate))
	}
	url := strings.ReplaceAll(s.URLTemplate, "{proxy}", host)
	shown := sanitize.URL(url) // errors are logged and alerted: no credentials or query values

	if s.Timeout <= 0 {
		return Snapshot{}, fmt.Errorf("fetching proxy list from %s: the deadline (Timeout) must be greater than 0, got %s", shown, s.Timeout)
	}

	// One deadline covers connecting, every retry with its backoff, and
	// reading the body: a proxy that accepts and never answers, or stalls
	// mid-body, cannot hold the cycle longer than this.
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()

	l, err := s.fetchList(ctx, url, maxListBody)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// Timeouts surface from net/http as assorted read errors; say plainly which deadline passed.
			err = fmt.Errorf("%w (total deadline %s)", err, s.Timeout)
		}
		return Snapshot{}, fmt.Errorf("fetching proxy list from %s: %w", shown, err)
	}
	return Snapshot{Proxy: host, Enabled: true, Registrations: l.regs, Dropped: l.dropped}, nil
}

func (s *Source) fetchList(ctx context.Context, url string, maxBody int64) (list, error) {
	httpClient := s.HTTPClient
	if httpClient == nil {
		httpClient = newHTTPClient()
		defer httpClient.CloseIdleConnections()
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return list{}, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")

	resp, attempts, err := retryhttp.Do(httpClient, req, s.Retries)
	if err != nil {
		return list{}, fmt.Errorf("after %d attempt(s): %w", attempts, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		// What the proxy says reaches logs and alerts: one line, bounded.
		prefix, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyPrefix))
		return list{}, fmt.Errorf("HTTP status %s after %d attempt(s), body starts %q",
			sanitize.Text(resp.Status, statusShown), attempts, sanitize.Text(string(prefix), errorBodyPrefix))
	}
	return decodeList(resp.Body, maxBody)
}

// newHTTPClient builds a client for one Fetch. It ignores HTTP_PROXY and
// friends on purpose: the front proxy is an internal host that an egress
// proxy configured for the daemon's outbound traffic could not reach.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            (&net.Dialer{Timeout: dialTimeout}).DialContext,
			DisableKeepAlives:      true, // one request a minute: nothing to reuse, nothing to leak
			MaxResponseHeaderBytes: maxResponseHeader,
		},
	}
}

// readActiveProxy returns the trimmed host from path, "" when the file is
// empty. It refuses anything but a regular file, so that a FIFO put there by
// mistake cannot block the cycle.
func readActiveProxy(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("reading active proxy file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("reading active proxy file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("reading active proxy file %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxActiveProxyFile+1))
	if err != nil {
		return "", fmt.Errorf("reading active proxy file %s: %w", path, err)
	}
	if len(raw) > maxActiveProxyFile {
		return "", fmt.Errorf("reading active proxy file %s: larger than %d bytes, expected one host name", path, maxActiveProxyFile)
	}
	host := string(bytes.TrimSpace(raw))
	if host == "" {
		return "", nil
	}
	if !validProxyHost(host) {
		return "", fmt.Errorf("active proxy file %s: %q is not a host name or IPv4 address (optionally with :port)", path, host)
	}
	return host, nil
}

func validProxyHost(host string) bool {
	if !proxyHostPattern.MatchString(host) {
		return false
	}
	name, port, hasPort := strings.Cut(host, ":")
	if strings.Contains(name, "..") {
		return false
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return true
}
