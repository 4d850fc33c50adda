// Package admin holds the tenant administrator's use cases: the workspace's security
// policy, unlocking accounts, resetting a member's second factors, adding users and
// creating workspaces. The portal (for a signed-in owner or admin) and the CLI (an
// operator on the gateway's host, who acts as an owner) call the same functions; each
// checks who may do what, changes the store and writes its audit record.
package admin
