import { classifyAddress, embeddedIpv4, LookupAll, parseAllowedHosts, WebhookTargetPolicy, WebhookTargetRefused } from './webhook-targets';

const settings = (over: { WEBHOOK_ALLOWED_HOSTS?: string; WEBHOOK_ALLOW_PRIVATE_TARGETS?: boolean } = {}) => ({
  WEBHOOK_ALLOWED_HOSTS: '',
  WEBHOOK_ALLOW_PRIVATE_TARGETS: false,
  ...over,
});

/** A resolver answering from a table; unknown names fail like DNS does. */
function table(entries: Record<string, string[]>): LookupAll & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (host: string) => {
    calls.push(host);
    const addrs = entries[host];
    if (!addrs) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addrs.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(fn, { calls });
}

async function refusal(policy: WebhookTargetPolicy, url: string): Promise<string> {
  try {
    await policy.resolve(url);
  } catch (e) {
    if (e instanceof WebhookTargetRefused) return e.reason;
    throw e;
  }
  throw new Error(`${url} was accepted`);
}

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'a loopback address'],
    ['127.255.0.9', 'a loopback address'],
    ['::1', 'a loopback address'],
    ['0.0.0.0', 'an unspecified address'],
    ['0.1.2.3', 'an unspecified address'],
    ['::', 'an unspecified address'],
    ['10.0.0.1', 'a private address (RFC 1918)'],
    ['172.16.5.4', 'a private address (RFC 1918)'],
    ['172.31.255.255', 'a private address (RFC 1918)'],
    ['192.168.1.1', 'a private address (RFC 1918)'],
    ['100.64.0.1', 'a carrier-grade NAT address (100.64.0.0/10)'],
    ['169.254.1.1', 'a link-local address'],
    ['fe80::1', 'a link-local address'],
    ['fd12:3456::1', 'a unique-local address (fc00::/7)'],
    ['fc00::1', 'a unique-local address (fc00::/7)'],
    ['224.0.0.1', 'a multicast address'],
    ['ff02::1', 'a multicast address'],
    ['255.255.255.255', 'the broadcast address'],
    ['240.0.0.1', 'a reserved address'],
    ['192.0.2.10', 'a reserved address'],
    ['2001:db8::1', 'a reserved address'],
    ['169.254.169.254', 'a cloud metadata address'],
    ['fd00:ec2::254', 'a cloud metadata address'],
    ['fd00:ec2:0:0:0:0:0:254', 'a cloud metadata address'],
    ['100.100.100.200', 'a cloud metadata address'],
    ['::ffff:127.0.0.1', 'a loopback address (IPv4 127.0.0.1 embedded in IPv6)'],
    ['::ffff:7f00:1', 'a loopback address (IPv4 127.0.0.1 embedded in IPv6)'],
    ['0:0:0:0:0:ffff:a00:1', 'a private address (RFC 1918) (IPv4 10.0.0.1 embedded in IPv6)'],
    ['64:ff9b::a9fe:a9fe', 'a cloud metadata address (IPv4 169.254.169.254 embedded in IPv6)'],
    ['64:ff9b::127.0.0.1', 'a loopback address (IPv4 127.0.0.1 embedded in IPv6)'],
    ['::127.0.0.1', 'a reserved address'],
  ])('%s is %s', (address, what) => {
    expect(classifyAddress(address)?.what).toBe(what);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '64:ff9b::808:808', '::ffff:8.8.8.8'])(
    '%s is public',
    (a) => {
      expect(classifyAddress(a)).toBeNull();
    },
  );

  it('reads the IPv4 inside mapped and NAT64 addresses only', () => {
    expect(embeddedIpv4('::ffff:192.168.0.1')).toBe('192.168.0.1');
    expect(embeddedIpv4('64:ff9b::c0a8:1')).toBe('192.168.0.1');
    expect(embeddedIpv4('2606:4700::1111')).toBeNull();
  });
});

describe('parseAllowedHosts', () => {
  it('reads names, IPv4, IPv6 with and without brackets, optional ports, canonically', () => {
    expect(parseAllowedHosts(' hooks.internal , 10.0.0.7:8443,[::1]:9000, fd00::1 ,127.1,HOST.Example.')).toEqual([
      { host: 'hooks.internal', port: null },
      { host: '10.0.0.7', port: 8443 },
      { host: '::1', port: 9000 },
      { host: 'fd00::1', port: null },
      { host: '127.0.0.1', port: null },
      { host: 'host.example', port: null },
    ]);
    expect(parseAllowedHosts('')).toEqual([]);
    expect(parseAllowedHosts(undefined)).toEqual([]);
  });

  it.each(['user@host', 'host:99999', '[host]:80', 'http://host', 'a b'])('refuses %j', (bad) => {
    expect(() => parseAllowedHosts(bad)).toThrow(/WEBHOOK_ALLOWED_HOSTS/);
  });
});

