// Package web is Gatehouse's portal: the pages and the JSON API under the portal
// prefix (/auth). It is HTTP translation only — routes (http.ServeMux method patterns),
// two wrappers (browserForm for HTML forms, apiJSON for the API), templates, static
// assets, CSRF and browser hardening — and calls the use cases in authn, account and
// admin for everything else. It never reads or writes the store itself.
package web
