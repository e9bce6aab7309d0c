package rig

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestWebhookRecordsNotificationsInOrder(t *testing.T) {
	h := NewWebhook(t)
	for _, body := range []string{
		`{"alerts":[{"status":"firing","labels":{"alertname":"A","tool":"x"}},{"status":"firing","labels":{"alertname":"B"}}]}`,
		`{"alerts":[{"status":"resolved","labels":{"alertname":"A","tool":"x"}}]}`,
	} {
		resp, err := http.Post(h.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Post(h.URL, "application/json", strings.NewReader("not json"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a notification that is not JSON: HTTP %d, want 400", resp.StatusCode)
	}
	for _, tt := range []struct {
		label, value string
		want         []string
	}{
		{"alertname", "A", []string{"firing", "resolved"}},
		{"tool", "x", []string{"firing", "resolved"}},
		{"alertname", "B", []string{"firing"}},
		{"alertname", "C", nil},
	} {
		if got := h.Seen(tt.label, tt.value); !slices.Equal(got, tt.want) {
			t.Errorf("Seen(%s=%s) = %v, want %v", tt.label, tt.value, got, tt.want)
		}
	}
	if n := len(h.Notified()); n != 3 {
		t.Errorf("%d alerts notified, want 3", n)
	}
}

func TestNamed(t *testing.T) {
	alerts := []AMAlert{
		{Labels: map[string]string{"alertname": "A", "tool": "x"}},
		{Labels: map[string]string{"alertname": "B"}},
		{Labels: map[string]string{"alertname": "A", "tool": "y"}},
		{Labels: map[string]string{"tool": "z"}},
	}
	for _, tt := range []struct {
		name  string
		tools []string
	}{
		{"A", []string{"x", "y"}},
		{"B", []string{""}},
		{"C", nil},
	} {
		var tools []string
		for _, a := range Named(alerts, tt.name) {
			tools = append(tools, a.Labels["tool"])
		}
		if !slices.Equal(tools, tt.tools) {
			t.Errorf("Named(%s): tools %q, want %q", tt.name, tools, tt.tools)
		}
	}
}

func TestGetJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`[{"labels":{"alertname":"A"}}]`))
		case "/garbage":
			w.Write([]byte(`{`))
		default:
			http.Error(w, "no such page", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	for _, tt := range []struct {
		path, wantErr string
	}{
		{"/ok", ""},
		{"/garbage", "decoding GET"},
		{"/missing", "HTTP 404"},
	} {
		var got []AMAlert
		err := GetJSON(srv.URL+tt.path, &got)
		switch {
		case tt.wantErr == "" && (err != nil || len(got) != 1 || got[0].Labels["alertname"] != "A"):
			t.Errorf("GET %s: %+v, %v", tt.path, got, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("GET %s: error %v, want one with %q", tt.path, err, tt.wantErr)
		}
	}
	if ok, detail := Ready(srv.URL + "/missing")(); ok || !strings.Contains(detail, "HTTP 404") {
		t.Errorf("Ready of a 404: %v %q", ok, detail)
	}
	if ok, _ := Ready(srv.URL + "/ok")(); !ok {
		t.Errorf("Ready of a 200: false")
	}
}
