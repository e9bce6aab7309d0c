package accounts

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PasswdFile resolves accounts from a file in passwd(5) format
// (name:password:uid:gid:gecos:home:shell), for demos and tests that run
// without root or LDAP. The file is parsed again whenever its size or
// modification time changes. Blank lines and lines starting with '#' are
// skipped; any other malformed line makes every lookup fail with an error
// naming the file and line, because a half-read account list would turn
// tools into "unknown" ones.
type PasswdFile struct {
	path string

	mu       sync.Mutex
	modTime  time.Time
	size     int64
	accounts map[string]Account
}

// NewPasswdFile returns a resolver reading path.
func NewPasswdFile(path string) Resolver {
	return &PasswdFile{path: path}
}

// Lookup finds name in the file.
func (p *PasswdFile) Lookup(ctx context.Context, name string) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, fmt.Errorf("looking up account %q in %s: %w", name, p.path, err)
	}
	accounts, err := p.load()
	if err != nil {
		return Account{}, fmt.Errorf("looking up account %q: %w", name, err)
	}
	a, ok := accounts[name]
	if !ok {
		return Account{}, fmt.Errorf("looking up account %q in %s: %w", name, p.path, ErrUnknownAccount)
	}
	return a, nil
}

func (p *PasswdFile) load() (map[string]Account, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.Open(p.path)
	if err != nil {
		return nil, fmt.Errorf("reading passwd file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading passwd file: %w", err)
	}
	if p.accounts != nil && st.ModTime().Equal(p.modTime) && st.Size() == p.size {
		return p.accounts, nil
	}
	accounts, err := parsePasswd(f, p.path)
	if err != nil {
		return nil, err
	}
	p.accounts, p.modTime, p.size = accounts, st.ModTime(), st.Size()
	return accounts, nil
}

// parsePasswd reads passwd(5) lines; path only names the file in errors.
func parsePasswd(r io.Reader, path string) (map[string]Account, error) {
	accounts := make(map[string]Account)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' {
			continue
		}
		a, err := parsePasswdLine(string(line))
		if err != nil {
			return nil, fmt.Errorf("passwd file %s line %d: %w", path, n, err)
		}
		if _, dup := accounts[a.Name]; dup {
			return nil, fmt.Errorf("passwd file %s line %d: account %q appears twice", path, n, a.Name)
		}
		accounts[a.Name] = a
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading passwd file %s: %w", path, err)
	}
	return accounts, nil
}

func parsePasswdLine(line string) (Account, error) {
	f := strings.Split(line, ":")
	if len(f) != 7 {
		return Account{}, fmt.Errorf("has %d colon-separated fields, want 7 (name:x:uid:gid:gecos:home:shell)", len(f))
	}
	if f[0] == "" {
		return Account{}, fmt.Errorf("empty account name")
	}
	uid, err := parseID(f[2])
	if err != nil {
		return Account{}, fmt.Errorf("account %q: uid: %w", f[0], err)
	}
	gid, err := parseID(f[3])
	if err != nil {
		return Account{}, fmt.Errorf("account %q: gid: %w", f[0], err)
	}
	return Account{Name: f[0], UID: uid, GID: gid, Home: f[5]}, nil
}

func parseID(s string) (int, error) {
	// Unix ids are unsigned 32-bit; 2^32-1 is the "no id" value (-1).
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 1<<32-1 {
		return 0, fmt.Errorf("%q is not a user or group id", s)
	}
	return int(n), nil
}
