// Package e2e runs the built gatehouse binary on loopback in front of a recording
// upstream and drives it as a browser and as API clients would. Its tests are the
// proof that the guarantees hold in the shipped artefact, not only in unit tests.
package e2e
