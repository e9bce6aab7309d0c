package manifest

// Manifest is one tool's desired state, read from <home>/service.manifest and
// checked: the tool name is safe, the account resolved, the file was a regular
// file owned by the tool, and every field has the right type.
//
// A gridengine manifest that asks for a web service always carries a
// release the grid offers (Scanner.Releases): one asking for another is
// Skipped with ReasonReleaseNotOffered, since webservice would refuse it.
//
// A manifest of another backend than BackendGridEngine is reported with its
// Backend and its other fields as written, unchecked: it is not ours, so it
// is never refused, and its values must never reach a command.
type Manifest struct {
	Tool         string // directory name under the homes root
	Account      string // <project>.<tool>
	UID          int
	GID          int
	Home         string // <homes root>/<tool>
	Version      int    // 0 when absent
	Web          string // "" means no web service is requested
	Backend      string // "gridengine" when absent
	Release      string // the scanner's DefaultRelease when absent (gridengine); as written otherwise
	Distribution string // legacy key, kept for reporting only
}

// Skipped is a manifest that failed a check. Nothing is ever run on its behalf.
type Skipped struct {
	Tool   string // directory name (may be unsafe; never used in a path or command)
	Home   string
	Path   string // the manifest path
	Code   string // stable reason code, one of the Reason* constants
	Reason string // human sentence naming the file and what is wrong
	// Account is set when the account resolved and owns the home, so the
	// refusal can be told in the tool's service.log; nil otherwise.
	Account *Owner
}

// Owner identifies the tool account a refusal may be reported to.
type Owner struct {
	Name string
	UID  int
	GID  int
}

// Scan is the complete result of one pass over the homes root.
type Scan struct {
	Manifests []Manifest
	Skipped   []Skipped
}

// Reason codes for Skipped.Code. Stable: they label metrics and alerts.
const (
	ReasonBadName           = "bad-name"
	ReasonNoAccount         = "no-account"
	ReasonLowUID            = "low-uid"
	ReasonSymlink           = "symlink"        // the manifest is a symbolic link
	ReasonSymlinkedHome     = "symlinked-home" // the home is a symbolic link holding or pointing at a manifest
	ReasonNotRegular        = "not-regular-file"
	ReasonWrongOwner        = "wrong-owner"
	ReasonTooLarge          = "too-large"
	ReasonInvalidYAML       = "invalid-yaml"
	ReasonBadField          = "bad-field"
	ReasonUnknownWeb        = "unknown-web-type"
	ReasonBadRelease        = "bad-release"
	ReasonReleaseNotOffered = "release-not-offered" // a web service asked on a release not in Scanner.Releases
	ReasonVersion           = "unsupported-version"
	ReasonReadError         = "read-error"
	ReasonLookupFailed      = "account-lookup-failed"
	ReasonTimeout           = "timeout"
)
