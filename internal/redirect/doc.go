// Package redirect checks redirect targets taken from requests (the rd parameter of
// the sign-in pages, the path a refused request is sent back to): same-site paths
// only, refusing every spelling a browser or an upstream could read as another host.
// The gateway and the portal both use it; neither imports the other.
package redirect
