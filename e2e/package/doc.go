// Package e2epackage holds the end-to-end tests of how the supervisor is
// shipped and kept running (`make e2e-package`, build tag e2e): the Debian
// package installed, upgraded, removed and purged with dpkg; state files of
// older and newer schemas against the real binary; and the systemd notify
// protocol and watchdog, with a socket the test owns. It has no code of its
// own: the tests drive the built binaries and dpkg from the outside.
package e2epackage
