package contracts

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// builtinFS holds the built-in contracts, one XSD file per contract.
//
//go:embed builtin/*.xsd
var builtinFS embed.FS

// BuiltinNames lists the names of the built-in contracts, sorted.
func BuiltinNames() []string {
	entries, err := fs.ReadDir(builtinFS, "builtin")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".xsd"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Builtin returns a freshly loaded built-in contract by name (e.g. "gcrm").
func Builtin(name string) (*Contract, error) {
	for _, n := range BuiltinNames() {
		if n == name {
			return LoadFS(builtinFS, "builtin/"+name+".xsd", name)
		}
	}
	return nil, fmt.Errorf("no built-in contract %q (have: %s)", name, strings.Join(BuiltinNames(), ", "))
}

// Open returns the built-in contract called nameOrPath, or else loads the
// contract file at that path (its name is the file name without extension).
func Open(nameOrPath string) (*Contract, error) {
	for _, n := range BuiltinNames() {
		if n == nameOrPath {
			return Builtin(n)
		}
	}
	if _, err := os.Stat(nameOrPath); err != nil {
		return nil, fmt.Errorf("contract %q is neither a built-in (%s) nor a readable file: %w",
			nameOrPath, strings.Join(BuiltinNames(), ", "), err)
	}
	return Load(nameOrPath, "")
}
