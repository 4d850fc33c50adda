package identity

import (
	"errors"
	"strings"
	"testing"
)

func checkProblem(t *testing.T, pw string, rules PasswordRules, want PasswordProblem, context ...string) {
	t.Helper()
	err := CheckPassword(pw, rules, context...)
	if want == "" {
		if err != nil {
			t.Errorf("CheckPassword(%q) = %v; want nil", pw, err)
		}
		return
	}
	var pe *PasswordError
	if !errors.As(err, &pe) {
		t.Errorf("CheckPassword(%q) = %v; want a *PasswordError (%s)", pw, err, want)
		return
	}
	if pe.Problem != want {
		t.Errorf("CheckPassword(%q) problem %s (%s); want %s", pw, pe.Problem, pe.Reason, want)
	}
	if pe.Error() != pe.Reason || pe.Reason == "" {
		t.Errorf("CheckPassword(%q): Error() %q, Reason %q", pw, pe.Error(), pe.Reason)
	}
}

// distinct returns n code points with no pattern: a pseudo-random walk over letters,
// digits and a few non-ASCII characters.
func distinct(n int) string {
	const alphabet = "kq7vzm2xjw9bhr4ftn8gcyp3dls5"
	extra := []rune("ßçøåñ")
	var b strings.Builder
	x := uint32(2463534242)
	for i := range n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		if i%7 == 6 {
			b.WriteRune(extra[x%uint32(len(extra))])
		} else {
			b.WriteByte(alphabet[x%uint32(len(alphabet))])
		}
	}
	return b.String()
}

func TestPasswordRulesLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		rules  PasswordRules
		lo, hi int
	}{
		{PasswordRules{}, 15, 256},
		{PasswordRules{MinLength: 8}, 8, 256},
		{PasswordRules{MinLength: 3}, 8, 256}, // NIST floor
		{PasswordRules{MinLength: 20, MaxLength: 100}, 20, 100},
		{PasswordRules{MaxLength: 10}, 15, 64},     // at least 64 accepted
		{PasswordRules{MaxLength: 5000}, 15, 1024}, // bounded work
		{PasswordRules{MinLength: 300, MaxLength: 256}, 300, 300},
	}
	for _, c := range cases {
		if lo, hi := c.rules.limits(); lo != c.lo || hi != c.hi {
			t.Errorf("%+v: limits %d, %d; want %d, %d", c.rules, lo, hi, c.lo, c.hi)
		}
	}
	if r := PasswordRulesFor(false); r.MinLength != 15 {
		t.Errorf("PasswordRulesFor(false) = %+v", r)
	}
	if r := PasswordRulesFor(true); r.MinLength != 8 {
		t.Errorf("PasswordRulesFor(true) = %+v", r)
	}
}

func TestPasswordRulesValidate(t *testing.T) {
	t.Parallel()
	for _, r := range []PasswordRules{{}, {MinLength: 8}, {MinLength: 15, MaxLength: 64}, {MaxLength: 1024}} {
		if err := r.Validate(); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	for r, want := range map[PasswordRules]string{
		{MinLength: 6}:                  "below 8",
		{MaxLength: 32}:                 "outside [64, 1024]",
		{MaxLength: 2000}:               "outside [64, 1024]",
		{MinLength: 100, MaxLength: 64}: "exceeds the maximum",
		{MinLength: 2000}:               "exceeds 1024",
	} {
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v; want %q", r, err, want)
		}
	}
}

