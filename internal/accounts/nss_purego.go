//go:build !cgo || osusergo

package accounts

// NSSViaLibc reports whether NewNSS resolves through glibc NSS (true: LDAP and
// every other nsswitch source is used) or through os/user's pure Go fallback,
// which reads only /etc/passwd. The daemon should refuse or warn when false.
func NSSViaLibc() bool { return false }
