package risk

import "strings"

// UnknownBrowser is the DeviceLabel of a User-Agent that names no browser we know.
const UnknownBrowser = "Unknown browser"

// DeviceLabel names the device coarsely, as "Browser on OS" ("Chrome on Linux",
// "Safari on iOS"), for the "new sign-in from …" mail and the session list.
//
// It is coarse on purpose: versions are left out so that an automatic browser update
// does not make every device look new (the label is part of DeviceKey), and because
// the User-Agent is client-supplied and proves nothing — it is a hint for humans, and
// a change of browser or OS is the only signal taken from it.
func DeviceLabel(userAgent string) string {
	browser := browserName(userAgent)
	if browser == "" {
		return UnknownBrowser
	}
	if osn := osName(userAgent); osn != "" {
		return browser + " on " + osn
	}
	return browser
}

// uaToken maps a product token found in a User-Agent to a display name.
type uaToken struct{ token, name string }

// browserTokens is ordered: most browsers also claim to be the ones they are built
// on (Edge says "Chrome/… Safari/…", Chrome says "Safari/…"), so the most specific
// token must win. The iOS tokens (CriOS, FxiOS, EdgiOS) come from browsers that all
// run on WebKit there, and still deserve their own name.
var browserTokens = []uaToken{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"Edge/", "Edge"},
	{"OPR/", "Opera"}, {"OPT/", "Opera"}, {"OPiOS/", "Opera"}, {"Opera", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"YaBrowser/", "Yandex Browser"},
	{"Vivaldi/", "Vivaldi"},
	{"FxiOS/", "Firefox"}, {"Firefox/", "Firefox"},
	{"CriOS/", "Chrome"}, {"Chrome/", "Chrome"}, {"Chromium/", "Chrome"},
	{"MSIE ", "Internet Explorer"}, {"Trident/", "Internet Explorer"},
}

func browserName(ua string) string {
	for _, t := range browserTokens {
		if strings.Contains(ua, t.token) {
			return t.name
		}
	}
	// Safari names itself only as "Version/x Safari/y"; many embedded web views and
	// crawlers say "Safari" without "Version/", and are not Safari.
	if strings.Contains(ua, "Safari/") && strings.Contains(ua, "Version/") {
		return "Safari"
	}
	return ""
}

// osTokens is ordered for the same reason as browserTokens: iPhones say "like Mac OS
// X", Android and ChromeOS say "Linux".
var osTokens = []uaToken{
	{"iPhone", "iOS"}, {"iPad", "iOS"}, {"iPod", "iOS"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Windows", "Windows"},
	{"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
	{"Linux", "Linux"},
}

func osName(ua string) string {
	for _, t := range osTokens {
		if strings.Contains(ua, t.token) {
			return t.name
		}
	}
	return ""
}
