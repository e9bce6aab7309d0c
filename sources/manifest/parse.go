package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// MaxVersion is the newest manifest version this supervisor understands.
const MaxVersion = 4

// BackendGridEngine is the backend this supervisor manages; manifests of
// any other backend (kubernetes) are never touched.
const BackendGridEngine = "gridengine"

// DefaultBackend is the backend of a manifest that names none, as
// webservice itself assumes. There is no such default for the release: which
// releases the grid offers, and which one a manifest without one gets, are
// the daemon's settings (Scanner.Releases, Scanner.DefaultRelease).
const DefaultBackend = BackendGridEngine

// releasePattern keeps the release safe to pass on a command line.
var releasePattern = regexp.MustCompile(`^[a-z][a-z0-9]{1,31}$`)

// SafeReleaseName reports whether name is a release name safe to pass on a
// command line: a lowercase letter, then 1 to 31 lowercase letters or digits.
func SafeReleaseName(name string) bool { return releasePattern.MatchString(name) }

// Fields are the keys of one manifest file, as written, with the backend's
// default applied.
type Fields struct {
	Version      int    // 0 when absent
	Web          string // "" when absent: no web service requested
	Backend      string // DefaultBackend when absent
	Release      string // "" when absent: the scanner gives it its DefaultRelease
	Distribution string // legacy, reported only
}

// ParseError is why a manifest file was refused.
type ParseError struct {
	Code   string // one of the Reason* constants
	Reason string // full sentence, starting with the file's path
}

func (e *ParseError) Error() string { return e.Reason }

// Parse checks the content of the manifest at path (path only names the file
// in reasons) and returns its fields, or a *ParseError.
//
// The backend is judged first: a manifest of another backend (kubernetes)
// is not ours, so its other values are returned as written, never checked
// nor refused — on the real platform most web tools run there, with web
// types (python3.11, buildservice…) and versions that are none of ours to
// judge. Only what keeps the backend itself from being read is refused:
// a file that is not a YAML mapping, a backend that is not a string or is
// given twice.
//
// For a gridengine manifest, a web type not in webTypes (the web-types
// setting) is ReasonUnknownWeb. An empty file, or one with only comments,
// asks for no web service (webservice stop leaves little more, and emptying
// the file says the same). Otherwise the document must be a single YAML
// mapping. Anything else — a list, a scalar, several documents — is
// ReasonInvalidYAML, since the file is not a manifest in shape at all;
// ReasonBadField is kept for a known key whose value has the wrong type. Anchors and aliases are refused outright
// (ReasonInvalidYAML): webservice never writes them, and refusing them is
// what keeps an alias bomb from costing anything. A known key with a null
// value counts as absent, as it does for webservice's own Python reader
// (dict.get). Unknown keys are tolerated; a known key given twice is
// ReasonBadField.
//
// A present release must be a release name (ReasonBadRelease); an absent
// one stays "". Parse invents no release: the scanner gives such a manifest
// the grid's default release, and refuses one the grid does not offer.
func Parse(path string, data []byte, webTypes []string) (Fields, error) {
	f, simple := parseSimple(data)
	if !simple {
		var err error
		if f, err = parseYAML(path, data); err != nil {
			return Fields{}, err
		}
	}
	if f.Backend != BackendGridEngine {
		return f, nil // another backend's: reported as such, never judged
	}
	return check(path, f, webTypes)
}

// parseYAML reads the manifest's keys with the full YAML parser and checks
// their types; the values themselves are checked by check.
func parseYAML(path string, data []byte) (Fields, error) {
	root, err := mappingRoot(path, data)
	if err != nil {
		return Fields{}, err
	}
	if root == nil {
		return Fields{Backend: DefaultBackend}, nil
	}
	return readKeys(path, root)
}

// mappingRoot parses data into a node tree and returns its root mapping, nil
// for a file without a document (empty, or only comments), or refuses a file
// that is no single, alias-free YAML mapping.
func mappingRoot(path string, data []byte) (*yaml.Node, error) {
	if !utf8.Valid(data) {
		off := invalidUTF8Offset(data)
		return nil, refusal(path, ReasonInvalidYAML, "is not valid UTF-8 (byte 0x%02x at offset %d)", data[off], off)
	}
	root, err := decodeSingleDocument(data)
	if err != nil {
		return nil, refusal(path, ReasonInvalidYAML, "is not valid YAML: %v", err)
	}
	if root == nil {
		return nil, nil
	}
	if n := findAnchorOrAlias(root); n != nil {
		return nil, refusal(path, ReasonInvalidYAML, "uses a YAML anchor or alias (line %d), which manifests never contain", n.Line)
	}
	if root.Kind != yaml.MappingNode {
		return nil, refusal(path, ReasonInvalidYAML, "is a YAML %s, want a mapping of manifest keys", kindName(root))
	}
	return root, nil
}