func TestPasswordLengthInCodePoints(t *testing.T) {
	t.Parallel()
	emoji := []rune("🙂🐱🚀🌍🎉🍕🎸📚⚽🌈🔥💡🎲🧩🦊🐙")
	def := PasswordRules{}
	checkProblem(t, string(emoji[:15]), def, "")               // 15 code points, 60 bytes
	checkProblem(t, string(emoji[:14]), def, PasswordTooShort) // 14 code points, 56 bytes
	checkProblem(t, distinct(15), def, "")
	checkProblem(t, distinct(14), def, PasswordTooShort)
	checkProblem(t, distinct(256), def, "")
	checkProblem(t, distinct(257), def, PasswordTooLong)
	checkProblem(t, distinct(8), PasswordRules{MinLength: 8}, "")
	checkProblem(t, distinct(7), PasswordRules{MinLength: 8}, PasswordTooShort)
	checkProblem(t, distinct(64), PasswordRules{MaxLength: 64}, "")
	checkProblem(t, distinct(65), PasswordRules{MaxLength: 64}, PasswordTooLong)
	checkProblem(t, strings.Repeat("x", MaxPasswordBytes+1), def, PasswordTooLong)
	// Counted after NFKC: the ligature "ﬁ" is two code points, "e"+combining accent one.
	base := distinct(13)
	checkProblem(t, base+"\ufb01", def, "")                // 13 + 2
	checkProblem(t, base+"e\u0301", def, PasswordTooShort) // 13 + 1 (é)
	// The reason names the limit.
	err := CheckPassword("short", def)
	if err == nil || err.Error() != "Use at least 15 characters." {
		t.Errorf("too short: %v", err)
	}
}

func TestPasswordInvalidCharacters(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{
		distinct(15) + "\x00",
		distinct(15) + "\t",
		"line one\nline two is long",
		distinct(15) + "\x7f",
		distinct(15) + "\u0085", // NEL
		distinct(15) + "\xff",   // invalid UTF-8
	} {
		checkProblem(t, pw, PasswordRules{}, PasswordInvalidCharacters)
	}
	// Spaces and any printable Unicode are fine (NIST: accept all).
	checkProblem(t, "  spaces   are  fine here  ", PasswordRules{}, "")
	checkProblem(t, "Ünïcødé ïs wélcome ☃ ✓ 漢字", PasswordRules{}, "")
}

func TestPasswordBlocklist(t *testing.T) {
	t.Parallel()
	eight := PasswordRules{MinLength: 8}
	for _, pw := range []string{
		"password", "PASSWORD", "Password", "iloveyou", "sunshine", "12345678", "football",
		"P@ssw0rd", "p@$$w0rd", "passw0rd", "Pa55word", "trustno1", "letmein1", "baseball",
		"pass word", "pass-word", "superman", "liverpool", "yankees1",
		"contraseña", "пароль12", "ЙЦУКЕН12", "woaini1314",
		// blocklisted word with a weak decoration
		"password1", "Password123", "password2024", "Password2024!", "!!password!!",
		"dragon12", "monkey!!", "summer2023!", "123sunshine123",
	} {
		checkProblem(t, pw, eight, PasswordCommon)
	}
	for _, pw := range []string{
		"correct horse battery staple", "CorrectHorseBatteryStaple", "correct-horse-battery-staple",
		"thequickbrownfox", "iloveyouforever", "Password2024!!!!", "dragon123456789",
		"P@ssw0rd12345678", "supercalifragilisticexpialidocious", "passwordpassword",
		// a common start and a sequence: common first
		"qwerty1234567890", "abcdefgh12345678", "12345678abcdefgh", "asdfghjkl1234567",
	} {
		checkProblem(t, pw, PasswordRules{}, PasswordCommon)
	}
	// A common word with enough added is not refused for the word alone.
	checkProblem(t, "sunshine 83629 kettle", PasswordRules{}, "")
	checkProblem(t, "password-manager-generated-9X7q", PasswordRules{}, "")
}

func TestPasswordContext(t *testing.T) {
	t.Parallel()
	ctx := []string{"Alice.Smith@Example.com", "Alice Smith"}
	def := PasswordRules{}
	for _, pw := range []string{
		"alice.smith@example.com",
		"ALICE.SMITH@EXAMPLE.COM!",
		"my name is alice smith",
		"alice.smith rocks hard",
		"the smithsonian museum",   // contains "smith"
		"@lice in wonderland 1865", // substitution undone
		"ＡＬＩＣＥ in wonderland!!",    // fullwidth: NFKC
		"gatehouse is my gateway",
		"GateHouse-2024-login!",
	} {
		checkProblem(t, pw, def, PasswordContainsContext, ctx...)
	}
	// Words under four characters and the e-mail domain are not context.
	checkProblem(t, "calligraphy by lamplight", def, "", "al.li@example.com", "Al Li")
	checkProblem(t, "gmail is where mail lives", def, "", "bob@gmail.com", "")
	checkProblem(t, "example of a good passphrase", def, "", "bob@example.com")
	// Context strings are optional.
	checkProblem(t, "a fine long passphrase", def, "")
}

