// Package toolname says which tool names are safe: used in account names,
// paths, job names, command lines and log lines as they are. Both the
// manifest scanner (names found on disk) and the command line (names an
// admin types) check with it.
package toolname

import "regexp"

// pattern is a tool name: a lowercase letter or digit, then up to 63 of
// those, '.', '_' or '-'.
var pattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Safe reports whether name is a safe tool name.
func Safe(name string) bool { return pattern.MatchString(name) }
