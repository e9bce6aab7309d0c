// Command mkdeb builds webservicemonitor's Debian package with nfpm (as a
// library, pinned in this directory's go.mod: its own module, so that
// nfpm's dependencies stay out of the supervisor's module graph).
//
// It owns the package's shape: which files go where, which is a conffile,
// the maintainer scripts, the control data (Debian version from git
// describe, libc6 version from the binary's symbols), and the documents it
// generates: the man page from the built binary's help, the changelog from
// the git history (its first entry names the exact build, as the binary's
// --version does). It never builds the binary (make does, with the version
// in -ldflags and Debian's hardening) and never installs anything.
//
//	go run -C deploy/mkdeb . -root $PWD -binary bin/package/webservicemonitor -version $(git describe ...) -out bin
package main

import (
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "mkdeb: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	debVersion, err := DebianVersion(o.version, o.commits)
	if err != nil {
		return err
	}
	libc, err := glibcRequirement(o.abs(o.binary))
	if err != nil {
		return err
	}
	contents, err := Contents(o.root, o.binary)
	if err != nil {
		return err
	}
	gendir, err := os.MkdirTemp("", "mkdeb-")
	if err != nil {
		return fmt.Errorf("making a directory for the generated documents: %w", err)
	}
	defer os.RemoveAll(gendir)
	docs, err := generateDocs(context.Background(), o, build{debVersion, o.version, o.commit}, gendir)
	if err != nil {
		return err
	}
	info := nfpm.WithDefaults(packageInfo(o, debVersion, libc, append(contents, docs...)))
	if err := nfpm.Validate(info); err != nil {
		return fmt.Errorf("package definition: %w", err)
	}
	path, err := writePackage(info, o.abs(o.out))
	if err != nil {
		return err
	}
	fmt.Println(path)
	return nil
}

// options are mkdeb's command line.
type options struct {
	root, binary, version, commit, arch, out, maintainer string
	commits                                              int
}

// abs is p, relative to the repository root, made absolute.
func (o options) abs(p string) string { return filepath.Join(o.root, p) }

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("mkdeb", flag.ContinueOnError)
	fs.StringVar(&o.root, "root", "", "repository root (absolute)")
	fs.StringVar(&o.binary, "binary", "bin/webservicemonitor", "the built binary, relative to -root")
	fs.StringVar(&o.version, "version", "", "git describe --tags --always --dirty (as baked into the binary)")
	fs.StringVar(&o.commit, "commit", "", "git commit (as baked into the binary)")
	fs.IntVar(&o.commits, "commits", 0, "git rev-list --count HEAD: orders untagged builds")
	fs.StringVar(&o.arch, "arch", runtime.GOARCH, "Debian architecture of the binary")
	fs.StringVar(&o.out, "out", "bin", "directory for the .deb, relative to -root")
	fs.StringVar(&o.maintainer, "maintainer", "Webservicemonitor maintainers <webservicemonitor@tools.example>", "Maintainer field")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if !filepath.IsAbs(o.root) {
		return options{}, fmt.Errorf("-root %q must be an absolute path", o.root)
	}
	return o, nil
}

// packageInfo is the package's control data and contents: everything
// nfpm needs but the defaults it fills in itself.
func packageInfo(o options, debVersion, libc string, contents files.Contents) *nfpm.Info {
	return &nfpm.Info{
		Name:          "webservicemonitor",
		Arch:          o.arch,
		Platform:      "linux",
		Version:       debVersion,
		VersionSchema: "none", // DebianVersion already made it a Debian version
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    o.maintainer,
		Description: summary + "\n" +
			"Every minute it joins what each tool asked for (service.manifest), what the\n" +
			"grid runs (qstat) and what the front proxy routes, restarts what is down\n" +
			"within a per-tool budget and backoff that survive its own restarts, and\n" +
			"tells each tool what it did in its service.log.",
		Overridables: nfpm.Overridables{
			// sudo: the default restart-command is `sudo -i -u <tool> webservice
			// ... restart`. qstat (Son of Grid Engine) is not a dependency: sites
			// build their own; --check-config says when it is missing.
			Depends:  []string{libc, "sudo"},
			Contents: contents,
			Scripts: nfpm.Scripts{
				PostInstall: o.abs("deploy/debian/postinst"),
				PreRemove:   o.abs("deploy/debian/prerm"),
				PostRemove:  o.abs("deploy/debian/postrm"),
			},
			// The exact build (git describe and commit) is not a control
			// field (dpkg knows no such field; lintian: unknown-field): the
			// changelog's first entry names it, as --version does.
			Deb: nfpm.Deb{Compression: "xz"},
		},
		DisableGlobbing: true, // Contents already expanded the globs
	}
}

