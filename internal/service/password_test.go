package service

import (
	"strings"
	"testing"
)

func TestHashAndVerifyPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Count(h, "$") != 5 {
		t.Errorf("hash %q is not an argon2id PHC string with the parameters", h)
	}
	if ok, err := VerifyPassword(h, "correct horse battery"); err != nil || !ok {
		t.Errorf("the right password: %v %v", ok, err)
	}
	if ok, err := VerifyPassword(h, "correct horse batterY"); err != nil || ok {
		t.Errorf("a wrong password: %v %v", ok, err)
	}
	if h2, _ := HashPassword("correct horse battery"); h2 == h {
		t.Error("two hashes of one password are equal: no fresh salt")
	}
	// Other parameters, recorded in the string, verify too.
	cheap := "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
	// Made with argon2.IDKey([]byte("pw"), []byte("somesaltsomesalt"), 1, 64, 1, 32).
	key := "wVPmr8YCG4Fj38wYmUodwjrjD2So6mDJ74QQA19H2Fk"
	ok, err := VerifyPassword(cheap+key, "pw")
	if err != nil || !ok {
		t.Errorf("a hash with other parameters: %v %v", ok, err)
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	for _, h := range []string{
		"",
		"plain",
		"$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$wVPmr8YCG4Fj38wYmUodwjrjD2So6mDJ74QQA19H2Fk",
		"$argon2id$v=18$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$wVPmr8YCG4Fj38wYmUodwjrjD2So6mDJ74QQA19H2Fk",
		"$argon2id$v=19$m=99999999,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$wVPmr8YCG4Fj38wYmUodwjrjD2So6mDJ74QQA19H2Fk",
		"$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHRzb21lc2FsdA$wVPmr8YCG4Fj38wYmUodwjrjD2So6mDJ74QQA19H2Fk",
		"$argon2id$v=19$m=64,t=1,p=0$c29tZXNhbHRzb21lc2FsdA$wVPmr8YCG4Fj38wYmUodwjrjD2So6mDJ74QQA19H2Fk",
		"$argon2id$v=19$m=64,t=1,p=1,x=2$c29tZXNhbHRzb21lc2FsdA$wVPmr8YCG4Fj38wYmUodwjrjD2So6mDJ74QQA19H2Fk",
		"$argon2id$v=19$m=64,t=1,p=1$!!!$wVPmr8YCG4Fj38wYmUodwjrjD2So6mDJ74QQA19H2Fk",
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$short",
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$wVPmr8YCG4Fj38wYmUodwjrjD2So6mDJ74QQA19H2Fk$extra",
	} {
		if ok, err := VerifyPassword(h, "pw"); ok || err != ErrMalformedHash {
			t.Errorf("VerifyPassword(%q) = %v, %v; want ErrMalformedHash", h, ok, err)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	for pw, ok := range map[string]bool{
		"":                       false,
		"short":                  false,
		"eight ch":               true,
		"ünïcødé!":               true,
		"nul\x00inside password": false,
		strings.Repeat("x", 256): true,
		strings.Repeat("x", 257): false,
		string([]byte{0xff, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}): false,
	} {
		if err := ValidatePassword(pw); (err == nil) != ok {
			t.Errorf("ValidatePassword(%.20q) = %v, want ok %v", pw, err, ok)
		}
	}
}
