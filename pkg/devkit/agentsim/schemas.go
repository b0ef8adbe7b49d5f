package agentsim

import (
	"embed"
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Schema is a credential type the simulated agent can issue.
type Schema struct {
	Name    string
	Version string
	// Attributes are the schema's attribute names in their configured order.
	Attributes []string
}

//go:embed schemas/bc_registries_1.0.36.yml schemas/registries_ca_1.0.42.yml
var builtinFS embed.FS

// builtinFiles are the embedded schema sets, in lookup order.
var builtinFiles = []string{
	"schemas/bc_registries_1.0.36.yml",
	"schemas/registries_ca_1.0.42.yml",
}

// BuiltinSchemas returns the built-in credential types: the 2018
// *.bc_registries 1.0.36 set (registration, address, relationship) followed by
// the later *.registries.ca 1.0.42 set (registration, relationship,
// business_number).
func BuiltinSchemas() []Schema {
	var out []Schema
	for _, name := range builtinFiles {
		b, err := builtinFS.ReadFile(name)
		if err != nil {
			panic(err) // embedded: cannot happen
		}
		s, err := ParseSchemas(b)
		if err != nil {
			panic(fmt.Sprintf("agentsim: built-in %s: %v", name, err))
		}
		out = append(out, s...)
	}
	return out
}

// ParseSchemas parses credential types in the agent's schemas.yml format: a
// list of entries with name, version and attributes, where attributes is a
// list of names, a list of objects with a name, or a mapping from name to
// attribute details (label_en, description_en, required, … are ignored).
func ParseSchemas(data []byte) ([]Schema, error) {
	var entries []struct {
		Name       string    `yaml:"name"`
		Version    yaml.Node `yaml:"version"`
		Attributes yaml.Node `yaml:"attributes"`
	}
	if err := yaml.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("parse schemas: %w", err)
	}
	var out []Schema
	var errs []error
	for i, e := range entries {
		s := Schema{Name: e.Name, Version: e.Version.Value}
		if s.Name == "" {
			errs = append(errs, fmt.Errorf("schema %d: no name", i+1))
		}
		if e.Version.Kind != yaml.ScalarNode || s.Version == "" {
			errs = append(errs, fmt.Errorf("schema %d (%s): no version", i+1, s.Name))
		}
		attrs, err := attributeNames(&e.Attributes)
		if err != nil {
			errs = append(errs, fmt.Errorf("schema %d (%s): %w", i+1, s.Name, err))
		}
		s.Attributes = attrs
		out = append(out, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func attributeNames(n *yaml.Node) ([]string, error) {
	var names []string
	switch n.Kind {
	case yaml.SequenceNode:
		for _, item := range n.Content {
			switch item.Kind {
			case yaml.ScalarNode:
				names = append(names, item.Value)
			case yaml.MappingNode:
				var a struct {
					Name string `yaml:"name"`
				}
				if err := item.Decode(&a); err != nil || a.Name == "" {
					return nil, fmt.Errorf("line %d: attribute without a name", item.Line)
				}
				names = append(names, a.Name)
			default:
				return nil, fmt.Errorf("line %d: unsupported attribute", item.Line)
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			names = append(names, n.Content[i].Value)
		}
	default:
		return nil, errors.New("no attributes")
	}
	if len(names) == 0 {
		return nil, errors.New("no attributes")
	}
	return names, nil
}

func loadSchemaFile(path string) ([]Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSchemas(b)
}

// mergeSchemas puts the extra types first, then the built-in types that the
// extra ones do not replace (same name and version).
func mergeSchemas(extra, builtin []Schema) []Schema {
	out := append([]Schema(nil), extra...)
	seen := make(map[[2]string]bool, len(extra))
	for _, s := range extra {
		seen[[2]string{s.Name, s.Version}] = true
	}
	for _, s := range builtin {
		if !seen[[2]string{s.Name, s.Version}] {
			out = append(out, s)
		}
	}
	return out
}

// findVonX looks a credential type up the way VON-X does: the name must match
// exactly; a non-empty version must match exactly, and an absent or empty
// version takes the first type with that name.
func findVonX(types []Schema, name string, version string) (Schema, bool) {
	for _, s := range types {
		if s.Name == name && (version == "" || s.Version == version) {
			return s, true
		}
	}
	return Schema{}, false
}

// findExact looks a credential type up the way the controller does: name and
// version must both match.
func findExact(types []Schema, name, version string) (Schema, bool) {
	for _, s := range types {
		if s.Name == name && s.Version == version {
			return s, true
		}
	}
	return Schema{}, false
}
