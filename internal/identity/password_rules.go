package identity

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Password length limits, in Unicode code points after NFKC normalisation (NIST SP
// 800-63B §3.1.1.2).
const (
	// DefaultMinPasswordLength applies where a password may be the only factor.
	DefaultMinPasswordLength = 15
	// MinPasswordLengthWithMFA is the least a tenant that requires a second factor
	// may set, and the floor for any configuration.
	MinPasswordLengthWithMFA = 8
	// DefaultMaxPasswordLength is the default upper limit.
	DefaultMaxPasswordLength = 256
	// minMaxPasswordLength: NIST requires accepting at least 64 characters.
	minMaxPasswordLength = 64
	// maxMaxPasswordLength bounds the work CheckPassword and Hash do.
	maxMaxPasswordLength = 1024
)

// PasswordRules are the length limits of a tenant's passwords. There are no
// composition rules (NIST SP 800-63B): length, a blocklist of common passwords and
// checks for trivially guessable ones do the work instead.
type PasswordRules struct {
	// MinLength is the minimum length in code points (after NFKC). Default: 15; at
	// least 8 (values below are raised to 8).
	MinLength int
	// MaxLength is the maximum length in code points. Default: 256; at least 64 and at
	// most 1024 (values outside are clamped).
	MaxLength int
}

// PasswordRulesFor returns the default rules: minimum 15 code points, or 8 when the
// tenant requires a second factor.
func PasswordRulesFor(mfaRequired bool) PasswordRules {
	if mfaRequired {
		return PasswordRules{MinLength: MinPasswordLengthWithMFA}
	}
	return PasswordRules{MinLength: DefaultMinPasswordLength}
}

// Validate reports configured values that CheckPassword would have to adjust, for
// refusing a configuration at start-up.
func (r PasswordRules) Validate() error {
	var errs []error
	if r.MinLength != 0 && r.MinLength < MinPasswordLengthWithMFA {
		errs = append(errs, fmt.Errorf("minimum password length %d is below %d (NIST SP 800-63B)", r.MinLength, MinPasswordLengthWithMFA))
	}
	if r.MaxLength != 0 && (r.MaxLength < minMaxPasswordLength || r.MaxLength > maxMaxPasswordLength) {
		errs = append(errs, fmt.Errorf("maximum password length %d is outside [%d, %d]", r.MaxLength, minMaxPasswordLength, maxMaxPasswordLength))
	}
	if r.MinLength > maxMaxPasswordLength {
		errs = append(errs, fmt.Errorf("minimum password length %d exceeds %d", r.MinLength, maxMaxPasswordLength))
	}
	if r.MaxLength != 0 && r.MinLength > r.MaxLength {
		errs = append(errs, fmt.Errorf("minimum password length %d exceeds the maximum %d", r.MinLength, r.MaxLength))
	}
	return errors.Join(errs...)
}

// limits returns the effective minimum and maximum.
func (r PasswordRules) limits() (lo, hi int) {
	lo, hi = r.MinLength, r.MaxLength
	if lo == 0 {
		lo = DefaultMinPasswordLength
	}
	lo = min(max(lo, MinPasswordLengthWithMFA), maxMaxPasswordLength)
	if hi == 0 {
		hi = DefaultMaxPasswordLength
	}
	hi = min(max(hi, minMaxPasswordLength, lo), maxMaxPasswordLength)
	return lo, hi
}

// PasswordProblem is the machine-readable reason a password was refused (stable: the
// JSON API returns it).
type PasswordProblem string

// The problems CheckPassword reports.
const (
	PasswordInvalidCharacters PasswordProblem = "invalid_characters"
	PasswordTooShort          PasswordProblem = "too_short"
	PasswordTooLong           PasswordProblem = "too_long"
	PasswordContainsContext   PasswordProblem = "contains_context"
	PasswordCommon            PasswordProblem = "common"
	PasswordRepetitive        PasswordProblem = "repetitive"
	PasswordSequence          PasswordProblem = "sequence"
)

// PasswordError says why a new password was refused. Error returns Reason, a sentence
// that can be shown to the user as it is.
type PasswordError struct {
	Problem PasswordProblem
	Reason  string
}

func (e *PasswordError) Error() string { return e.Reason }

func passwordError(p PasswordProblem, reason string) *PasswordError {
	return &PasswordError{Problem: p, Reason: reason}
}

// CheckPassword judges a password being chosen (set-up, change, reset) and returns a
// *PasswordError when it must be refused:
//
//   - it is not valid UTF-8 or contains control characters;
//   - it is shorter or longer than rules allow, counted in code points after NFKC
//     normalisation (an emoji counts as one; the length Hash sees);
//   - it equals or contains, ignoring case, one of the context words of at least four
//     characters: each context string given (the e-mail address, the display name,
//     the tenant's name…), an e-mail's local part, each word of those, and "gatehouse";
//   - it is on the blocklist of common and breached passwords, ignoring case, spaces
//     and common character substitutions ("P@ssw0rd"), or is a blocklisted word with
//     a weak decoration ("Password2024!", "dragon123456789");
//   - it is one character, or a short or common pattern, repeated ("aaaaaaaaaaaaaaa",
//     "abcabcabcabcabc", "passwordpassword"), or uses at most two distinct characters;
//   - it is a simple sequence or keyboard walk, or two of them joined ("abcdefghijklmno",
//     "123456789012345", "qwertyuiopasdfg", "1qaz2wsx3edc4rfv", "qwerty123456789").
//
// Context strings may be empty; they are not part of the error, which names no detail
// an onlooker should not see.
func CheckPassword(pw string, rules PasswordRules, context ...string) error {
	lo, hi := rules.limits()
	if len(pw) > MaxPasswordBytes {
		return passwordError(PasswordTooLong, fmt.Sprintf("Use at most %d characters.", hi))
	}
	if !utf8.ValidString(pw) || strings.ContainsFunc(pw, unicode.IsControl) {
		return passwordError(PasswordInvalidCharacters, "The password contains characters that cannot be used (such as control characters).")
	}
	n := norm.NFKC.String(pw)
	if strings.ContainsFunc(n, unicode.IsControl) {
		return passwordError(PasswordInvalidCharacters, "The password contains characters that cannot be used (such as control characters).")
	}
	count := utf8.RuneCountInString(n)
	if count < lo {
		return passwordError(PasswordTooShort, fmt.Sprintf("Use at least %d characters.", lo))
	}
	if count > hi {
		return passwordError(PasswordTooLong, fmt.Sprintf("Use at most %d characters.", hi))
	}
	lower := strings.ToLower(n)
	if containsContextWord(lower, context) {
		return passwordError(PasswordContainsContext, "The password must not contain your name, your e-mail address or the name of this service.")
	}
	if isCommonPassword(lower) {
		return passwordError(PasswordCommon, "This password is too common: it is on lists of passwords that attackers try first.")
	}
	if isRepetitive(lower) {
		return passwordError(PasswordRepetitive, "The password is a repeated character or pattern.")
	}
	if isSequence(lower) {
		return passwordError(PasswordSequence, "The password is a simple sequence, such as abcdef, 123456 or a row of the keyboard.")
	}
	return nil
}

// minContextWord is the shortest context word checked: shorter ones ("al", "li")
// would refuse too many good passwords.
const minContextWord = 4

// containsContextWord reports whether lower (a lower-cased NFKC password) contains a
// context word, also after undoing character substitutions.
func containsContextWord(lower string, context []string) bool {
	undone := undoSubstitutions(lower)
	for _, w := range contextWords(context) {
		if strings.Contains(lower, w) || strings.Contains(undone, w) {
			return true
		}
	}
	return false
}

// contextWords derives the words a password must not contain from the context strings.
func contextWords(context []string) []string {
	words := []string{"gatehouse"}
	add := func(w string) {
		if utf8.RuneCountInString(w) >= minContextWord {
			words = append(words, w)
		}
	}
	notAlnum := func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
	for _, c := range context {
		c = strings.ToLower(norm.NFKC.String(strings.TrimSpace(c)))
		if c == "" {
			continue
		}
		add(c)
		if local, _, ok := strings.Cut(c, "@"); ok {
			// The e-mail, its local part and the local part's words; not the domain,
			// whose words ("gmail") say nothing about this user.
			c = local
			add(c)
		}
		for _, w := range strings.FieldsFunc(c, notAlnum) {
			add(w)
		}
	}
	return words
}

// substitutions undoes the character swaps people make to "strengthen" a word.
var substitutions = strings.NewReplacer(
	"@", "a", "4", "a",
	"3", "e",
	"1", "i", "!", "i", "|", "i",
	"0", "o",
	"$", "s", "5", "s",
	"7", "t", "+", "t",
)

func undoSubstitutions(s string) string { return substitutions.Replace(s) }

// squash removes the separators people put between words of a common phrase.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' || r == '_' || r == '.' {
			return -1
		}
		return r
	}, s)
}

