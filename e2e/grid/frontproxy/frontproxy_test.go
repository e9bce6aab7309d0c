package frontproxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func register(t *testing.T, s *Server, line string) (net.Conn, string) {
	t.Helper()
	conn, err := net.Dial("tcp", s.RegisterAddr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, line); err != nil {
		t.Fatal(err)
	}
	reply, _ := bufio.NewReader(conn).ReadString('\n')
	return conn, strings.TrimSpace(reply)
}

func list(t *testing.T, s *Server, timeout time.Duration) (int, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.ListAddr+"/list", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func TestRouteOutlivesItsConnectionUntilUnregistered(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	conn, reply := register(t, s, "register mytool 127.0.0.1:4321\n")
	if reply != "ok" {
		t.Fatalf("reply %q", reply)
	}
	// The proxy closes the connection after its answer; the route stays.
	if n, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the answer: read %d, %v; want EOF", n, err)
	}
	conn.Close()
	if _, body, _ := list(t, s, time.Second); strings.TrimSpace(body) != `{"mytool":{"status":"active"}}` {
		t.Errorf("/list = %q", body)
	}
	if r := s.Registered()["mytool"]; r.Backend != "127.0.0.1:4321" {
		t.Errorf("registration %+v", r)
	}

	// A new registration of the tool replaces the old route.
	if err := Register(context.Background(), s.RegisterAddr, "mytool", "127.0.0.1:4322"); err != nil {
		t.Fatal(err)
	}
	if r := s.Registered()["mytool"]; r.Backend != "127.0.0.1:4322" || len(s.Registered()) != 1 {
		t.Errorf("after re-registering: %+v", s.Registered())
	}

	// The epilog's unregister removes it, and is harmless when repeated.
	for i := 0; i < 2; i++ {
		if err := Unregister(context.Background(), s.RegisterAddr, "mytool"); err != nil {
			t.Fatalf("unregister %d: %v", i+1, err)
		}
	}
	if _, body, _ := list(t, s, time.Second); strings.TrimSpace(body) != `{}` {
		t.Errorf("/list after unregister = %q", body)
	}
}

func TestForgetDropsARouteUntilTheNextRegistration(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, tool := range []string{"mytool", "other"} {
		if err := Register(ctx, s.RegisterAddr, tool, "127.0.0.1:4321"); err != nil {
			t.Fatal(err)
		}
	}
	s.Forget("mytool")
	if _, body, _ := list(t, s, time.Second); strings.TrimSpace(body) != `{"other":{"status":"active"}}` {
		t.Errorf("/list after Forget = %q", body)
	}
	if err := Register(ctx, s.RegisterAddr, "mytool", "127.0.0.1:4323"); err != nil {
		t.Fatal(err)
	}
	if r := s.Registered()["mytool"]; r.Backend != "127.0.0.1:4323" {
		t.Errorf("after registering again: %+v", s.Registered())
	}
}

func TestBadRegistrationsAreRefused(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, line := range []string{"hello\n", "register ../etc 127.0.0.1:1\n", "register tool nowhere\n",
		"register a b c\n", "register tool\n", "unregister\n", "unregister ../etc\n", "unregister a b\n"} {
		conn, reply := register(t, s, line)
		conn.Close()
		if !strings.HasPrefix(reply, "error:") {
			t.Errorf("%q: reply %q, want an error", line, reply)
		}
	}
	if n := len(s.Registered()); n != 0 {
		t.Errorf("%d registrations", n)
	}
	err = Register(context.Background(), s.RegisterAddr, "tool", "nowhere")
	if err == nil || !strings.Contains(err.Error(), `the front proxy answered "error: bad backend`) {
		t.Errorf("Register with a bad backend: %v", err)
	}
}

func TestListModes(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, _ := register(t, s, "register mytool 127.0.0.1:4321\n")
	defer conn.Close()

	tests := []struct {
		mode       Mode
		wantStatus int
		wantBody   string
		wantErr    bool
	}{
		{ModeNormal, 200, `{"mytool":{"status":"active"}}`, false},
		{ModeEmpty, 200, `{}`, false},
		{ModeError, 500, "redis: connection refused", false},
		{ModeGarbage, 200, "<html><body><h1>502 Bad Gateway</h1><hr>nginx/1.13.6</body></html>", false},
		{ModeEmptyBody, 200, "", false},
		{ModeHang, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			s.SetMode(tt.mode)
			status, body, err := list(t, s, 300*time.Millisecond)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if status != tt.wantStatus || strings.TrimSpace(body) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	s.Reset()
	if _, body, _ := list(t, s, time.Second); !strings.Contains(body, "mytool") {
		t.Errorf("after Reset: %q", body)
	}
	if s.ListRequests() != len(tests)+1 {
		t.Errorf("%d list requests counted, want %d", s.ListRequests(), len(tests)+1)
	}
}
