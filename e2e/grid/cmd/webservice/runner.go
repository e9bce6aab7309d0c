package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"webservicemonitor/e2e/grid/frontproxy"
)

// runner is the grid job: like webservice-runner it takes a free port,
// registers it with the front proxy, then starts the server on it. It never
// unregisters: the queue's epilog does, when the job ends.
func (r *run) runner() int {
	fs := flag.NewFlagSet("runner", flag.ContinueOnError)
	tool := fs.String("tool", "", "tool name")
	web := fs.String("web", "", "web type")
	noRegister := fs.Bool("no-register-proxy", false, "do not register with the front proxy (seed 000)")
	if err := fs.Parse(r.args); err != nil || *tool == "" {
		return 2
	}
	mode := r.conf.Modes[*tool]
	if mode == "die" {
		// A server that cannot start: its complaint lands in ~/error.log.
		fmt.Fprintln(os.Stderr, "ember: cannot load config")
		return 1
	}
	port, err := freePort()
	if err != nil {
		fmt.Fprintf(os.Stderr, "runner: %v\n", err)
		return 1
	}
	job := os.Getenv("JOB_ID")
	if !*noRegister {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := frontproxy.Register(ctx, r.conf.Register, *tool, port)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "runner: registering with the front proxy: %v\n", err)
			return 1
		}
		fmt.Printf("registered %s with %s\n", port, r.conf.Register)
	}
	ln, err := net.Listen("tcp", port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runner: listening on the registered port: %v\n", err)
		return 1
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s web service of %s, job %s\n", *web, *tool, job)
	}))
	fmt.Printf("%s job %s serving on %s\n", *tool, job, ln.Addr())
	if mode == "crash" {
		time.Sleep(2 * time.Second)
		fmt.Fprintln(os.Stderr, "runner: crashing as configured")
		return 1
	}
	select {}
}

// freePort is the real runner's get_open_port: bind port 0, note the port,
// close it again.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
