// Package csvsafe keeps the CSV files Gatehouse hands out (permission review, audit
// export) from being run as formulas by a spreadsheet (CSV injection).
package csvsafe

import "strings"

// Cell defuses a value a spreadsheet could take for a formula: one that starts with
// =, +, -, @, a tab or a carriage return gets a leading '.
func Cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Row defuses every cell of row in place and returns it.
func Row(row []string) []string {
	for i := range row {
		row[i] = Cell(row[i])
	}
	return row
}
