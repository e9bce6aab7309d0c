// Package retryhttp is the one place the supervisor's HTTP calls (the proxy
// list, Alertmanager pushes) get their retries: go-retryablehttp set up once,
// the same way for every caller.
//
// It owns the retry policy — bounded retries, a short exponential backoff
// that a Retry-After header cannot stretch past the caller's deadline, no
// per-attempt logging (callers log the outcome once), the last response
// handed back so an error can quote its status, the URL in an error shown
// without credentials or query values — and never decides what a response
// means.
package retryhttp

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"webservicemonitor/internal/sanitize"
)

// The wait before the n-th retry is WaitMin·2^(n-1), at most WaitMax, with
// no jitter: each caller makes one request a cycle, so there is no herd to
// spread. The numbers are small beside the callers' deadlines (10 s by
// default): the proxy's two retries wait 0.6 s in all, Alertmanager's three
// 1.4 s, leaving the deadline to the attempts themselves.
const (
	WaitMin = 200 * time.Millisecond
	WaitMax = 2 * time.Second
)

// Do sends req through hc, retrying connection errors and 5xx answers up to
// retries times within req's context; 0 (or less) means one attempt only.
// It returns the last response (the caller closes its body) and how many
// attempts were made. The URL net/http puts in an error (a *url.Error) is
// shown as sanitize.URL shows it: callers log and alert with these errors.
func Do(hc *http.Client, req *retryablehttp.Request, retries int) (*http.Response, int, error) {
	attempts := 0
	client := &retryablehttp.Client{
		HTTPClient:   hc,
		Logger:       nil,
		RetryWaitMin: WaitMin,
		RetryWaitMax: WaitMax,
		RetryMax:     max(retries, 0),
		CheckRetry:   retryablehttp.DefaultRetryPolicy,
		Backoff:      cappedBackoff,
		// Hand back the last response after the retries so the error can
		// quote its status and body instead of "giving up after 3 attempts".
		ErrorHandler:   retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(retryablehttp.Logger, *http.Request, int) { attempts++ },
	}
	resp, err := client.Do(req)
	if err != nil && resp != nil {
		resp.Body.Close()
		resp = nil
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		urlErr.URL = sanitize.URL(urlErr.URL) // this request's own error: ours to change
	}
	return resp, attempts, err
}

// cappedBackoff is retryablehttp's exponential backoff, except that a
// Retry-After header cannot ask for more than max: the caller's deadline
// would only expire while we sleep.
func cappedBackoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	return clamp(retryablehttp.DefaultBackoff(min, max, attempt, resp), min, max)
}

func clamp(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}