// readKeys reads the known keys of the root mapping. A key with a value of
// the wrong type refuses the manifest only once its backend is known to be
// ours: the first such refusal, in the file's order, is kept until then.
func readKeys(path string, root *yaml.Node) (Fields, error) {
	f := Fields{Backend: DefaultBackend}
	var refused error   // the first bad value, in the file's order
	backendRead := true // false when the backend cannot be told
	seen := make(map[string]bool)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode || !isKnownKey(k.Value) {
			continue // not one of ours; unknown keys are tolerated
		}
		key := k.Value
		var err error
		if seen[key] {
			err = refusal(path, ReasonBadField, "key %q appears more than once (line %d)", key, k.Line)
		} else if !(v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null") {
			err = readValue(path, &f, key, v)
		}
		seen[key] = true
		if err != nil && key == "backend" {
			backendRead = false
		}
		if refused == nil {
			refused = err
		}
	}
	if backendRead && f.Backend != BackendGridEngine {
		return f, nil // another backend's values are not ours to refuse
	}
	if refused != nil {
		return Fields{}, refused
	}
	return f, nil
}

func isKnownKey(key string) bool {
	switch key {
	case "version", "web", "backend", "release", "distribution":
		return true
	}
	return false
}

// readValue checks the type of one known key's non-null value and stores
// it in f.
func readValue(path string, f *Fields, key string, v *yaml.Node) error {
	if key == "version" {
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" {
			return refusal(path, ReasonBadField, "key %q must be an integer, not a YAML %s (line %d)", key, kindName(v), v.Line)
		}
		var n int
		if err := v.Decode(&n); err != nil || n < 0 {
			return refusal(path, ReasonBadField, "key %q must be a non-negative integer, not %q (line %d)", key, v.Value, v.Line)
		}
		f.Version = n
		return nil
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		return refusal(path, ReasonBadField, "key %q must be a string, not a YAML %s (line %d)", key, kindName(v), v.Line)
	}
	switch key {
	case "web":
		if v.Value == "" {
			return refusal(path, ReasonUnknownWeb, "web type %q is not a known web type (leave the key out for no web service)", v.Value)
		}
		f.Web = v.Value
	case "backend":
		f.Backend = v.Value
	case "release":
		if v.Value == "" {
			return refusal(path, ReasonBadRelease, "release %q is not a release name (leave the key out for the grid's default release)", v.Value)
		}
		f.Release = v.Value
	case "distribution":
		f.Distribution = v.Value
	}
	return nil
}

// refusal is a *ParseError whose reason names the file first.
func refusal(path, code, format string, args ...any) error {
	return &ParseError{Code: code, Reason: displayPath(path) + ": " + fmt.Sprintf(format, args...)}
}

// check refuses values no supervisor should act on, whichever parser read
// them. Whether the grid offers the release is not judged here: that is the
// scanner's setting, applied after the parse (and after its cache).
func check(path string, f Fields, webTypes []string) (Fields, error) {
	switch {
	case f.Version > MaxVersion:
		return Fields{}, refusal(path, ReasonVersion, "manifest version %d is newer than this supervisor understands (%d)", f.Version, MaxVersion)
	case f.Web != "" && !slices.Contains(webTypes, f.Web):
		return Fields{}, refusal(path, ReasonUnknownWeb, "web type %q is not a known web type", f.Web)
	case f.Release != "" && !releasePattern.MatchString(f.Release):
		return Fields{}, refusal(path, ReasonBadRelease, "release %q is not a release name (a lowercase letter, then 1 to 31 lowercase letters or digits)", f.Release)
	}
	return f, nil
}

// decodeSingleDocument parses data into a node tree without building any Go
// values from it, so aliases are not expanded. It returns nil for a stream
// with no document, and refuses a second document rather than ignore it.
func decodeSingleDocument(data []byte) (root *yaml.Node, err error) {
	// A parser panic on hostile input must cost one manifest, not the daemon.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("YAML parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, err
	default:
		return nil, fmt.Errorf("holds more than one YAML document (the second starts at line %d)", extra.Line)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}

// findAnchorOrAlias returns the first node that declares an anchor or is an
// alias. It never follows an alias, so it runs in time linear in the file.
func findAnchorOrAlias(n *yaml.Node) *yaml.Node {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return n
	}
	for _, c := range n.Content {
		if found := findAnchorOrAlias(c); found != nil {
			return found
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "string"
		case "!!int":
			return "integer"
		case "!!float":
			return "float"
		case "!!bool":
			return "boolean"
		case "!!null":
			return "null"
		default:
			return fmt.Sprintf("scalar tagged %q", n.Tag)
		}
	}
	return "node"
}

func invalidUTF8Offset(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return 0
}
