package doctor

// ProblemWords exposes the problem table's headline and fix of a code (and
// of its second case) to the external tests.
func ProblemWords(code string) (title, fix, otherTitle, otherFix string, ok bool) {
	k, ok := problemKinds[code]
	if k.other != nil {
		otherTitle, otherFix = k.other.title, k.other.fix
	}
	return k.title, k.fix, otherTitle, otherFix, ok
}

// ProblemCodes lists the codes the table describes.
func ProblemCodes() []string {
	out := make([]string, 0, len(problemKinds))
	for code := range problemKinds {
		out = append(out, code)
	}
	return out
}
