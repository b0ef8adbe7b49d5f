package agentsim

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBuiltinSchemas(t *testing.T) {
	t.Parallel()
	type summary struct {
		Name, Version string
		Attributes    int
	}
	var got []summary
	for _, s := range BuiltinSchemas() {
		got = append(got, summary{s.Name, s.Version, len(s.Attributes)})
	}
	// docs/design/agent.md §7.
	want := []summary{
		{"registration.bc_registries", "1.0.36", 17},
		{"address.bc_registries", "1.0.36", 10},
		{"relationship.bc_registries", "1.0.36", 7},
		{"registration.registries.ca", "1.0.42", 19},
		{"relationship.registries.ca", "1.0.42", 10},
		{"business_number.registries.ca", "1.0.42", 5},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("built-in schemas (-want +got):\n%s", diff)
	}
	rel := BuiltinSchemas()[2]
	wantRel := []string{"registration_id", "associated_registration_id", "relationship", "relationship_description",
		"relationship_status", "relationship_status_effective", "effective_date"}
	if diff := cmp.Diff(wantRel, rel.Attributes); diff != "" {
		t.Errorf("relationship.bc_registries attributes (-want +got):\n%s", diff)
	}
}

func TestParseSchemas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string
		want    []Schema
		wantErr bool
	}{
		{
			name: "list_of_names",
			yaml: "- name: a\n  version: '1.0.0'\n  attributes:\n    - x\n    - y\n",
			want: []Schema{{"a", "1.0.0", []string{"x", "y"}}},
		},
		{
			name: "mapping_with_details",
			yaml: "- name: a\n  version: '1.0.42'\n  label_en: A\n  attributes:\n    y:\n      label_en: Y\n      required: true\n    x:\n",
			want: []Schema{{"a", "1.0.42", []string{"y", "x"}}},
		},
		{
			name: "list_of_objects_and_unquoted_version",
			yaml: "- name: a\n  version: 1.0\n  attributes:\n    - name: x\n      required: false\n",
			want: []Schema{{"a", "1.0", []string{"x"}}},
		},
		{name: "no_version", yaml: "- name: a\n  attributes: [x]\n", wantErr: true},
		{name: "no_attributes", yaml: "- name: a\n  version: '1'\n", wantErr: true},
		{name: "not_a_list", yaml: "name: a\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSchemas([]byte(tc.yaml))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSchemaLookup(t *testing.T) {
	t.Parallel()
	extra := []Schema{
		{"registration.bc_registries", "1.0.37", []string{"registration_id"}},
		{"registration.bc_registries", "1.0.36", []string{"only_this"}},
	}
	types := mergeSchemas(extra, BuiltinSchemas())
	tests := []struct {
		name, schema, version string
		exact                 bool
		want                  string // version found, "" for none
	}{
		{"file_types_come_first", "registration.bc_registries", "", false, "1.0.37"},
		{"exact_version", "registration.bc_registries", "1.0.36", false, "1.0.36"},
		{"unknown_version", "registration.bc_registries", "1.0.1", false, ""},
		{"case_sensitive_name", "Registration.bc_registries", "", false, ""},
		{"controller_needs_version", "registration.registries.ca", "", true, ""},
		{"controller_exact", "registration.registries.ca", "1.0.42", true, "1.0.42"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			find := findVonX
			if tc.exact {
				find = findExact
			}
			s, ok := find(types, tc.schema, tc.version)
			got := ""
			if ok {
				got = s.Version
			}
			if got != tc.want {
				t.Errorf("found %q, want %q", got, tc.want)
			}
		})
	}
	// The file's 1.0.36 replaces the built-in one.
	if s, _ := findVonX(types, "registration.bc_registries", "1.0.36"); len(s.Attributes) != 1 {
		t.Errorf("override not applied: %v", s.Attributes)
	}
	if n := len(types); n != 7 {
		t.Errorf("%d types, want 7", n)
	}
}
