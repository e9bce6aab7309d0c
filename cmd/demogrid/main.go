// Command demogrid is the built-in demo platform for webservicemonitor: it
// plays qstat and webservice against a fake grid kept in a JSON file, and
// `demogrid run` lays out a demo platform, serves the fake proxy /list on
// loopback and runs the real supervisor against it for a few cycles.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"webservicemonitor/internal/demo"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: demogrid run|qstat|qstat-job|qdel|webservice [flags]")
		return 2
	}
	fs := flag.NewFlagSet("demogrid "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	gridDir := fs.String("grid", "", "demo grid directory")
	tool := fs.String("tool", "", "tool name (webservice)")
	web := fs.String("web", "", "web type (webservice)")
	fs.String("release", "", "grid release (webservice; accepted and ignored)")
	fs.String("u", "", "user (qstat; accepted for the real command line)")
	owner := fs.String("owner", "", "the account deleting the job (qdel), as sudo -u would make it")
	fs.Bool("xml", false, "XML output (qstat; always on)")
	wait := fs.Duration("wait", time.Minute, "the longest wait for one step of the demo's story (run)")
	keep := fs.Bool("keep", false, "keep the demo directory (run)")
	monitorBin := fs.String("monitor", "", "webservicemonitor binary (run; default: next to demogrid)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	store := demo.Store{Dir: *gridDir}

	switch args[0] {
	case "qstat":
		g, err := store.Load()
		if err != nil {
			fmt.Fprintln(stderr, "error: commlib error: can't connect to service (demo grid:", err, ")")
			return 1
		}
		if err := demo.WriteQstatXML(stdout, g); err != nil {
			return 1
		}
		return 0
	case "qstat-job", "qdel":
		return jobCommand(args[0], store, fs.Arg(0), *owner, stdout, stderr)
	case "webservice":
		if fs.Arg(0) != "restart" || *tool == "" || *web == "" {
			fmt.Fprintln(stderr, "usage: demogrid webservice --grid DIR --tool T --web W restart")
			return 2
		}
		if err := store.Restart(ctx, *tool, *web, time.Now); err != nil {
			fmt.Fprintf(stderr, "webservice: restarting %s-%s: %v\n", *web, *tool, err)
			return 1
		}
		fmt.Fprintf(stdout, "Restarting webservice... started %s-%s\n", *web, *tool)
		return 0
	case "run":
		return runDemo(ctx, *wait, *keep, *monitorBin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "demogrid: unknown command %q\n", args[0])
	return 2
}

// runDemo lays out the demo platform, runs the daemon against it while
// demo-admin tells the story (see story.go), then stops it and shows what
// echo was told and the audit.
func runDemo(ctx context.Context, wait time.Duration, keep bool, monitorBin string, stdout, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "demogrid:", err)
		return 1
	}
	if monitorBin == "" {
		monitorBin = filepath.Join(filepath.Dir(self), "webservicemonitor")
	}
	dir, err := os.MkdirTemp("", "webservicemonitor-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "demogrid:", err)
		return 1
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	world, stopList, err := demo.Start(dir, self, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "demogrid:", err)
		return 1
	}
	defer stopList()

	introduce(stdout, world.ProxyAddr, dir)
	s := &story{ctx: ctx, monitorBin: monitorBin, configFile: world.ConfigFile, dir: dir, grid: world.Grid, wait: wait, out: stdout}
	if err := superviseDuring(s, stdout); err != nil {
		fmt.Fprintln(stderr, "demogrid:", err)
		return 1
	}
	if !showAudit(monitorBin, world.ConfigFile, dir, stdout, stderr) {
		return 1
	}
	if keep {
		fmt.Fprintf(stdout, "demo directory kept: %s\n", dir)
	}
	return 0
}

// superviseDuring runs the daemon while the story is told, then stops it
// with SIGTERM, as systemd would.
func superviseDuring(s *story, stdout io.Writer) error {
	daemon := exec.Command(s.monitorBin, "--config", s.configFile)
	daemon.Stdout, daemon.Stderr = stdout, stdout
	if err := daemon.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.monitorBin, err)
	}
	told := s.tell()
	fmt.Fprintf(stdout, "\n=== SIGTERM: the daemon stops ===\n")
	_ = daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		return errors.Join(told, fmt.Errorf("the daemon exited with %w", err))
	}
	return told
}

// introduce says what the demo is and what each tool shows.
func introduce(stdout io.Writer, addr, dir string) {
	fmt.Fprintf(stdout, "=== DEMO: webservicemonitor against a built-in fake grid ===\n")
	fmt.Fprintf(stdout, "Fake qstat, fake proxy /list on %s and fake webservice, all under %s.\n", addr, dir)
	fmt.Fprintf(stdout, "Nothing real is touched; no root, no grid.\n\nThe demo tools:\n")
	for _, t := range demo.Tools() {
		fmt.Fprintf(stdout, "  %-8s %s\n", t.Name, t.Shows)
	}
	fmt.Fprintf(stdout, "  %-8s registered with the proxy but has no manifest; reported, not touched\n", "india")
	fmt.Fprintf(stdout, "\nThe daemon runs a cycle every 2s. Between its cycles, admin %s pauses restarts\n", demoAdmin)
	fmt.Fprintf(stdout, "for a grid maintenance, looks at the tool it gave up, and forgets that tool's\nfailures once its quota is raised.\n")
	fmt.Fprintf(stdout, "\n=== The daemon starts; its first cycle restarts what is down ===\n")
}

// showAudit prints what echo was told and the read-only audit, and says
// whether the audit's exit status is the expected 1 (foxtrot pending).
func showAudit(monitorBin, configFile, dir string, stdout, stderr io.Writer) bool {
	fmt.Fprintf(stdout, "\n=== What echo was told in its service.log ===\n")
	if log, err := os.ReadFile(filepath.Join(dir, "homes", "echo", "service.log")); err == nil {
		stdout.Write(log)
	}
	fmt.Fprintf(stdout, "\n=== webservicemonitor --dry-run (read-only audit) ===\n")
	audit := exec.Command(monitorBin, "--config", configFile, "--dry-run", "--log-level", "warn")
	audit.Stdout, audit.Stderr = stdout, stdout
	_ = audit.Run() // the exit status is the verdict
	code := audit.ProcessState.ExitCode()
	fmt.Fprintf(stdout, "\naudit exit status %d (0 all up, 1 some are not, 2 a source failed)\n", code)
	if code != 1 {
		fmt.Fprintln(stderr, "demogrid: expected exit status 1 (foxtrot pending)")
		return false
	}
	return true
}

// jobCommand is qstat -j JOB or qdel JOB on the demo grid.
func jobCommand(command string, store demo.Store, arg, owner string, stdout, stderr io.Writer) int {
	number, err := strconv.Atoi(arg)
	if err != nil || number <= 0 {
		fmt.Fprintf(stderr, "usage: demogrid %s --grid DIR JOB\n", command)
		return 2
	}
	if command == "qdel" {
		if err := store.Delete(number, owner); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s has deleted job %d\n", owner, number)
		return 0
	}
	g, err := store.Load()
	if err == nil {
		err = demo.WriteJobDetail(stdout, g, number)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
