//go:build !race

package admin

// raceDetector tells a test that the race detector is on (see race_on_test.go).
const raceDetector = false
