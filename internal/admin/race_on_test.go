//go:build race

package admin

// raceDetector tells a test that the race detector is on (go test -race, as make test
// and CI run): everything runs many times slower.
const raceDetector = true