// isCommonPassword reports whether lower is a blocklisted password, possibly with
// substitutions, separators, or a weak decoration of digits and symbols around it.
func isCommonPassword(lower string) bool {
	for _, c := range []string{lower, squash(lower)} {
		if blocklisted(c) || blocklisted(undoSubstitutions(c)) {
			return true
		}
		core, affix := splitDecoration(c)
		if core == c || utf8.RuneCountInString(core) < 3 {
			continue
		}
		if (blocklisted(core) || blocklisted(undoSubstitutions(core))) && isWeakDecoration(affix) {
			return true
		}
	}
	return false
}

// splitDecoration splits s into its core, from the first to the last letter, and the
// characters before and after it (joined).
func splitDecoration(s string) (core, affix string) {
	start := strings.IndexFunc(s, unicode.IsLetter)
	if start < 0 {
		return "", s
	}
	end := strings.LastIndexFunc(s, unicode.IsLetter)
	_, size := utf8.DecodeRuneInString(s[end:])
	end += size
	return s[start:end], s[:start] + s[end:]
}

// isWeakDecoration reports whether digits and symbols added to a common word add
// little: at most five characters once years (19xx, 20xx) are removed, or a sequence
// or repetition.
func isWeakDecoration(affix string) bool {
	if isSequence(affix) || isRepetitive(affix) {
		return true
	}
	rest := affix
	for i := 0; i+4 <= len(rest); {
		if y := rest[i : i+4]; (strings.HasPrefix(y, "19") || strings.HasPrefix(y, "20")) && isDigits(y) {
			rest = rest[:i] + rest[i+4:]
			continue
		}
		i++
	}
	return utf8.RuneCountInString(rest) <= 5
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isRepetitive reports whether s is a unit repeated (at least twice, the last time
// possibly cut short) where the unit is at most four characters long, is common or a
// sequence, or repeats three times or more; or whether s uses at most two distinct
// characters.
func isRepetitive(s string) bool {
	r := []rune(s)
	if len(r) == 0 {
		return false
	}
	distinct := map[rune]bool{}
	for _, c := range r {
		distinct[c] = true
	}
	if len(distinct) <= 2 {
		return true
	}
	p := smallestPeriod(r)
	if 2*p > len(r) {
		return false
	}
	unit := string(r[:p])
	return p <= 4 || len(r) >= 3*p || blocklisted(unit) || blocklisted(undoSubstitutions(unit)) || isSequence(unit)
}

// smallestPeriod returns the least p > 0 with r[i] == r[i-p] for every i >= p.
func smallestPeriod(r []rune) int {
	// Prefix function (Knuth–Morris–Pratt): the period is len - longest border.
	pi := make([]int, len(r))
	for i := 1; i < len(r); i++ {
		k := pi[i-1]
		for k > 0 && r[i] != r[k] {
			k = pi[k-1]
		}
		if r[i] == r[k] {
			k++
		}
		pi[i] = k
	}
	return len(r) - pi[len(r)-1]
}

// sequenceSources are cyclic orders people walk through: the alphabet, digits, and
// rows, columns and zigzags of common keyboard layouts (QWERTY, QWERTZ, AZERTY,
// Russian ЙЦУКЕН). A password that follows one of them, forwards or backwards,
// wrapping around, is a sequence.
var sequenceSources = []string{
	"abcdefghijklmnopqrstuvwxyz",
	"0123456789",
	"13579", "02468",
	"147258369", "123654789", "159357",
	"qwertyuiop", "asdfghjkl", "zxcvbnm",
	"qwertyuiopasdfghjklzxcvbnm",
	"qwertzuiopasdfghjklyxcvbnm",
	"azertyuiopqsdfghjklmwxcvbn",
	"1234567890qwertyuiopasdfghjklzxcvbnm",
	"1234567890-=", "!@#$%^&*()_+",
	"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/",
	"qazwsxedcrfvtgbyhnujmikolp",
	"zaq1xsw2cde3vfr4bgt5nhy6mju7,ki8.lo9/;p0",
	"1q2w3e4r5t6y7u8i9o0p",
	"q1w2e3r4t5y6u7i8o9p0",
	"1a2b3c4d5e6f7g8h9i",
	"a1b2c3d4e5f6g7h8i9",
	"qweasdzxc", "qweasd",
	"йцукенгшщзхъфывапролджэячсмитьбю",
	"абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
}

// minSequenceRun is the shortest run counted as part of a sequence.
const minSequenceRun = 3

// isSequence reports whether s is made of at most two runs, each following a sequence
// source for at least minSequenceRun characters ("abcdef", "987654321",
// "qwerty123456").
func isSequence(s string) bool {
	r := []rune(s)
	if len(r) < minSequenceRun {
		return false
	}
	runs := 0
	for i := 0; i < len(r); {
		n := longestSequenceRun(r[i:])
		if n < minSequenceRun {
			return false
		}
		if runs++; runs > 2 {
			return false
		}
		i += n
	}
	return true
}

// longestSequenceRun returns the length of the longest prefix of r that follows a
// sequence source, forwards or backwards.
func longestSequenceRun(r []rune) int {
	best := 0
	for _, src := range sequenceRunes {
		m := len(src)
		for start := range m {
			if src[start] != r[0] {
				continue
			}
			for _, step := range []int{1, m - 1} { // forwards, backwards
				n := 1
				for n < len(r) && src[(start+n*step)%m] == r[n] {
					n++
				}
				best = max(best, n)
			}
		}
	}
	return best
}

// sequenceRunes is sequenceSources as runes, for the cyclic walks.
var sequenceRunes = func() [][]rune {
	out := make([][]rune, len(sequenceSources))
	for i, s := range sequenceSources {
		out[i] = []rune(s)
	}
	return out
}()
