import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type { WebhooksConfig } from '@app/core';

/** Every address a host name resolves to (the system resolver: /etc/hosts, then DNS). */
export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemLookup: LookupAll = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** A webhook URL that may not be called; `reason` says why (safe to show to the operator who registered it). */
export class WebhookTargetRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'WebhookTargetRefused';
  }
}

/** A checked target: the URL and the one address the delivery connects to (checked, pinned against DNS rebinding). */
export interface WebhookTarget {
  url: URL;
  /** Host name or IP literal as in the URL (no brackets). */
  host: string;
  port: number;
  address: string;
  family: 4 | 6;
}

type Range = readonly [cidr: string, family: 'ipv4' | 'ipv6'];
const v4 = (...cidrs: string[]): Range[] => cidrs.map((c) => [c, 'ipv4'] as const);
const v6 = (...cidrs: string[]): Range[] => cidrs.map((c) => [c, 'ipv6'] as const);

/** Cloud instance metadata services: refused always, whatever WEBHOOK_ALLOWED_HOSTS says. */
const METADATA_ADDRESSES = new Set([
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean, ...
  '169.254.170.2', // AWS ECS task metadata
  '169.254.170.23', // AWS EKS pod identity
  '169.254.169.123', // AWS time sync
  '169.254.0.23', // Tencent Cloud
  '100.100.100.200', // Alibaba Cloud
  '168.63.129.16', // Azure wire server (a public address)
  '192.0.0.192', // Oracle Cloud classic
  'fd00:ec2::254', // AWS (IPv6)
  'fd00:ec2::23', // AWS EKS pod identity (IPv6)
  'fd00:ec2::123', // AWS time sync (IPv6)
]);
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.internal',
  'metadata.tencentyun.com',
  'instance-data',
  'instance-data.ec2.internal',
]);

/**
 * Address classes a webhook may not reach, in the order they are named. `optIn` classes become reachable for a
 * host listed in WEBHOOK_ALLOWED_HOSTS (or every host with WEBHOOK_ALLOW_PRIVATE_TARGETS); the others never.
 */
const CLASSES: { what: string; optIn: boolean; ranges: Range[] }[] = [
  { what: 'an unspecified address', optIn: false, ranges: [...v4('0.0.0.0/8'), ...v6('::/128')] },
  { what: 'a loopback address', optIn: true, ranges: [...v4('127.0.0.0/8'), ...v6('::1/128')] },
  { what: 'a private address (RFC 1918)', optIn: true, ranges: v4('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16') },
  { what: 'a carrier-grade NAT address (100.64.0.0/10)', optIn: true, ranges: v4('100.64.0.0/10') },
  { what: 'a link-local address', optIn: true, ranges: [...v4('169.254.0.0/16'), ...v6('fe80::/10')] },
  { what: 'a unique-local address (fc00::/7)', optIn: true, ranges: v6('fc00::/7') },
  { what: 'a site-local address (fec0::/10)', optIn: true, ranges: v6('fec0::/10') },
  { what: 'the broadcast address', optIn: false, ranges: v4('255.255.255.255/32') },
  { what: 'a multicast address', optIn: false, ranges: [...v4('224.0.0.0/4'), ...v6('ff00::/8')] },
  {
    what: 'a reserved address',
    optIn: false,
    ranges: [
      // IETF assignments, documentation, 6to4 relay, benchmarking, class E.
      ...v4('192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '240.0.0.0/4'),
      // IPv4-compatible, SIIT, discard-only, Teredo, documentation, 6to4, local-use NAT64 (their embedded IPv4 is not checked).
      ...v6('::/96', '::ffff:0:0:0/96', '100::/64', '2001::/32', '2001:db8::/32', '2002::/16', '64:ff9b:1::/48'),
    ],
  },
];

const BLOCKS = CLASSES.map((c) => {
  const list = new BlockList();
  for (const [cidr, family] of c.ranges) {
    const [net, prefix] = cidr.split('/');
    list.addSubnet(net, Number(prefix), family);
  }
  return { ...c, list };
});

/** The 16 bytes of an IPv6 address (valid per net.isIP, without a zone). */
function ipv6Bytes(address: string): number[] {
  let text = address.toLowerCase();
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail.push(...dotted[1].split('.').map(Number));
    text = text.slice(0, -dotted[1].length);
    if (!text.endsWith('::')) text = text.replace(/:$/, '');
  }
  const words = (part: string | undefined) => (part ? part.split(':').filter((w) => w !== '') : []);
  const [head, rest] = text.split('::');
  const left = words(head);
  const right = words(rest);
  const fill = rest === undefined ? 0 : 8 - tail.length / 2 - left.length - right.length;
  const all = [...left, ...Array<string>(fill).fill('0'), ...right].map((w) => parseInt(w, 16));
  return [...all.flatMap((w) => [w >> 8, w & 0xff]), ...tail];
}

/** The IPv4 address embedded in an IPv4-mapped (::ffff:0:0/96) or NAT64 (64:ff9b::/96) IPv6 address, if any. */
export function embeddedIpv4(address: string): string | null {
  const b = ipv6Bytes(address);
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const mapped = zero(0, 10) && b[10] === 0xff && b[11] === 0xff;
  const nat64 = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12);
  return mapped || nat64 ? b.slice(12).join('.') : null;
}

/** The one spelling of an IP address (IPv6 compressed, lower-case, without a zone). */
function canonicalIp(address: string): string {
  const bare = address.split('%')[0];
  return isIP(bare) === 6 ? new URL(`http://[${bare}]/`).hostname.slice(1, -1) : bare;
}