func TestPasswordRepetitive(t *testing.T) {
	t.Parallel()
	def := PasswordRules{}
	for _, pw := range []string{
		"aaaaaaaaaaaaaaa", "AAAAAAAAAAAAAAA", "111111111111111", "...............",
		"               ", "🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂",
		"abababababababab", "abcabcabcabcabc", "abcdabcdabcdabcd", "xyz1xyz1xyz1xyz1",
		"aaaaaaaabbbbbbbb", "ab ab ab ab ab ab",
		"kq7vzkq7vzkq7vzkq7vz", // any unit three times
		"hunter2hunter2hunter2",
		"qwertyqwertyqwerty",
	} {
		checkProblem(t, pw, def, PasswordRepetitive)
	}
	checkProblem(t, "letmeinletmein", PasswordRules{MinLength: 8}, PasswordRepetitive)
	checkProblem(t, "2468024680246", PasswordRules{MinLength: 8}, PasswordRepetitive) // even digits, cycled
	checkProblem(t, "abcdefabcdefabcd", def, PasswordRepetitive)                      // a sequence unit
	// Twice an unremarkable phrase is allowed.
	checkProblem(t, "purple otter purple otter", def, "")
}

func TestPasswordSequence(t *testing.T) {
	t.Parallel()
	def := PasswordRules{}
	for _, pw := range []string{
		"abcdefghijklmnop", "ABCDEFGHIJKLMNOP", "ponmlkjihgfedcba",
		"123456789012345", "987654321098765", "0123456789012345",
		"qwertyuiopasdfgh", "poiuytrewqlkjhgf", "qwertzuiopasdfgh", "azertyuiopqsdfgh",
		"1qaz2wsx3edc4rfv", "zaq1xsw2cde3vfr4", "1q2w3e4r5t6y7u8i",
		"wertyu1234567890", "bcdefghi12345678", "87654321zyxwvuts", "sdfghjkl12345678",
		"йцукенгшщзхъфыва",
		"xyzabcdefghijklm", // wraps around
	} {
		checkProblem(t, pw, def, PasswordSequence)
	}
	// Three or more runs, or runs shorter than three, are not "simple".
	checkProblem(t, "abc-123-xyz-789-qwe", def, "")
	checkProblem(t, "acegikmoqsuwyb12", def, "")
}

func TestPasswordAccepts(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{
		"vivid otter lantern maple",
		"Tr0ub4dour&3 horse",
		"n7Kq#vP2!zL9mW4x",
		"my cat eats 3 tacos daily",
		"ça ne se devine pas du tout",
		"🦊 jumps over 🐶 at 9pm",
		distinct(40),
	} {
		checkProblem(t, pw, PasswordRules{}, "", "carol@example.com", "Carol Danvers")
	}
}

// FuzzCheckPassword checks that any input gets an answer without panicking, and that
// every refusal is a *PasswordError with a reason.
func FuzzCheckPassword(f *testing.F) {
	for _, s := range []string{"", "password", "abcabcabc", "qwerty123456789", "🙂🙂", "\xff", "ﬁ"} {
		f.Add(s, "someone@example.com")
	}
	f.Fuzz(func(t *testing.T, pw, ctx string) {
		err := CheckPassword(pw, PasswordRules{MinLength: 8}, ctx)
		var pe *PasswordError
		if err != nil && (!errors.As(err, &pe) || pe.Reason == "" || pe.Problem == "") {
			t.Fatalf("CheckPassword(%q): %#v", pw, err)
		}
	})
}
