package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The domain services every command uses are built in one place,
// internal/wiring.Build: serve through the platform, the one-shot commands
// through openCLIEnv. A command that filled in its own service would run
// with other options than the API's (sign-up policy, mail, bus): this test
// fails on any such struct literal in the command's code.
func TestServicesComeFromTheRoot(t *testing.T) {
	const mod = "github.com/gatehouse/gatehouse/"
	built := map[string]bool{ // what internal/wiring.Build makes
		mod + "tenants/accounts.Service": true,
		mod + "tenants.Provisioner":      true,
		mod + "tenants/oauth.Server":     true,
		mod + "tenants/access.Verifier":  true,
		mod + "tenants/keys.Rotation":    true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		imports := map[string]string{} // local name -> import path
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			local := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			imports[local] = path
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := lit.Type.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && built[imports[pkg.Name]+"."+sel.Sel.Name] {
				t.Errorf("%s builds its own %s.%s: take it from internal/wiring.Build (openCLIEnv or the platform)", fset.Position(lit.Pos()), pkg.Name, sel.Sel.Name)
			}
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("only %d files checked: run from cmd/gatehouse", checked)
	}
}