/**
 * What `address` is when a webhook may not reach it (e.g. "a loopback address"), or null for a public unicast
 * address; `optIn` when WEBHOOK_ALLOWED_HOSTS / WEBHOOK_ALLOW_PRIVATE_TARGETS can lift the refusal.
 */
export function classifyAddress(address: string): { what: string; optIn: boolean } | null {
  const ip = canonicalIp(address);
  const family = isIP(ip);
  if (family === 0) return { what: 'not an IP address', optIn: false };
  if (METADATA_ADDRESSES.has(ip)) return { what: 'a cloud metadata address', optIn: false };
  if (family === 6) {
    const inner = embeddedIpv4(ip);
    if (inner) {
      const c = classifyAddress(inner);
      return c && { what: `${c.what} (IPv4 ${inner} embedded in IPv6)`, optIn: c.optIn };
    }
  }
  const hit = BLOCKS.find((b) => b.list.check(ip, family === 4 ? 'ipv4' : 'ipv6'));
  return hit ? { what: hit.what, optIn: hit.optIn } : null;
}

/** One WEBHOOK_ALLOWED_HOSTS entry: a host name or IP literal (IPv6 in brackets when a port follows), optionally `:port`. */
export interface AllowedHost {
  host: string;
  port: number | null;
}

/** Parses WEBHOOK_ALLOWED_HOSTS (comma-separated); throws naming the entry it cannot read. */
export function parseAllowedHosts(value: string | undefined): AllowedHost[] {
  const out: AllowedHost[] = [];
  for (const raw of (value ?? '').split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    const bad = new Error(`WEBHOOK_ALLOWED_HOSTS: "${entry}" is not a host name or IP address with an optional :port`);
    let host: string;
    let port: number | null = null;
    if (isIP(entry) === 6) {
      host = entry;
    } else {
      const m = /^(?:\[([^\]]+)\]|([^:[\]/@\s]+))(?::(\d{1,5}))?$/.exec(entry);
      if (!m || (m[1] !== undefined && isIP(m[1]) !== 6)) throw bad;
      host = m[1] ?? m[2];
      port = m[3] === undefined ? null : Number(m[3]);
      if (port !== null && (port < 1 || port > 65535)) throw bad;
    }
    try {
      out.push({ host: hostOf(new URL(`http://${isIP(host) === 6 ? `[${host}]` : host}/`)), port });
    } catch {
      throw bad;
    }
  }
  return out;
}

/** The URL's host without IPv6 brackets or a trailing dot, lower-case (the URL parser canonicalises IP literals). */
function hostOf(url: URL): string {
  return url.hostname
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** Rejects when `signal` aborts first (a DNS lookup cannot be cancelled; its late answer is ignored). */
export function untilAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  // AbortSignal.timeout() aborts with a DOMException named TimeoutError, which callers tell apart from other errors.
  const reason = (): Error => signal.reason as Error;
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reason());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e: Error) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}

/**
 * Which URLs a webhook may be delivered to. Only http(s) without credentials; the host is resolved and EVERY
 * address it resolves to must be a public unicast address, unless the host is listed in WEBHOOK_ALLOWED_HOSTS (or
 * WEBHOOK_ALLOW_PRIVATE_TARGETS is on), which lifts loopback, private, CGNAT, link-local and unique-local; cloud
 * metadata names and addresses, unspecified, broadcast, multicast and reserved addresses are refused always.
 * Called at registration and again before every delivery attempt (a name may change its address at any time).
 */
export class WebhookTargetPolicy {
  private readonly allowed: AllowedHost[];

  constructor(
    private readonly settings: Pick<WebhooksConfig, 'WEBHOOK_ALLOWED_HOSTS' | 'WEBHOOK_ALLOW_PRIVATE_TARGETS'>,
    private readonly lookup: LookupAll = systemLookup,
  ) {
    this.allowed = parseAllowedHosts(settings.WEBHOOK_ALLOWED_HOSTS);
  }

  /** Checks `rawUrl` and returns the address to connect to; throws WebhookTargetRefused (or the signal's reason). */
  async resolve(rawUrl: string, signal?: AbortSignal): Promise<WebhookTarget> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new WebhookTargetRefused('it is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new WebhookTargetRefused(`the scheme ${url.protocol} is not http or https`);
    if (url.username || url.password) throw new WebhookTargetRefused('it carries credentials (user:password@)');
    const host = hostOf(url);
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    if (!host) throw new WebhookTargetRefused('it has no host');
    if (METADATA_NAMES.has(host)) throw new WebhookTargetRefused(`${host} is a cloud metadata service name`);
    const optedIn =
      this.settings.WEBHOOK_ALLOW_PRIVATE_TARGETS || this.allowed.some((a) => a.host === host && (a.port === null || a.port === port));

    let addresses: { address: string; family: number }[];
    if (isIP(host)) {
      addresses = [{ address: host, family: isIP(host) }];
    } else {
      try {
        addresses = await untilAborted(this.lookup(host), signal);
      } catch (e) {
        if (signal?.aborted) throw e;
        throw new WebhookTargetRefused(`${host} does not resolve (${(e as { code?: string }).code ?? (e as Error).message})`);
      }
      if (!addresses.length) throw new WebhookTargetRefused(`${host} does not resolve`);
    }
    for (const { address } of addresses) {
      const c = classifyAddress(address);
      if (c && !(c.optIn && optedIn)) {
        const subject = address === host ? address : `${host} resolves to ${address}, which`;
        const hint = c.optIn ? ' (list the host in WEBHOOK_ALLOWED_HOSTS to allow it)' : '';
        throw new WebhookTargetRefused(`${subject} is ${c.what}${hint}`);
      }
    }
    const pinned = addresses[0];
    return { url, host, port, address: pinned.address, family: isIP(pinned.address) as 4 | 6 };
  }
}
