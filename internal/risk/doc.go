// Package risk spots unusual sign-ins (SPEC §5, Anomalies): a new device, a new
// country, or travel faster than an aeroplane since the previous sign-in.
//
// The package is deliberately pure: it stores nothing and sends nothing. The caller
// (authn) looks the client IP up with GeoIP, derives a device key from the long-lived
// device cookie and the coarse DeviceLabel, asks its store what it has seen before
// (Known), and hands both sign-ins to Assess. What to do with the verdict (mail, audit,
// step-up, block) is tenant policy and lives with the caller.
//
// Two principles shape every rule here:
//
//   - GeoIP never blocks sign-in. A missing, corrupt or half-copied database leaves the
//     reader "without data", and the checks degrade to device-only.
//   - Uncertainty never raises an alarm. An unknown IP, a record without coordinates,
//     or two points that lie within each other's accuracy radius are treated as
//     "nothing to say", because a false alarm trains users to ignore real ones.
package risk
