// Package buildinfo says which build this is. Version and Commit are baked in
// at link time (-ldflags "-X webservicemonitor/buildinfo.version=...") from
// git describe, so a half-upgraded fleet is visible.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the linker; never assigned at run time.
var (
	version = ""
	commit  = ""
)

// Info is the build's identity.
type Info struct {
	Version   string
	Commit    string
	GoVersion string
}

// Get returns the build's identity, falling back to what the Go toolchain
// recorded when the linker was not told.
func Get() Info {
	info := Info{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && info.Commit == "" {
				info.Commit = s.Value
			}
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

func (i Info) String() string {
	return fmt.Sprintf("webservicemonitor %s (commit %s, %s)", i.Version, i.Commit, i.GoVersion)
}
