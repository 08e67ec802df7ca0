import { describe, expect, it } from 'vitest';
import { checkWebhookDestination, DestinationRefusedError, isPrivateAddress } from './webhook-address.ts';

const resolvesTo =
  (...addresses: string[]) =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('webhook destinations', () => {
  it('knows private, loopback and link-local addresses, IPv4 and IPv6', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.0.9',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '0.0.0.0',
      '100.64.0.1',
      '::1',
      '::',
      'fc00::1',
      'fd12:3456::1',
      'fe80::1',
      'fe80::1%eth0',
      '[::1]',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '224.0.0.1',
    ]) {
      expect(isPrivateAddress(address), address).toBe(true);
    }
    for (const address of [
      '8.8.8.8',
      '172.32.0.1',
      '172.15.255.255',
      '192.169.0.1',
      '1.1.1.1',
      '2606:4700:4700::1111',
      '::ffff:8.8.8.8',
      '198.20.0.1',
      '100.128.0.1',
      '223.255.255.254',
    ]) {
      expect(isPrivateAddress(address), address).toBe(false);
    }
  });

  it('refuses the ranges that lead into private space or nowhere: NAT64, 6to4, benchmarking, IETF, carrier-grade NAT, class E, multicast', () => {
    for (const address of [
      // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach 10.0.0.1 through a translator: both passed before.
      '64:ff9b::a00:1',
      '64:ff9b::10.0.0.1',
      '64:ff9b:1::1',
      '2002:a00:1::',
      '2002:7f00:1::1',
      // Teredo and documentation prefixes, IPv4-compatible and other space outside 2000::/3.
      '2001::1',
      '2001:db8::1',
      '::7f00:1',
      '::a00:1',
      '100::1',
      '4000::1',
      // 198.18.0.0/15 (benchmarking), 192.0.0.0/24 (IETF protocol assignments), 100.64.0.0/10, 240.0.0.0/4.
      '198.18.0.1',
      '198.19.255.255',
      '192.0.0.8',
      '100.64.0.1',
      '100.127.255.254',
      '240.0.0.1',
      '255.255.255.255',
      // Multicast, IPv4 and IPv6.
      '224.0.0.251',
      '239.1.2.3',
      'ff02::1',
      'ff0e::1',
      // Not addresses, or legacy forms.
      'example.com',
      '0x7f.1',
      '127.1',
    ]) {
      expect(isPrivateAddress(address), address).toBe(true);
    }
  });

  it('refuses a private destination when private addresses are not allowed', async () => {
    const refuse = (url: string, lookup = resolvesTo('93.184.216.34')) => checkWebhookDestination(url, { allowPrivate: false, lookup });
    await expect(refuse('http://127.0.0.1:8080/hook')).rejects.toBeInstanceOf(DestinationRefusedError);
    await expect(refuse('http://[::1]/hook')).rejects.toBeInstanceOf(DestinationRefusedError);
    await expect(refuse('http://169.254.169.254/latest/meta-data')).rejects.toBeInstanceOf(DestinationRefusedError);
    await expect(refuse('http://internal.example/hook', resolvesTo('10.0.0.7'))).rejects.toThrow(/private/);
    // Every address the name resolves to is checked, not only the first.
    await expect(refuse('http://mixed.example/hook', resolvesTo('93.184.216.34', 'fd00::1'))).rejects.toThrow(/fd00::1/);
    // What webhook creation and each delivery check: a literal NAT64 or 6to4 host, or a name resolving to one.
    await expect(refuse('http://[64:ff9b::a00:1]/hook')).rejects.toBeInstanceOf(DestinationRefusedError);
    await expect(refuse('http://[2002:a00:1::]/hook')).rejects.toBeInstanceOf(DestinationRefusedError);
    await expect(refuse('http://nat64.example/hook', resolvesTo('64:ff9b::a9fe:a9fe'))).rejects.toThrow(/64:ff9b::a9fe:a9fe/);
    await expect(refuse('http://198.18.0.1/hook')).rejects.toBeInstanceOf(DestinationRefusedError);
    await expect(refuse('https://hooks.example/hook')).resolves.toBeUndefined();
  });

  it('allows private destinations when configured to (development, tests), but never other schemes', async () => {
    await expect(checkWebhookDestination('http://127.0.0.1:8080/hook', { allowPrivate: true })).resolves.toBeUndefined();
    await expect(checkWebhookDestination('ftp://example.com/x', { allowPrivate: true })).rejects.toBeInstanceOf(DestinationRefusedError);
    await expect(checkWebhookDestination('http://user:pw@example.com/x', { allowPrivate: true })).rejects.toBeInstanceOf(
      DestinationRefusedError,
    );
  });
});
