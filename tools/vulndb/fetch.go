package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// snapshot is a downloaded copy of the vulndb module.
type snapshot struct {
	dir string
	// time is the commit time the proxy records for the version. Reports in
	// data/osv carry a zero "modified" (the vulndb's own generator fills it
	// from git history, which a module zip lacks), so the commit time stands
	// in as "modified no later than this".
	time time.Time
}

// downloadResult is the part of `go mod download -json` output used here.
type downloadResult struct {
	Dir   string
	Info  string
	Error string
}

// fetchSnapshot downloads module@version through the go command, so it
// takes GOPROXY, GOFLAGS and checksum verification from the environment.
func fetchSnapshot(ctx context.Context, goCmd, moduleVersion string) (snapshot, error) {
	cmd := exec.CommandContext(ctx, goCmd, "mod", "download", "-json", moduleVersion)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, runErr := cmd.Output()
	// On failure the go command still prints JSON with an Error field,
	// which says more than the exit status.
	res, err := parseDownload(stdout)
	if err != nil {
		if runErr != nil {
			return snapshot{}, fmt.Errorf("downloading %s: %w: %s", moduleVersion, runErr, stderr.Bytes())
		}
		return snapshot{}, fmt.Errorf("downloading %s: %w", moduleVersion, err)
	}
	t, err := readInfoTime(res.Info)
	if err != nil {
		return snapshot{}, fmt.Errorf("downloading %s: %w", moduleVersion, err)
	}
	return snapshot{dir: res.Dir, time: t}, nil
}

func parseDownload(stdout []byte) (downloadResult, error) {
	var res downloadResult
	if err := json.Unmarshal(stdout, &res); err != nil {
		return res, fmt.Errorf("decoding go mod download output: %w", err)
	}
	switch {
	case res.Error != "":
		return res, fmt.Errorf("go mod download: %s", res.Error)
	case res.Dir == "" || res.Info == "":
		return res, fmt.Errorf("go mod download gave no module directory or info file")
	}
	return res, nil
}

func readInfoTime(infoPath string) (time.Time, error) {
	b, err := os.ReadFile(infoPath)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading version info: %w", err)
	}
	var info struct{ Time time.Time }
	if err := json.Unmarshal(b, &info); err != nil {
		return time.Time{}, fmt.Errorf("decoding version info %s: %w", infoPath, err)
	}
	if info.Time.IsZero() {
		return time.Time{}, fmt.Errorf("version info %s has no commit time", infoPath)
	}
	return info.Time.UTC(), nil
}
