package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// readFile reads the YAML configuration: a mapping of known keys to scalars.
// A file that cannot be read or is not such a mapping gives no values and
// the error; otherwise it gives the values of the keys it could take, and
// an error for each key it could not (unknown, a mode, a value of the wrong
// shape, given twice), so that every one is reported at once.
func readFile(path string, ks []key) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]string{}, nil // an empty file is all defaults
		}
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config file %s: line %d: expected a mapping of keys to values", path, root.Line)
	}
	known := map[string]key{}
	for _, k := range ks {
		known[k.name] = k
	}
	out := map[string]string{}
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		kn, vn := root.Content[i], root.Content[i+1]
		v, err := fileValue(known, kn, vn, out)
		if err != nil {
			errs = append(errs, fmt.Errorf("config file %s: %w", path, err))
			continue
		}
		out[kn.Value] = v
	}
	return out, errors.Join(errs...)
}

// fileValue is the raw value of one key of the file; seen holds the keys
// already read, so that one given twice is refused.
func fileValue(known map[string]key, kn, vn *yaml.Node, seen map[string]string) (string, error) {
	k, ok := known[kn.Value]
	sep, _ := listSeparator(kn.Value)
	switch {
	case !ok:
		return "", fmt.Errorf("line %d: unknown key %q", kn.Line, kn.Value)
	case !k.fileOK:
		return "", fmt.Errorf("line %d: key %q is a command-line mode, not a setting", kn.Line, kn.Value)
	case given(seen, k.name):
		return "", fmt.Errorf("line %d: key %q given twice", kn.Line, kn.Value)
	case vn.Kind == yaml.SequenceNode && sep != "":
		var items []string
		for _, item := range vn.Content {
			if item.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("line %d: %s: expected a list of strings", item.Line, k.name)
			}
			items = append(items, item.Value)
		}
		return strings.Join(items, sep), nil
	case vn.Kind != yaml.ScalarNode:
		return "", fmt.Errorf("line %d: %s: expected a single value", vn.Line, k.name)
	}
	return vn.Value, nil
}

func given(values map[string]string, name string) bool {
	_, ok := values[name]
	return ok
}
