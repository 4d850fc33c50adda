package notify

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// templateFuncs are available to every template, text and HTML alike, so that an
// override written for one works in the other.
var templateFuncs = map[string]any{
	"duration": humanDuration,
	"datetime": formatTime,
	"anomaly":  anomalyLabel,
	"oneline":  oneLine,
}

// humanDuration writes a lock duration as people say it: "15 minutes", "1 hour",
// "1 hour 30 minutes", "2 days".
func humanDuration(d time.Duration) string {
	if d < time.Minute {
		return plural(int(d.Round(time.Second)/time.Second), "second")
	}
	d = d.Round(time.Minute)
	days, hours, minutes := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	// Up to a day reads better in hours ("24 hours" is the lockout cap).
	if days > 0 && (hours != 0 || minutes != 0 || days == 1) {
		hours += 24 * days
		days = 0
	}
	if days > 0 {
		parts = append(parts, plural(days, "day"))
	}
	if hours > 0 {
		parts = append(parts, plural(hours, "hour"))
	}
	if minutes > 0 {
		parts = append(parts, plural(minutes, "minute"))
	}
	return strings.Join(parts, " ")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// formatTime writes t in UTC, saying so: the mail cannot know the reader's zone.
func formatTime(t time.Time) string {
	return t.UTC().Format("Mon, 2 Jan 2006 15:04 UTC")
}

// anomalyLabel turns an anomaly code into words for a sentence "We noticed …".
func anomalyLabel(code string) string {
	switch code {
	case AnomalyNewDevice:
		return "a device not used before with this account"
	case AnomalyNewCountry:
		return "a country not signed in from before"
	case AnomalyImpossibleTravel:
		return "a location too far from the previous sign-in to have travelled in the time between"
	}
	return oneLine(code)
}

// maxFieldRunes caps a client-supplied value (a user agent) in a mail.
const maxFieldRunes = 200

// oneLine makes a client-supplied value safe to print in a line of a plain-text
// mail: control characters (a newline could start a fake paragraph with a fake
// link) become spaces, bidirectional overrides (which can make text read backwards)
// are dropped, and the value is cut at maxFieldRunes. HTML escaping is left to
// html/template.
func oneLine(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		switch {
		case isBidiControl(r):
			continue
		case unicode.IsControl(r):
			r = ' '
		}
		if n == maxFieldRunes {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func isBidiControl(r rune) bool {
	return (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') ||
		r == '\u200e' || r == '\u200f' || r == '\u061c'
}
