/** Decodes a JWT's payload (without verifying it: the node does that) and returns `exp` in epoch ms. */
export function tokenExpiry(token: string): number | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const b64 = part
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const payload: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof payload !== 'object' || payload === null) return undefined;
    const exp = (payload as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * When to refresh a token that expires at `expiresAt`: `leadMs` before it, but never later
 * than half-way through what is left (a 2 s token is refreshed after 1 s), and not in the past.
 */
export function refreshDelay(expiresAt: number, now: number, leadMs: number): number {
  const left = expiresAt - now;
  if (left <= 0) return 0;
  return Math.max(0, left - Math.min(leadMs, left / 2));
}
