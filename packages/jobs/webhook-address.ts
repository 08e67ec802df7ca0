import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * IPv6 addresses outside 2000::/3 (global unicast) are not on the public internet: IPv4-compatible
 * (::/96), discard, site-local and unassigned space. ipaddr.js calls many of them `unicast`.
 */
const globalUnicastV6 = ipaddr.IPv6.parseCIDR('2000::/3');

/**
 * True for addresses a webhook must not reach: anything ipaddr.js does not classify as plain
 * `unicast` (loopback, private, link-local, carrier-grade NAT, multicast, broadcast, reserved and
 * benchmarking ranges such as 192.0.0.0/24, 198.18.0.0/15 and 240.0.0.0/4), and IPv6 transition
 * prefixes that lead into IPv4 space, NAT64 (64:ff9b::/96), 6to4 (2002::/16) and Teredo included.
 * An IPv4-mapped address (::ffff:10.0.0.1) is judged as the IPv4 address it carries.
 */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  // Node's strict parser first: ipaddr.js also reads legacy forms such as 0x7f.1.
  if (!isIP(bare)) return true; // Not an address at all: refuse rather than guess.
  const parsed = ipaddr.process(bare);
  if (parsed.range() !== 'unicast') return true;
  return parsed.kind() === 'ipv6' && !parsed.match(globalUnicastV6);
}

export class DestinationRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationRefusedError';
  }
}

type Lookup = (hostname: string, options: { all: true; verbatim: true }) => Promise<{ address: string; family: number }[]>;

/**
 * Refuses a webhook URL that is not http(s), or whose host is or resolves to a private address
 * (every address it resolves to is checked), unless `allowPrivate`.
 */
export async function checkWebhookDestination(url: string | URL, options: { allowPrivate: boolean; lookup?: Lookup }): Promise<void> {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new DestinationRefusedError(`${parsed.protocol} URLs are not allowed`);
  if (parsed.username || parsed.password) throw new DestinationRefusedError('URLs with credentials are not allowed');
  if (options.allowPrivate) return;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [host]
    : (await (options.lookup ?? (dnsLookup as Lookup))(host, { all: true, verbatim: true })).map((entry) => entry.address);
  if (addresses.length === 0) throw new DestinationRefusedError(`${host} does not resolve`);
  const refused = addresses.filter(isPrivateAddress);
  if (refused.length)
    throw new DestinationRefusedError(
      `${host} resolves to a private, loopback, link-local or otherwise non-public address (${refused.join(', ')})`,
    );
}