describe('WebhookTargetPolicy', () => {
  const dns = table({
    localhost: ['127.0.0.1', '::1'],
    'public.example': ['93.184.216.34'],
    'mixed.example': ['93.184.216.34', '10.0.0.7'],
    'v6.example': ['2606:4700::1111'],
    'internal.example': ['10.1.2.3'],
  });
  const policy = new WebhookTargetPolicy(settings(), dns);

  it('accepts a public name and pins its first address, keeping the name', async () => {
    const t = await policy.resolve('https://public.example/hooks?x=1');
    expect(t).toMatchObject({ host: 'public.example', port: 443, address: '93.184.216.34', family: 4 });
    expect(t.url.href).toBe('https://public.example/hooks?x=1');
    expect(await policy.resolve('http://v6.example:8080/')).toMatchObject({ port: 8080, address: '2606:4700::1111', family: 6 });
    expect(await policy.resolve('http://93.184.216.34/')).toMatchObject({ address: '93.184.216.34', family: 4 });
  });

  it.each([
    ['http://127.0.0.1:8080/', '127.0.0.1 is a loopback address (list the host in WEBHOOK_ALLOWED_HOSTS to allow it)'],
    ['http://127.1/', '127.0.0.1 is a loopback address'],
    ['http://0x7f000001:6379/', '127.0.0.1 is a loopback address'],
    ['http://2130706433:5432/', '127.0.0.1 is a loopback address'],
    ['http://[::1]/', '::1 is a loopback address'],
    ['http://0.0.0.0/', '0.0.0.0 is an unspecified address'],
    ['http://[::]/', ':: is an unspecified address'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1 is a loopback address (IPv4 127.0.0.1 embedded in IPv6)'],
    ['http://[64:ff9b::7f00:1]/', 'a loopback address (IPv4 127.0.0.1 embedded in IPv6)'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is a cloud metadata address'],
    ['http://[fd00:ec2::254]/', 'fd00:ec2::254 is a cloud metadata address'],
    ['http://100.100.100.200/', 'a cloud metadata address'],
    ['http://10.0.0.1/', '10.0.0.1 is a private address (RFC 1918)'],
    ['http://192.168.1.1/', '192.168.1.1 is a private address (RFC 1918)'],
    ['http://100.64.1.1/', 'carrier-grade NAT'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://[fc00::1]/', 'unique-local'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'metadata.google.internal is a cloud metadata service name'],
    ['http://METADATA.GOOGLE.INTERNAL./', 'metadata.google.internal is a cloud metadata service name'],
    ['http://metadata.goog/', 'cloud metadata service name'],
    ['http://metadata/', 'cloud metadata service name'],
    ['http://instance-data/', 'cloud metadata service name'],
    ['http://localhost:3000/', 'localhost resolves to 127.0.0.1, which is a loopback address'],
    ['http://internal.example/', 'internal.example resolves to 10.1.2.3, which is a private address (RFC 1918)'],
    ['http://mixed.example/', 'mixed.example resolves to 10.0.0.7, which is a private address'],
    ['http://nowhere.example/', 'nowhere.example does not resolve (ENOTFOUND)'],
    ['ftp://public.example/', 'the scheme ftp: is not http or https'],
    ['file:///etc/passwd', 'the scheme file: is not http or https'],
    ['http://user:secret@public.example/', 'it carries credentials'],
    ['not a url', 'it is not a valid URL'],
  ])('refuses %s', async (url, reason) => {
    expect(await refusal(policy, url)).toContain(reason);
  });

  it('lets WEBHOOK_ALLOWED_HOSTS lift private classes for the listed host (and port) only, never metadata', async () => {
    const p = new WebhookTargetPolicy(
      settings({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.1:9000,internal.example,[::1],169.254.169.254,0.0.0.0' }),
      dns,
    );
    expect(await p.resolve('http://127.0.0.1:9000/x')).toMatchObject({ address: '127.0.0.1' });
    expect(await refusal(p, 'http://127.0.0.1:6379/')).toContain('loopback');
    expect(await p.resolve('https://internal.example/')).toMatchObject({ address: '10.1.2.3' });
    expect(await p.resolve('http://[::1]:5000/')).toMatchObject({ address: '::1', family: 6 });
    expect(await refusal(p, 'http://localhost:9000/')).toContain('loopback'); // the name, not the address, is listed
    expect(await refusal(p, 'http://169.254.169.254/')).toContain('cloud metadata');
    expect(await refusal(p, 'http://0.0.0.0/')).toContain('unspecified');
  });

  it('lets WEBHOOK_ALLOW_PRIVATE_TARGETS lift private classes for every host, never metadata', async () => {
    const p = new WebhookTargetPolicy(settings({ WEBHOOK_ALLOW_PRIVATE_TARGETS: true }), dns);
    expect(await p.resolve('http://localhost:6379/')).toMatchObject({ address: '127.0.0.1' });
    expect(await refusal(p, 'http://[fd00:ec2::254]/')).toContain('cloud metadata');
    expect(await refusal(p, 'http://metadata.google.internal/')).toContain('cloud metadata');
  });

  it('resolves again on every call: a name that now points at a private address is refused', async () => {
    let answer = '93.184.216.34';
    const flipping: LookupAll = async () => [{ address: answer, family: 4 }];
    const p = new WebhookTargetPolicy(settings(), flipping);
    expect(await p.resolve('http://rebind.example/')).toMatchObject({ address: '93.184.216.34' });
    answer = '127.0.0.1';
    expect(await refusal(p, 'http://rebind.example/')).toBe(
      'rebind.example resolves to 127.0.0.1, which is a loopback address (list the host in WEBHOOK_ALLOWED_HOSTS to allow it)',
    );
  });

  it('gives up on a lookup that outlives the signal', async () => {
    const p = new WebhookTargetPolicy(settings(), () => new Promise(() => undefined));
    await expect(p.resolve('http://slow.example/', AbortSignal.timeout(50))).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('refuses an invalid WEBHOOK_ALLOWED_HOSTS at construction', () => {
    expect(() => new WebhookTargetPolicy(settings({ WEBHOOK_ALLOWED_HOSTS: 'a@b' }), dns)).toThrow(/WEBHOOK_ALLOWED_HOSTS/);
  });
});
