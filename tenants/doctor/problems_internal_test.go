package doctor

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
)

// parsePackage parses the package's non-test files.
func parsePackage(t *testing.T) (*token.FileSet, map[string]*ast.File) {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*ast.File{}
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		src, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, n, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files[n] = f
	}
	return fset, files
}

// problemConsts are the Problem* constants declared in the package, by name.
func problemConsts(files map[string]*ast.File) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Problem") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						v, _ := strconv.Unquote(lit.Value)
						out[name.Name] = v
					}
				}
			}
		}
	}
	return out
}

// Every problem code has one complete entry in the table: the step it
// fails, a headline and a fix, both for its second case if it has one,
// and non-empty fixes keyed by reason words. A code declared without an
// entry, or an entry for no declared code, fails.
func TestEveryProblemCodeIsFullyDescribed(t *testing.T) {
	_, files := parsePackage(t)
	consts := problemConsts(files)
	if len(consts) < len(problemKinds) || len(consts) == 0 {
		t.Fatalf("found %d Problem* constants, the table has %d entries", len(consts), len(problemKinds))
	}
	declared := map[string]bool{}
	for name, code := range consts {
		declared[code] = true
		k, ok := problemKinds[code]
		if !ok {
			t.Errorf("%s (%q) has no entry in problemKinds", name, code)
			continue
		}
		if StepLabel(k.step) == k.step {
			t.Errorf("%s: step %q is not a funnel step", code, k.step)
		}
		if k.title == "" || k.fix == "" {
			t.Errorf("%s: title %q, fix %q: both are required", code, k.title, k.fix)
		}
		if k.other != nil && (k.other.title == "" || k.other.fix == "") {
			t.Errorf("%s: second case %+v lacks words", code, *k.other)
		}
		for _, rf := range k.fixFor {
			if len(rf.words) == 0 || rf.fix == "" {
				t.Errorf("%s: reason fix %+v is incomplete", code, rf)
			}
		}
		for _, text := range []string{k.title, k.fix} {
			if strings.Contains(text, "{issuer}") || strings.Contains(text, "{domain}") {
				t.Errorf("%s: %q names a placeholder the customer cannot fill", code, text)
			}
		}
	}
	for code := range problemKinds {
		if !declared[code] {
			t.Errorf("problemKinds has an entry for %q, which is no declared Problem* constant", code)
		}
	}
}

// Every failure after the token maps to a code whose entry can list it
// beside another problem (its phrase) — for each refusal reason, an
// unknown one, and the failing actions.
func TestEveryFailureAfterTheTokenHasAPhrase(t *testing.T) {
	var evs []tenants.AuditEvent
	for r := range ReasonWords {
		evs = append(evs, tenants.AuditEvent{Action: tenants.ActMCPDenied, Reason: r})
	}
	evs = append(evs,
		tenants.AuditEvent{Action: tenants.ActMCPDenied, Reason: "some_future_reason"},
		tenants.AuditEvent{Action: tenants.ActUpstreamFailed},
		tenants.AuditEvent{Action: tenants.ActRefreshReused},
		tenants.AuditEvent{Action: tenants.ActTokenRefreshed, Outcome: tenants.OutcomeFailure})
	for _, ev := range evs {
		code := failureCode(ev)
		k, ok := problemKinds[code]
		if !ok || k.phrase == "" || k.step != StepMCP {
			t.Errorf("%s %q → %q: entry %+v has no phrase or is not an MCP step problem", ev.Action, ev.Reason, code, k)
		}
	}
	// Each listed reason belongs to one code only.
	seen := map[string]string{}
	for code, k := range problemKinds {
		for _, r := range k.reasons {
			if other, dup := seen[r]; dup {
				t.Errorf("reason %q listed by %s and %s", r, code, other)
			}
			seen[r] = code
		}
	}
}

// A Problem is only built by newProblem, from a declared code: no composite
// literal of Problem elsewhere (it could carry words the table lacks), and
// every newProblem call names a Problem* constant or a failure's code.
func TestProblemsAreBuiltOnlyFromTheTable(t *testing.T) {
	fset, files := parsePackage(t)
	consts := problemConsts(files)
	calls := 0
	for name, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "Problem" && name != "problems.go" {
					t.Errorf("%s: Problem literal outside problems.go (use newProblem)", fset.Position(n.Pos()))
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "newProblem" {
					calls++
					// A Problem* constant, or a failure's code, which
					// failureCode chose (TestEveryFailureAfterTheTokenHasAPhrase).
					ok := false
					switch arg := n.Args[0].(type) {
					case *ast.Ident:
						ok = consts[arg.Name] != ""
					case *ast.SelectorExpr:
						x, isIdent := arg.X.(*ast.Ident)
						ok = isIdent && x.Name == "f" && arg.Sel.Name == "code"
					}
					if !ok {
						t.Errorf("%s: newProblem's code is neither a Problem* constant nor a failure's code", fset.Position(n.Pos()))
					}
				}
			}
			return true
		})
	}
	if calls == 0 {
		t.Fatal("no newProblem call found: the check read nothing")
	}
}

// Every status and step state has words for its pill, not its code.
func TestPillsAreWords(t *testing.T) {
	for _, s := range []string{StatusOK, StatusFailing, StatusInProgress, StatusIdle, StatusUnverified, StatusNoClients} {
		if l := StatusLabel(s); l == "" || l == s || strings.Contains(l, "_") {
			t.Errorf("status %q has pill %q", s, l)
		}
	}
	for _, s := range []string{StateDone, StateFailed, StatePending, StateSkipped} {
		if l := StateLabel(s); l == "" || l == s {
			t.Errorf("state %q has pill %q", s, l)
		}
	}
	for _, s := range steps {
		if s.label == "" || StepLabel(s.step) != s.label {
			t.Errorf("step %q has label %q", s.step, s.label)
		}
	}
}
