// Package masterkeys is the master key's life cycle: the data keys kept sealed with it
// (so that they outlive a master key version), and its rotation — re-sealing every
// sealed value of the deployment under the newest version, online and in batches,
// resumable after a crash — with the status report that says what is sealed under
// which version, and so which old versions nothing uses any more.
//
// The CLI (`gatehouse keys rotate|status|prune`) and the gateway's start translate to
// these functions.
package masterkeys
