// GoAway: the ways the hub tells a client to leave, and whether and when to come
// back. The SDK treats reconnect=false as final and stops, so that is kept for a
// connection superseded by a newer one of the same device. Every other reason
// asks the client back after a random delay, so clients told at the same moment
// do not all return at the same moment.
import type { ClientSession } from './client-session.js';

/** A newer connection of the same device took over: final. */
export function goAwayReplaced(session: ClientSession, message: string): void {
  session.sendGoAway(false, 0, 'replaced');
  session.close({ kind: 'replaced', message });
}

/** The node is shutting down: reconnect (to another node) within `spreadMs`. */
export function goAwayDraining(session: ClientSession, spreadMs: number): void {
  session.sendGoAway(true, randomBetween(0, spreadMs), 'draining');
  session.close({ kind: 'draining', message: 'This connect node is shutting down; reconnect.' });
}

/**
 * Another connection of the device, elsewhere, holds the presence route with a
 * greater epoch. Epochs come from wall clocks, so this may well be the device's
 * newest connection on a node whose clock runs behind: the client retries and a
 * later epoch wins. Where the other connection really is newer, the client has
 * already left this one and ignores the GoAway.
 */
export function goAwayRouteConflict(session: ClientSession): void {
  session.sendGoAway(true, randomBetween(500, 2_000), 'route conflict');
  session.close({ kind: 'route_conflict', message: 'Another connection of this device holds its route; reconnect.' });
}

/**
 * The presence route lapsed (refreshes failed, e.g. during a registry outage)
 * and was registered again. Meanwhile pushes for the device were skipped as
 * offline; reconnecting makes the client sync them. The proto has no lighter
 * "resync" signal.
 */
export function goAwayRouteLapsed(session: ClientSession): void {
  session.sendGoAway(true, randomBetween(0, 1_000), 'route lapsed');
  session.close({ kind: 'route_lapsed', message: 'The presence route lapsed; reconnect to sync.' });
}

/**
 * Auth ended the connection's session (logout, revocation, refresh-token reuse)
 * or banned the user: final. The client must not reconnect with the same
 * tokens; it logs in again (or, banned, is told why).
 */
export function goAwayRevoked(session: ClientSession, reason: string, banned: boolean): void {
  session.sendGoAway(false, 0, reason);
  session.close({ kind: banned ? 'banned' : 'session_revoked', message: `The session ended: ${reason}.` });
}

/**
 * The access token the connection authenticated with has expired. Connections
 * end with their token instead of re-authenticating in place, so a revoked or
 * banned session can never outlive one token lifetime anywhere: the client
 * refreshes its token and reconnects at once.
 */
export function goAwayTokenExpired(session: ClientSession): void {
  session.sendGoAway(true, 0, 'access token expired');
  session.close({ kind: 'token_expired', message: 'The access token expired; refresh it and reconnect.' });
}

/** A whole number of milliseconds in [min, max]. */
function randomBetween(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}
