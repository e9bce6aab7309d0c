package accounts

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// nssResolver asks the system name service through os/user. The project is
// built with cgo, so os/user calls glibc's getpwnam_r and every NSS source in
// /etc/nsswitch.conf (LDAP in production) is consulted. Built without cgo or
// with the osusergo tag, os/user only parses /etc/passwd and every tool
// account would look unknown: NSSViaLibc reports which build this is.
//
// The call blocks an OS thread and cannot be interrupted; Cache runs it in
// its own goroutine so callers can honour their deadline.
type nssResolver struct{}

func (nssResolver) Lookup(ctx context.Context, name string) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, fmt.Errorf("looking up account %q: %w", name, err)
	}
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return Account{}, fmt.Errorf("looking up account %q: %w", name, ErrUnknownAccount)
		}
		return Account{}, fmt.Errorf("looking up account %q: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return Account{}, fmt.Errorf("looking up account %q: uid %q is not a number", name, u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return Account{}, fmt.Errorf("looking up account %q: gid %q is not a number", name, u.Gid)
	}
	return Account{Name: u.Username, UID: uid, GID: gid, Home: u.HomeDir}, nil
}
