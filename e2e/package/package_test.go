//go:build e2e

package e2epackage

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	installedBin    = "/usr/bin/webservicemonitor"
	installedUnit   = "/lib/systemd/system/webservicemonitor.service"
	installedConfig = "/etc/webservicemonitor/config.yaml"
	stateDir        = "/var/lib/webservicemonitor"
	enabledLink     = "/etc/systemd/system/multi-user.target.wants/webservicemonitor.service"
)

// machine is this test's view of the host it installs the package on: what
// it created there (removed at the end) and how it runs dpkg.
type machine struct {
	t        *testing.T
	deb      string
	stubs    string // fake systemctl and deb-systemd-invoke
	log      string // what they were asked to do
	canShare bool   // a private mount namespace is available for a fake /run/systemd/system
}

// TestDebianPackage builds on the .deb `make deb` made (WSM_DEB): its
// control data and file list, then dpkg -i/-r/-P on this machine, with the
// maintainer scripts' decisions checked at each step. The machine has no
// systemd as PID 1; the "systemd is running" branches run with a
// /run/systemd/system that exists only in a private mount namespace, and
// with systemctl and deb-systemd-invoke replaced by recorders.
func TestDebianPackage(t *testing.T) {
	deb, version, commit := os.Getenv("WSM_DEB"), os.Getenv("WSM_VERSION"), os.Getenv("WSM_COMMIT")
	if deb == "" || version == "" {
		t.Fatal("WSM_DEB and WSM_VERSION are not set: run `make e2e-package`")
	}
	if os.Geteuid() != 0 {
		t.Fatal("dpkg -i needs root: run `make e2e-package` as root")
	}
	if runCmd(t, nil, "dpkg-query", "-W", "webservicemonitor").code == 0 {
		t.Fatal("webservicemonitor is already installed here; this test would remove it")
	}
	m := newMachine(t, deb)
	root := repoRoot(t)

	t.Run("control data", func(t *testing.T) {
		fields := map[string]string{}
		for _, f := range []string{"Package", "Version", "Architecture", "Depends", "Maintainer", "Description"} {
			fields[f] = strings.TrimSpace(runCmd(t, nil, "dpkg-deb", "-f", deb, f).stdout)
		}
		if fields["Package"] != "webservicemonitor" || fields["Architecture"] == "" || fields["Maintainer"] == "" || fields["Description"] == "" {
			t.Errorf("control fields: %v", fields)
		}
		if !strings.Contains(filepath.Base(deb), "_"+fields["Version"]+"_") {
			t.Errorf("Version %q is not the file's (%s)", fields["Version"], deb)
		}
		if strings.Contains(fields["Maintainer"], "localhost") {
			t.Errorf("Maintainer %q: not an address mail reaches", fields["Maintainer"])
		}
		if !strings.Contains(fields["Depends"], "sudo") || !strings.Contains(fields["Depends"], "libc6 (>= 2.") {
			t.Errorf("Depends: %q, want sudo and a versioned libc6", fields["Depends"])
		}
		if r := runCmd(t, nil, "dpkg-deb", "-I", deb, "conffiles"); strings.TrimSpace(r.stdout) != installedConfig {
			t.Errorf("conffiles: %q, want only %s", r.stdout, installedConfig)
		}
		info := runCmd(t, nil, "dpkg-deb", "-I", deb).stdout
		for _, script := range []string{"postinst", "prerm", "postrm"} {
			if !strings.Contains(info, " "+script+" ") {
				t.Errorf("no %s in the control archive:\n%s", script, info)
			}
		}
	})

	t.Run("file list", func(t *testing.T) {
		want := map[string]string{ // path -> mode and owner as dpkg-deb -c shows them
			"." + installedBin:                                "-rwxr-xr-x root/root",
			"." + installedUnit:                               "-rw-r--r-- root/root",
			"." + installedConfig:                             "-rw-r----- root/root", // may hold URLs with credentials
			"./usr/share/doc/webservicemonitor/README.md":     "-rw-r--r-- root/root",
			"./usr/share/doc/webservicemonitor/copyright":     "-rw-r--r-- root/root",
			"./usr/share/doc/webservicemonitor/changelog.gz":  "-rw-r--r-- root/root",
			"./usr/share/man/man8/webservicemonitor.8.gz":     "-rw-r--r-- root/root",
			"./usr/share/lintian/overrides/webservicemonitor": "-rw-r--r-- root/root",
		}
		for glob, dir := range map[string]string{"deploy/prometheus/*.rules.yml": "prometheus", "deploy/grafana/*.json": "grafana"} {
			matches, _ := filepath.Glob(filepath.Join(root, glob))
			for _, f := range matches {
				want["./usr/share/webservicemonitor/"+dir+"/"+filepath.Base(f)] = "-rw-r--r-- root/root"
			}
		}
		if _, ok := want["./usr/share/webservicemonitor/prometheus/fleet.rules.yml"]; !ok {
			t.Error("fleet.rules.yml missing from deploy/prometheus")
		}
		listing := runCmd(t, nil, "dpkg-deb", "-c", deb).stdout
		var files []string
		for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
			f := strings.Fields(line)
			if len(f) < 6 || strings.HasPrefix(f[0], "d") {
				continue
			}
			path := f[len(f)-1]
			files = append(files, path)
			if w, ok := want[path]; !ok {
				t.Errorf("unexpected file in the package: %s", line)
			} else if got := f[0] + " " + f[1]; got != w {
				t.Errorf("%s: %s, want %s", path, got, w)
			}
		}
		for path := range want {
			if !slices.Contains(files, path) {
				t.Errorf("%s missing from the package", path)
			}
		}
	})

	t.Run("lintian", func(t *testing.T) { checkLintian(t, deb) })
	t.Run("changelog", func(t *testing.T) { checkChangelog(t, deb, version, commit) })
	t.Run("man page", func(t *testing.T) { checkManPage(t, deb) })

	// A first install on a machine that is not ready (no project file):
	// the install succeeds, enables the unit, starts nothing and says why.
	t.Run("install on an unprepared machine", func(t *testing.T) {
		if exists("/etc/wmcs-project") {
			t.Skip("this machine has a project file: it is prepared")
		}
		r := m.dpkg(t, false, "-i", deb)
		if r.code != 0 {
			t.Fatalf("dpkg -i: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"refuses the configuration", "project-file:", "systemd is not running: not starting"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("dpkg -i output lacks %q:\n%s", want, r.stderr)
			}
		}
		if fi, err := os.Stat(stateDir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("state directory: %v %v, want mode 0700", fi, err)
		}
		if !exists(enabledLink) {
			t.Errorf("the unit is not enabled (%s missing)", enabledLink)
		}
	})
	if runCmd(t, nil, "dpkg-query", "-W", "webservicemonitor").code != 0 {
		if r := m.dpkg(t, false, "-i", deb); r.code != 0 {
			t.Fatalf("dpkg -i: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}

	t.Run("installed binary", func(t *testing.T) {
		r := runCmd(t, nil, installedBin, "--version")
		if r.code != 0 || !strings.Contains(r.stdout, "webservicemonitor "+version+" (commit "+commit+",") {
			t.Errorf("--version: exit %d, %q; want version %s, commit %s", r.code, r.stdout, version, commit)
		}
		m.prepare(t)
		r = runCmd(t, nil, installedBin, "--config", installedConfig, "--check-config")
		if r.code != 0 || !strings.Contains(r.stdout, "configuration OK") {
			t.Errorf("--check-config on the installed example: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		r := runCmd(t, nil, "systemd-analyze", "verify", installedUnit)
		if r.code != 0 || strings.Contains(r.stderr, "webservicemonitor.service:") {
			t.Errorf("systemd-analyze verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("upgrade with a good configuration restarts", func(t *testing.T) {
		m.needsFakeSystemd(t)
		m.prepare(t)
		r := m.dpkg(t, true, "-i", deb) // same package again: postinst configure <version>
		if r.code != 0 {
			t.Fatalf("dpkg -i: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if calls := m.calls(); !slices.Contains(calls, "deb-systemd-invoke restart webservicemonitor.service") {
			t.Errorf("no restart; service manager calls: %q\n%s", calls, r.stderr)
		}
		if slices.Contains(m.calls(), "deb-systemd-invoke stop webservicemonitor.service") {
			t.Error("prerm stopped the daemon on upgrade")
		}
	})

	t.Run("upgrade with a broken configuration leaves the daemon alone", func(t *testing.T) {
		m.needsFakeSystemd(t)
		m.prepare(t)
		original, err := os.ReadFile(installedConfig)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(installedConfig, original, 0o644)
		if err := os.WriteFile(installedConfig, append(original, "interval: soon\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		r := m.dpkg(t, true, "-i", deb)
		if r.code != 0 {
			t.Fatalf("a broken configuration failed the upgrade: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if calls := m.calls(); slices.ContainsFunc(calls, func(c string) bool {
			return strings.HasPrefix(c, "deb-systemd-invoke restart") || strings.HasPrefix(c, "deb-systemd-invoke stop")
		}) {
			t.Errorf("the daemon was restarted or stopped: %q", calls)
		}
		for _, want := range []string{"NOT restarting", "keeps running the previous release", `key "interval" given twice`} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("dpkg -i output lacks %q:\n%s", want, r.stderr)
			}
		}
	})

	t.Run("upgrade over a newer state file leaves the daemon alone", func(t *testing.T) {
		m.needsFakeSystemd(t)
		m.prepare(t)
		state := filepath.Join(stateDir, "state.db")
		copyFile(t, filepath.Join(root, "testdata", "state", "schema-2.db"), state)
		defer os.Remove(state)
		before := fileSum(t, state)
		r := m.dpkg(t, true, "-i", deb)
		if r.code != 0 {
			t.Fatalf("dpkg -i: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if calls := m.calls(); slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "deb-systemd-invoke restart") }) {
			t.Errorf("restarted onto a state file it cannot read: %q", calls)
		}
		if !strings.Contains(r.stderr, "NOT restarting") || !strings.Contains(r.stderr, "newer than this binary") {
			t.Errorf("dpkg -i output:\n%s", r.stderr)
		}
		if fileSum(t, state) != before {
			t.Error("the check changed the newer state file")
		}
	})

	t.Run("remove keeps configuration and state", func(t *testing.T) {
		m.prepare(t)
		edited := "# edited by the administrator\n"
		original, _ := os.ReadFile(installedConfig)
		os.WriteFile(installedConfig, append([]byte(edited), original...), 0o644)
		state := filepath.Join(stateDir, "state.db")
		copyFile(t, filepath.Join(root, "testdata", "state", "schema-0.db"), state)

		r := m.dpkg(t, m.canShare, "-r", "webservicemonitor")
		if r.code != 0 {
			t.Fatalf("dpkg -r: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if m.canShare && !slices.Contains(m.calls(), "deb-systemd-invoke stop webservicemonitor.service") {
			t.Errorf("prerm did not stop the daemon: %q", m.calls())
		}
		for _, gone := range []string{installedBin, installedUnit} {
			if exists(gone) {
				t.Errorf("%s is still there after remove", gone)
			}
		}
		if data, err := os.ReadFile(installedConfig); err != nil || !strings.HasPrefix(string(data), edited) {
			t.Errorf("the edited configuration did not survive remove: %v", err)
		}
		if !exists(state) {
			t.Error("the state file did not survive remove")
		}
		if st := strings.TrimSpace(runCmd(t, nil, "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "webservicemonitor").stdout); st != "rc" {
			t.Errorf("package status %q after remove, want rc (removed, config-files)", st)
		}
	})

	t.Run("purge removes configuration and state", func(t *testing.T) {
		r := m.dpkg(t, m.canShare, "-P", "webservicemonitor")
		if r.code != 0 {
			t.Fatalf("dpkg -P: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, gone := range []string{installedConfig, "/etc/webservicemonitor", stateDir, enabledLink} {
			if exists(gone) {
				t.Errorf("%s is still there after purge", gone)
			}
		}
		if runCmd(t, nil, "dpkg-query", "-W", "webservicemonitor").code == 0 {
			t.Error("dpkg still knows the package after purge")
		}
	})
}

func newMachine(t *testing.T, deb string) *machine {
	t.Helper()
	m := &machine{t: t, deb: deb, stubs: t.TempDir()}
	m.log = filepath.Join(m.stubs, "calls.log")
	realSystemctl, _ := exec.LookPath("systemctl")
	recorder := "#!/bin/sh\necho \"$(basename \"$0\") $*\" >> " + m.log + "\n"
	// deb-systemd-helper enables units offline with `systemctl --root=/
	// preset`: that part is real, only the calls to a running systemd are
	// recorded instead.
	systemctl := recorder
	if realSystemctl != "" {
		systemctl += "case \"$1\" in --root=*) exec " + realSystemctl + " \"$@\";; esac\n"
	}
	for name, script := range map[string]string{"systemctl": systemctl + "exit 0\n", "deb-systemd-invoke": recorder + "exit 0\n"} {
		if err := os.WriteFile(filepath.Join(m.stubs, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m.canShare = runCmd(t, nil, "unshare", "--mount", "--propagation", "private", "true").code == 0
	t.Cleanup(func() {
		// Whatever happened: no package, no state, no configuration left.
		if runCmd(t, nil, "dpkg-query", "-W", "webservicemonitor").code == 0 {
			if r := runCmd(t, []string{"DEBIAN_FRONTEND=noninteractive"}, "dpkg", "-P", "webservicemonitor"); r.code != 0 {
				t.Errorf("cleanup: dpkg -P: %s%s", r.stdout, r.stderr)
			}
		}
	})
	return m
}

// prepare provides what --check-config needs on this machine (a project
// file, a qstat; sudo is a dependency, installed beforehand); what it
// creates is removed when the whole test ends.
func (m *machine) prepare(t *testing.T) {
	t.Helper()
	for path, content := range map[string]string{
		"/etc/wmcs-project": "tools\n",
		"/usr/bin/qstat":    "#!/bin/sh\n# e2e-package stub: only has to exist for --check-config\nexit 1\n",
	} {
		if exists(path) {
			continue
		}
		if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		m.t.Cleanup(func() { os.Remove(path) })
	}
}

// needsFakeSystemd skips a step that only means something with systemd
// "running", when this machine cannot fake it privately.
func (m *machine) needsFakeSystemd(t *testing.T) {
	if !m.canShare {
		t.Skip("no private mount namespace here (unshare --mount failed): the maintainer scripts' systemd branches cannot be run without touching the machine's /run/systemd")
	}
}

// dpkg runs dpkg, with the service manager faked when fakeSystemd: the
// maintainer scripts see /run/systemd/system (in a mount namespace of their
// own, invisible to the rest of the machine) and the recorders instead of
// systemctl and deb-systemd-invoke. The recorder log is reset each call.
func (m *machine) dpkg(t *testing.T, fakeSystemd bool, args ...string) result {
	t.Helper()
	os.Remove(m.log)
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	argv := append([]string{"dpkg"}, args...)
	if fakeSystemd {
		env = append(env, "PATH="+m.stubs+":"+os.Getenv("PATH"))
		// /run/systemd may be missing (no systemd ever ran); the tmpfs needs
		// it as a mount point, so it is made for real, empty, and removed.
		created := false
		if !exists("/run/systemd") {
			if err := os.Mkdir("/run/systemd", 0o755); err != nil {
				t.Fatal(err)
			}
			created = true
		}
		defer func() {
			if created {
				os.Remove("/run/systemd")
			}
		}()
		argv = append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c",
			`mount -t tmpfs e2e-package /run/systemd && mkdir /run/systemd/system && exec "$@"`, "sh"}, argv...)
	}
	return runCmd(t, env, argv...)
}

// calls is what the maintainer scripts asked the (fake) service manager.
func (m *machine) calls() []string {
	data, _ := os.ReadFile(m.log)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}
