package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// release is one entry of the Debian changelog: a tagged release, or the
// build being packaged (the commits after the last tag, or the tagged
// commit itself when HEAD is one).
type release struct {
	version string
	commit  string    // the newest commit of the entry
	when    time.Time // that commit's committer time
	changes []string  // the entry's bullet points, oldest first
}

// build is what the package is built from, as make passes it to mkdeb.
type build struct {
	debVersion, describe, commit string
}

// commitLine is one commit of `git log`, newest first.
type commitLine struct {
	hash    string
	when    time.Time
	subject string
	tags    []string
}

// gitLogFormat separates fields with US (0x1f) and commits with RS (0x1e):
// neither can be in a subject line.
const gitLogFormat = "--format=%H%x1f%ct%x1f%s%x1f%D%x1e"

// readHistory reads the history of the work tree at root, newest first,
// with each commit's tags. A tree outside git (an exported tarball) has no
// history: the second result is false.
func readHistory(ctx context.Context, root string) ([]commitLine, bool, error) {
	if err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--git-dir").Run(); err != nil {
		return nil, false, nil
	}
	cmd := exec.CommandContext(ctx, "git", "-C", root, "log", "--topo-order", gitLogFormat,
		"--decorate=short", "--decorate-refs=refs/tags/", "HEAD")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, true, fmt.Errorf("reading the git history of %s: %w: %s", root, err, strings.TrimSpace(stderr.String()))
	}
	commits, err := parseGitLog(string(out))
	return commits, true, err
}

func parseGitLog(out string) ([]commitLine, error) {
	var commits []commitLine
	for _, rec := range strings.Split(out, "\x1e") {
		rec = strings.TrimLeft(rec, "\n")
		if rec == "" {
			continue
		}
		f := strings.Split(rec, "\x1f")
		if len(f) != 4 {
			return nil, fmt.Errorf("reading git log: unexpected record %q", rec)
		}
		secs, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("reading git log: commit time of %s: %w", f[0], err)
		}
		c := commitLine{hash: f[0], when: time.Unix(secs, 0).UTC(), subject: f[2]}
		for _, ref := range strings.Split(f[3], ", ") {
			if tag, ok := strings.CutPrefix(ref, "tag: "); ok {
				c.tags = append(c.tags, tag)
			}
		}
		commits = append(commits, c)
	}
	if len(commits) == 0 {
		return nil, errors.New("reading git log: no commits")
	}
	return commits, nil
}

// releases groups the history (newest first) into changelog entries,
// newest first: the build, then one per tag that makes a Debian version.
// The build's entry opens with what it was built from, which is what the
// binary's --version says (the control data has no field for it).
func releases(b build, commits []commitLine) []release {
	head := release{version: b.debVersion, commit: commits[0].hash, when: commits[0].when}
	line := "Built from commit " + b.commit + " (git describe: " + b.describe + ")"
	if strings.HasSuffix(b.describe, "-dirty") {
		line += " with changes not committed"
	}
	out := []release{head}
	for i, c := range commits {
		if v := tagVersion(c.tags); v != "" && i > 0 {
			out = append(out, release{version: v, commit: c.hash, when: c.when})
		}
		cur := &out[len(out)-1]
		cur.changes = append(cur.changes, c.subject)
	}
	for i := range out {
		slices.Reverse(out[i].changes)
	}
	out[0].changes = append([]string{line + "."}, out[0].changes...)
	return out
}

// tagVersion is the Debian version of the first of a commit's tags that
// names a release ("" when none does).
func tagVersion(tags []string) string {
	for _, t := range tags {
		// A release's tag, not a describe-like name or a bare hash.
		if m := tagged.FindStringSubmatch(t); m != nil && m[3] == "" && !untagged.MatchString(t) {
			if v, err := DebianVersion(t, 0); err == nil {
				return v
			}
		}
	}
	return ""
}

// outsideGit is the single entry of a package built from a tree without
// its history.
func outsideGit(b build, when time.Time) []release {
	return []release{{version: b.debVersion, commit: b.commit, when: when,
		changes: []string{"Built outside a git checkout (" + b.describe + "): no history to list."}}}
}

// changelogText renders the entries in the format of debian/changelog
// (deb-changelog(5)); lines stay under 80 columns.
func changelogText(pkg, maintainer string, rels []release) string {
	var b strings.Builder
	for i, r := range rels {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s (%s) unstable; urgency=medium\n\n", pkg, r.version)
		for _, c := range r.changes {
			for _, l := range wrap(c, 76) {
				b.WriteString(l + "\n")
			}
		}
		fmt.Fprintf(&b, "\n -- %s  %s\n", maintainer, r.when.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	}
	return b.String()
}

// wrap makes a bullet point of text: "  * " then lines of at most width
// characters indented by four (a word longer than that keeps its line).
func wrap(text string, width int) []string {
	var lines []string
	cur, words := "  *", 0
	for _, w := range strings.Fields(text) {
		if words > 0 && len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur, words = "   ", 0
		}
		cur += " " + w
		words++
	}
	return append(lines, cur)
}

// gzipFile writes data to path compressed as `gzip -9n` would: the best
// compression, no name and no time in the header, so the same input
// always makes the same bytes.
func gzipFile(path string, data []byte) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