// writePackage builds the .deb into dir under its conventional name and
// returns its path; a failed build leaves no partial package behind.
func writePackage(info *nfpm.Info, dir string) (string, error) {
	packager := deb.Default
	path := filepath.Join(dir, packager.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := packager.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("building %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, nil
}

// ConfigFile is where the package installs the daemon's configuration.
const ConfigFile = "/etc/webservicemonitor/config.yaml"

// summary is the package's short description and the man page's NAME line.
const summary = "supervisor that keeps a grid platform's tool web services up"

// docDir holds the copyright, the changelog and the README.
const docDir = "/usr/share/doc/webservicemonitor/"

// generateDocs writes the changelog and the man page into dir, gzipped
// (as `gzip -9n`), and returns them as package contents. The man page's
// date is the changelog's newest entry's (the commit time): the same tree
// always makes the same package.
func generateDocs(ctx context.Context, o options, b build, dir string) (files.Contents, error) {
	commits, inGit, err := readHistory(ctx, o.root)
	if err != nil {
		return nil, err
	}
	var rels []release
	if inGit {
		rels = releases(b, commits)
	} else {
		rels = outsideGit(b, sourceDate())
	}
	changelog := filepath.Join(dir, "changelog.gz")
	if err := gzipFile(changelog, []byte(changelogText("webservicemonitor", o.maintainer, rels))); err != nil {
		return nil, err
	}
	help, own, err := readHelp(ctx, o.abs(o.binary))
	if err != nil {
		return nil, err
	}
	page := manPage{name: "webservicemonitor", section: "8", summary: summary, version: b.debVersion, date: rels[0].when,
		files: []helpItem{
			{term: ConfigFile, text: "the configuration (a conffile); every key is also a flag"},
			{term: "/var/lib/webservicemonitor/state.db", text: "the restart history (the state file)"},
			{term: "/lib/systemd/system/webservicemonitor.service", text: "the systemd unit running the daemon"},
			{term: "/usr/share/webservicemonitor/", text: "the Prometheus alerting rules and the Grafana dashboard"},
		},
		seeAlso: "\\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1), " + docDir + "README.md"}
	man := filepath.Join(dir, "webservicemonitor.8.gz")
	if err := gzipFile(man, []byte(page.render(help, own))); err != nil {
		return nil, err
	}
	info := &files.ContentFileInfo{Mode: 0o644, Owner: "root", Group: "root"}
	return files.Contents{
		// A native package (its version has no Debian revision): Policy
		// 12.7 names its changelog changelog.gz, not changelog.Debian.gz.
		{Source: changelog, Destination: docDir + "changelog.gz", FileInfo: info},
		{Source: man, Destination: "/usr/share/man/man8/webservicemonitor.8.gz", FileInfo: info},
	}, nil
}

// sourceDate is SOURCE_DATE_EPOCH (the epoch when unset or invalid): the
// date of a package built outside git.
func sourceDate() time.Time {
	secs, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	if err != nil {
		return time.Unix(0, 0).UTC()
	}
	return time.Unix(secs, 0).UTC()
}

// Contents is what the package installs. The Prometheus rules and the
// Grafana dashboards are globs: whatever deploy/ holds at build time.
func Contents(root, binary string) (files.Contents, error) {
	mode := func(m os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Mode: m, Owner: "root", Group: "root"}
	}
	c := files.Contents{
		{Source: filepath.Join(root, binary), Destination: "/usr/bin/webservicemonitor", FileInfo: mode(0o755)},
		{Source: filepath.Join(root, "deploy/systemd/webservicemonitor.service"), Destination: "/lib/systemd/system/webservicemonitor.service", FileInfo: mode(0o644)},
		// A conffile: dpkg keeps local changes on upgrade and remove, asks
		// when both sides changed, and removes it on purge. Readable by root
		// alone: its URLs may carry a password or a token (postinst takes
		// the world's access away from a locally changed copy dpkg keeps).
		{Source: filepath.Join(root, "deploy/config.yaml"), Destination: ConfigFile, Type: files.TypeConfig, FileInfo: mode(0o640)},
		{Source: filepath.Join(root, "README.md"), Destination: docDir + "README.md", FileInfo: mode(0o644)},
		{Source: filepath.Join(root, "deploy/debian/copyright"), Destination: docDir + "copyright", FileInfo: mode(0o644)},
		// Each override says why in the file.
		{Source: filepath.Join(root, "deploy/debian/lintian-overrides"), Destination: "/usr/share/lintian/overrides/webservicemonitor", FileInfo: mode(0o644)},
	}
	for _, g := range []struct{ glob, dir string }{
		{"deploy/prometheus/*.rules.yml", "/usr/share/webservicemonitor/prometheus/"},
		{"deploy/grafana/*.json", "/usr/share/webservicemonitor/grafana/"},
	} {
		matches, err := filepath.Glob(filepath.Join(root, g.glob))
		if err != nil {
			return nil, err
		}
		slices.Sort(matches)
		for _, m := range matches {
			c = append(c, &files.Content{Source: m, Destination: g.dir + filepath.Base(m), FileInfo: mode(0o644)})
		}
	}
	for _, x := range c {
		if _, err := os.Stat(x.Source); err != nil {
			return nil, fmt.Errorf("package content for %s: %w", x.Destination, err)
		}
	}
	return c, nil
}

var (
	// v1.2.3, v1.2.3-rc1, v1.2.3-4-gabcdef0 (without -dirty).
	tagged = regexp.MustCompile(`^v?([0-9]+(?:\.[0-9]+)*)(?:-([a-z]+[0-9]*))?(?:-([0-9]+)-g([0-9a-f]{4,40}))?$`)
	// abcdef0: no tag yet (git abbreviates to 7 hex digits or more).
	untagged   = regexp.MustCompile(`^([0-9a-f]{7,40})$`)
	debVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)
)

