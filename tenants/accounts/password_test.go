package accounts

import (
	"strings"
	"testing"
)

func TestHashPasswordIsArgon2idPHCAndVerifies(t *testing.T) {
	p := Params{Memory: 64, Time: 1, Threads: 1}
	h, err := HashPassword("a long enough pass", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("not a PHC argon2id string: %s", h)
	}
	h2, _ := HashPassword("a long enough pass", p)
	if h == h2 {
		t.Fatal("same hash twice: salt not random")
	}
	if ok, err := VerifyPassword(h, "a long enough pass"); !ok || err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	if ok, _ := VerifyPassword(h, "a long enough pasS"); ok {
		t.Fatal("wrong password accepted")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=64,t=0,p=1$AAAA$AAAA", "$argon2id$v=19$m=64,t=1,p=1$!!$AAAA"} {
		if ok, err := VerifyPassword(bad, "x"); ok || err == nil {
			t.Errorf("malformed hash %q: ok=%v err=%v", bad, ok, err)
		}
	}
	if DefaultParams.Memory < 19*1024 || DefaultParams.Time < 2 {
		t.Fatalf("default parameters below OWASP's argon2id minimum: %+v", DefaultParams)
	}
}

func TestCheckPasswordRules(t *testing.T) {
	for pw, want := range map[string]string{
		"short1!":                "at least 10",
		strings.Repeat("x", 201): "at most 200",
		"password123":            "most common",
		"Password123!":           "most common",
		"qwertyuiop":             "most common",
		"ada.lovelace-2024":      "email address",
		"my-gatehouse-pass":      "name of this service",
		"aaaaaaaaaaaa":           "repeated",
		"abcabcabcabc":           "repeated",
		"klmnopqrstu":            "sequential",
		"zyxwvutsrqpo":           "sequential",
		"correct horse battery":  "",
		"tr0ub4dor&3-staple":     "",
	} {
		got := CheckPassword(pw, "ada.lovelace@example.com")
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("CheckPassword(%q) = %q, want %q", pw, got, want)
		}
	}
}
