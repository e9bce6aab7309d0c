// Package accounts resolves tool accounts (<project>.<tool>) to Unix users.
//
// It owns the lookup and its cache; it never decides whether an account is
// acceptable (minimum uid and the like are the callers' policy).
package accounts

import (
	"context"
	"errors"
)

// ErrUnknownAccount means the name service answered and has no such user.
var ErrUnknownAccount = errors.New("no such account")

// Account is a resolved Unix user.
type Account struct {
	Name string
	UID  int
	GID  int
	Home string
}

// Resolver looks up accounts by name.
type Resolver interface {
	// Lookup returns ErrUnknownAccount (wrapped) when the account does not
	// exist, and another error when the name service could not answer.
	Lookup(ctx context.Context, name string) (Account, error)
}
