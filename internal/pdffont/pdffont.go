// Package pdffont embeds the Unicode fonts Gatehouse's PDF documents use: DejaVu
// Sans (regular and bold), which covers Latin with its extensions, Greek and Cyrillic.
// The fonts are free (see LICENSE-DejaVu beside them: the Bitstream Vera licence and
// public-domain changes); a PDF embeds the subset of glyphs it uses.
package pdffont

import _ "embed"

// Family is the name the fonts are registered under in a document.
const Family = "DejaVuSans"

// Regular is DejaVuSans.ttf.
//
//go:embed DejaVuSans.ttf
var Regular []byte

// Bold is DejaVuSans-Bold.ttf.
//
//go:embed DejaVuSans-Bold.ttf
var Bold []byte