// DebianVersion turns git describe's output into a version dpkg orders the
// way the history goes: a tag is its number, a pre-release sorts before it
// (~), commits after a tag after it (+N.gHASH), an untagged build by its
// commit count. -dirty marks a build from a modified tree.
func DebianVersion(describe string, commits int) (string, error) {
	base, dirty := strings.CutSuffix(describe, "-dirty")
	var v string
	// An untagged build is a bare abbreviated hash, which can be all
	// digits: it is tried first, so that "1234567" is not taken for a tag.
	if m := untagged.FindStringSubmatch(base); m != nil {
		v = "0.0.0+" + strconv.Itoa(commits) + ".g" + m[1]
	} else if m := tagged.FindStringSubmatch(base); m != nil {
		v = m[1]
		if m[2] != "" {
			v += "~" + m[2]
		}
		if m[3] != "" {
			v += "+" + m[3] + ".g" + m[4]
		}
	} else if base == "dev" {
		v = "0.0.0+dev"
	} else {
		return "", fmt.Errorf("cannot make a Debian version from %q (expected git describe --tags --always --dirty output)", describe)
	}
	if dirty {
		if strings.Contains(v, "+") {
			v += ".dirty"
		} else {
			v += "+dirty"
		}
	}
	if !debVersion.MatchString(v) {
		return "", fmt.Errorf("version %q from %q is not a Debian version", v, describe)
	}
	return v, nil
}

// glibcRequirement reads the newest GLIBC_x.y symbol version the binary
// needs (it is built with cgo for NSS), the way dpkg-shlibdeps would.
func glibcRequirement(binary string) (string, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", binary, err)
	}
	defer f.Close()
	syms, err := f.ImportedSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return "", fmt.Errorf("reading symbols of %s: %w", binary, err)
	}
	best := []int{}
	for _, s := range syms {
		if !strings.HasPrefix(s.Version, "GLIBC_") {
			continue
		}
		var parts []int
		for _, p := range strings.Split(strings.TrimPrefix(s.Version, "GLIBC_"), ".") {
			n, err := strconv.Atoi(p)
			if err != nil {
				parts = nil
				break
			}
			parts = append(parts, n)
		}
		if parts != nil && slices.Compare(parts, best) > 0 {
			best = parts
		}
	}
	if len(best) == 0 {
		return "libc6", nil // static: any libc6 (sudo needs one anyway)
	}
	strs := make([]string, len(best))
	for i, n := range best {
		strs[i] = strconv.Itoa(n)
	}
	return "libc6 (>= " + strings.Join(strs, ".") + ")", nil
}
