// The CLI's remote access: where --host, the TLS files and contexts come from (flags, then
// environment, then context, then the local socket), the bundle `cluster client-cert` writes,
// `context import|ls|use|rm`, and commands run in-process against a real HTTPS listener.

import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { formatError, TsswarmError } from '../../../common/errors.js';
import { hostArg, parseArgs, type HostFlags } from '../../../cli/args.js';
import { checkManagerCert } from '../../../cli/client.js';
import { importContext, listContexts, newKeyAndCsr, removeContext, useContext, writeBundle } from '../../../cli/commands/context.js';
import { parseCluster } from '../../../cli/commands/cluster.js';
import { run } from '../../../cli/main.js';
import type { Io } from '../../../cli/io.js';
import { call, httpsHarness, type HttpsHarness } from '../api/tls-harness.js';
import { serviceSpec, stackSpec } from '../api/harness.js';

let tmp: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tsswarm-cli-remote-'));
  env = { TSSWARM_CONFIG: join(tmp, 'config') };
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o777;

/** A context DIR with context.json `ctx` (and empty PEM files it names). */
function bundle(dir: string, ctx: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, f), '');
  writeFileSync(join(dir, 'context.json'), JSON.stringify(ctx));
  return dir;
}
const named = (name: string, host: string) => bundle(join(tmp, 'config', 'contexts', name), { host, ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' });
const setCurrent = (name: string) => writeFileSync(join(tmp, 'config', 'config.json'), JSON.stringify({ currentContext: name }));

async function refusal(fn: () => unknown): Promise<TsswarmError> {
  try { await fn(); } catch (e) { expect(e).toBeInstanceOf(TsswarmError); return e as TsswarmError; }
  throw new Error('expected a refusal');
}

describe('where the manager and the credentials come from', () => {
  it('nothing set: the local socket', () => {
    expect(hostArg(undefined, env).socketPath).toMatch(/tsswarm\.sock$/);
  });

  it('the current context, then TSSWARM_CONTEXT, then TSSWARM_HOST, then --context, then --host', () => {
    named('cur', 'https://cur:1');
    named('envctx', 'https://envctx:2');
    named('flagctx', 'https://flagctx:3');
    setCurrent('cur');
    const host = (flags: HostFlags | undefined, e: NodeJS.ProcessEnv) => hostArg(flags, { ...env, ...e }).display;
    expect(host(undefined, {})).toBe('https://cur:1');
    expect(host(undefined, { TSSWARM_CONTEXT: 'envctx' })).toBe('https://envctx:2');
    expect(host(undefined, { TSSWARM_CONTEXT: 'envctx', TSSWARM_HOST: 'unix:///env.sock' })).toBe('unix:///env.sock');
    expect(host({ context: 'flagctx' }, { TSSWARM_CONTEXT: 'envctx', TSSWARM_HOST: 'unix:///env.sock' })).toBe('https://flagctx:3');
    expect(host({ host: 'unix:///flag.sock' }, { TSSWARM_CONTEXT: 'envctx', TSSWARM_HOST: 'unix:///env.sock' })).toBe('unix:///flag.sock');
  });

  it("a context's files are resolved in its directory; TSSWARM_CERT_PATH, then the flags, come before them", () => {
    const dir = named('prod', 'https://prod:4243');
    const certs = bundle(join(tmp, 'certs'), {});
    expect(hostArg({ context: 'prod' }, env)).toEqual({ host: 'prod', port: 4243, display: 'https://prod:4243', tls: { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } });
    expect(hostArg({ context: 'prod' }, { ...env, TSSWARM_CERT_PATH: certs }).tls).toEqual({ ca: join(certs, 'ca.pem'), cert: join(certs, 'cert.pem'), key: join(certs, 'key.pem') });
    expect(hostArg({ context: 'prod', tlskey: '/k.pem' }, { ...env, TSSWARM_CERT_PATH: certs }).tls).toEqual({ ca: join(certs, 'ca.pem'), cert: join(certs, 'cert.pem'), key: '/k.pem' });
  });

  it('--context DIR: a bundle used in place', () => {
    const dir = bundle(join(tmp, 'tsswarm-alice'), { host: 'https://[::1]:4243', ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' });
    const ep = hostArg({ context: dir }, env);
    expect(ep).toMatchObject({ host: '::1', port: 4243, tls: { key: join(dir, 'key.pem') } });
  });

  it('https with the three flags; TSSWARM_HOST with TSSWARM_CERT_PATH', () => {
    expect(hostArg({ host: 'https://m:4243', tlscacert: 'ca', tlscert: 'c', tlskey: 'k' }, env)).toEqual({ host: 'm', port: 4243, display: 'https://m:4243', tls: { ca: 'ca', cert: 'c', key: 'k' } });
    expect(hostArg(undefined, { ...env, TSSWARM_HOST: 'https://m', TSSWARM_CERT_PATH: '/b' })).toEqual({ host: 'm', port: 443, display: 'https://m', tls: { ca: '/b/ca.pem', cert: '/b/cert.pem', key: '/b/key.pem' } });
  });

  it.each([
    [{ host: 'https://m:1' }, {}, /missing --tlscacert, --tlscert, --tlskey/],
    [{ host: 'https://m:1', tlscacert: 'a', tlscert: 'b' }, {}, /missing --tlskey/],
    [{ host: 'unix:///s.sock', tlscacert: 'a' }, {}, /--tlscacert applies to https:\/\/ hosts/],
    [{ tlscert: 'a' }, {}, /--tlscert applies to https:\/\/ hosts: add --host/],
    [{ host: 'unix:///s.sock', context: 'x' }, {}, /--host and --context exclude each other/],
    [{ context: 'nope' }, {}, /context "nope": no .*context\.json/],
    [{ context: 'bad name!' }, {}, /invalid context name/],
    [undefined, { TSSWARM_CONTEXT: 'nope' }, /TSSWARM_CONTEXT "nope"/],
  ] as const)('refuses %j %j', async (flags, e, msg) => {
    expect((await refusal(() => hostArg(flags as HostFlags, { ...env, ...e }))).message).toMatch(msg);
  });

  it('a context without a host, or a broken config.json, is refused naming the file', async () => {
    bundle(join(tmp, 'config', 'contexts', 'nohost'), { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' });
    expect((await refusal(() => hostArg({ context: 'nohost' }, env))).message).toMatch(/names no manager: set "host"/);
    writeFileSync(join(tmp, 'config', 'config.json'), '{');
    expect((await refusal(() => hostArg(undefined, env))).message).toMatch(/config\.json is not JSON/);
  });

  it('parseArgs hands the TLS flags and --context to hostArg through `host`', () => {
    expect(parseArgs(['--host', 'https://m:1', '--tlscacert', 'a', '--tlscert', 'b', '--tlskey', 'c', 'x'], {})).toEqual({
      values: { host: { host: 'https://m:1', tlscacert: 'a', tlscert: 'b', tlskey: 'c' } }, positionals: ['x'],
    });
    expect(parseArgs(['--context', 'prod'], {}).values).toEqual({ host: { host: undefined, context: 'prod' } });
    expect(parseArgs(['-H', '/s'], {}).values).toEqual({ host: '/s' });
  });
});

describe('the server check', () => {
  const cert = (subject: Record<string, string>) => ({ subject }) as never;
  it.each([
    [{ O: 'c1', OU: 'manager', CN: 'm' }, 'c1', undefined],
    [{ O: 'c1', OU: 'manager', CN: 'm' }, undefined, undefined],
    [{ O: 'c1', OU: 'worker', CN: 'w' }, 'c1', /not a tsswarm manager's/],
    [{ O: 'c2', OU: 'manager', CN: 'm' }, 'c1', /another cluster/],
  ])('%j (cluster %s)', (subject, cluster, err) => {
    const e = checkManagerCert(cert(subject), cluster);
    if (err) expect(e?.message).toMatch(err); else expect(e).toBeUndefined();
  });
});

describe('bundles and contexts', () => {
  const issued = { certPem: 'CERT\n', caPems: ['CA1\n', 'CA2'] };

  it('a bundle: 0700 directory, 0600 files, context.json naming them; never overwritten', async () => {
    const dir = join(tmp, 'tsswarm-alice');
    writeBundle(dir, issued, 'KEY\n', 'https://m:4243');
    expect(mode(dir)).toBe(0o700);
    for (const f of ['ca.pem', 'cert.pem', 'key.pem', 'context.json']) expect(mode(join(dir, f)), f).toBe(0o600);
    expect(readFileSync(join(dir, 'ca.pem'), 'utf8')).toBe('CA1\nCA2\n');
    expect(JSON.parse(readFileSync(join(dir, 'context.json'), 'utf8'))).toEqual({ host: 'https://m:4243', ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' });
    expect((await refusal(() => writeBundle(dir, issued, 'OTHER', undefined))).message).toMatch(/exists: refusing to overwrite/);
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe('KEY\n');
    // Even an empty directory is kept.
    mkdirSync(join(tmp, 'empty'));
    await refusal(() => writeBundle(join(tmp, 'empty'), issued, 'K', undefined));
    expect(existsSync(join(tmp, 'empty', 'key.pem'))).toBe(false);
  });

  it('a bundle without a host says nothing of one', () => {
    writeBundle(join(tmp, 'b'), issued, 'K', undefined);
    expect(JSON.parse(readFileSync(join(tmp, 'b', 'context.json'), 'utf8'))).toEqual({ ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' });
  });

  it('import, ls, use, rm', async () => {
    writeBundle(join(tmp, 'src'), issued, 'KEY\n', 'https://m:4243');
    const dest = importContext('prod', join(tmp, 'src'), env);
    expect(readFileSync(join(dest, 'key.pem'), 'utf8')).toBe('KEY\n');
    expect(mode(join(dest, 'key.pem'))).toBe(0o600);
    expect((await refusal(() => importContext('prod', join(tmp, 'src'), env))).message).toMatch(/refusing to overwrite/);
    expect((await refusal(() => importContext('default', join(tmp, 'src'), env))).message).toMatch(/"default"/);
    expect(listContexts(env)).toEqual([
      { name: 'default', host: 'the local manager (unix socket)', current: true },
      { name: 'prod', host: 'https://m:4243', current: false },
    ]);
    useContext('prod', env);
    expect(mode(join(tmp, 'config', 'config.json'))).toBe(0o600);
    expect(hostArg(undefined, env).display).toBe('https://m:4243');
    expect(listContexts(env).map((r) => r.current)).toEqual([false, true]);
    expect((await refusal(() => useContext('nope', env))).message).toMatch(/no .*context\.json/);
    expect((await refusal(() => removeContext('prod', false, env))).message).toMatch(/current one/);
    removeContext('prod', true, env);
    expect(listContexts(env)).toHaveLength(1);
    expect(hostArg(undefined, env).socketPath).toMatch(/tsswarm\.sock$/);
  });

  it('the key and CSR are made locally: P-256, the CSR signed by the key and naming the client', async () => {
    const { keyPem, csrPem } = await newKeyAndCsr('alice');
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
    const { createPrivateKey } = await import('node:crypto');
    expect(createPrivateKey(keyPem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('cluster client-cert arguments', async () => {
    const H = ['--host', 'unix:///s.sock'];
    expect(parseCluster(['client-cert', 'alice', '--out', '/b', '--expiry', '30d', '--api-addr', 'm:4243', ...H])).toMatchObject({ cmd: 'client-cert', name: 'alice', out: '/b', expiry: '30d', apiAddr: 'm:4243' });
    expect(parseCluster(['client-cert', 'alice', ...H])).toMatchObject({ out: join(process.cwd(), 'tsswarm-alice') });
    expect(parseCluster(['client-cert', 'ls', ...H])).toMatchObject({ cmd: 'client-cert-ls' });
    expect(parseCluster(['client-cert', 'rm', 'a', 'b', ...H])).toMatchObject({ cmd: 'client-cert-rm', names: ['a', 'b'] });
    for (const [argv, msg] of [
      [['client-cert'], /needs a NAME/],
      [['client-cert', 'a b'], /invalid client certificate name/],
      [['client-cert', 'rm'], /needs a NAME/],
      [['client-cert', 'ls', '--out', 'x'], /--out applies to/],
      [['client-cert', 'a', '--api-addr', 'nohost'], /--api-addr must be HOST:PORT/],
    ] as const) expect((await refusal(() => parseCluster([...argv, ...H]))).message).toMatch(msg);
  });
});

describe('the CLI against an HTTPS manager', () => {
  let h: HttpsHarness;
  let certs: string;
  const savedConfig = process.env.TSSWARM_CONFIG;

  beforeAll(async () => {
    h = await httpsHarness();
    certs = mkdtempSync(join(tmpdir(), 'tsswarm-cli-certs-'));
    writeFileSync(join(certs, 'ca.pem'), h.pki.ca.certPem);
    for (const [name, c] of [['alice', h.pki.client], ['expired', h.pki.expiredClient]] as const) {
      writeFileSync(join(certs, `${name}.pem`), c.certPem);
      writeFileSync(join(certs, `${name}.key`), c.keyPem);
    }
    const d = await call(h, 'POST', '/v1/stacks/deploy', { cert: h.pki.client, body: { stack: stackSpec('shop', { api: serviceSpec() }) } });
    expect(d.status, d.text).toBe(200);
  });
  afterAll(async () => {
    await h?.close();
    rmSync(certs, { recursive: true, force: true });
  });
  // The commands read the config dir through process.env.
  beforeEach(() => { process.env.TSSWARM_CONFIG = join(tmp, 'config'); });
  afterEach(() => { if (savedConfig === undefined) delete process.env.TSSWARM_CONFIG; else process.env.TSSWARM_CONFIG = savedConfig; });

  const url = () => `https://127.0.0.1:${h.port}`;
  const tlsFlags = (who: string) => ['--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, `${who}.pem`), '--tlskey', join(certs, `${who}.key`)];

  async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: Io = { out: (s) => { out += s; }, err: (s) => { err += s; }, tty: false };
    try {
      return { code: await run(argv, io), out, err };
    } catch (e) {
      return { code: 1, out, err: err + formatError(e) };
    }
  }

  it('service ls with --host https://… and the TLS flags lists the services', async () => {
    const r = await cli(['service', 'ls', '--host', url(), ...tlsFlags('alice')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/shop_api/);
  });

  it('an https host without credentials fails before connecting, saying what is missing', async () => {
    const before = h.warnings.length;
    const r = await cli(['service', 'ls', '--host', url()]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/missing --tlscacert, --tlscert, --tlskey\..*TSW_ERR_INVALID_ARGUMENT/s);
    expect(h.warnings.length).toBe(before);
  });

  it("a refused certificate prints the manager's answer: 401 for an expired one", async () => {
    const r = await cli(['service', 'ls', '--host', url(), ...tlsFlags('expired')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^Error: the client certificate was refused: it has expired \(TSW_ERR_UNAUTHENTICATED\)/);
  });

  it('a manager the CA does not vouch for is refused by the CLI', async () => {
    writeFileSync(join(certs, 'other-ca.pem'), h.pki.foreign.certPem);
    const r = await cli(['service', 'ls', '--host', url(), ...tlsFlags('alice'), '--tlscacert', join(certs, 'other-ca.pem')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refusing the server at https:\/\/127\.0\.0\.1:\d+: its certificate is not one the CA in .*other-ca\.pem verifies .*TSW_ERR_UNAUTHENTICATED/);
  });

  it('client-cert NAME writes a bundle that works; ls lists it; rm revokes it', async () => {
    const out = join(tmp, 'tsswarm-laptop');
    const issued = await cli(['cluster', 'client-cert', 'laptop', '--out', out, '--expiry', '30d', '--host', url(), ...tlsFlags('alice')]);
    expect(issued.err).toBe('');
    expect(issued.out).toMatch(/Client certificate "laptop" issued: serial [0-9a-f]+, valid until/);
    expect(JSON.parse(readFileSync(join(out, 'context.json'), 'utf8'))).toEqual({ host: url(), ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' });
    expect(mode(join(out, 'key.pem'))).toBe(0o600);
    const cert = new X509Certificate(readFileSync(join(out, 'cert.pem')));
    expect(cert.subject).toBe(`O=${h.pki.clusterId}\nOU=client\nCN=laptop`);
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(join(out, 'key.pem'))))).toBe(true);

    // Used in place, then imported and made current.
    expect((await cli(['stack', 'ls', '--context', out])).out).toMatch(/shop/);
    expect((await cli(['context', 'import', 'laptop', out])).code).toBe(0);
    expect((await cli(['context', 'use', 'laptop'])).code).toBe(0);
    expect((await cli(['context', 'ls'])).out).toMatch(/laptop \*\s+https:\/\/127\.0\.0\.1/);
    expect((await cli(['service', 'ls'])).out).toMatch(/shop_api/);

    const ls = await cli(['cluster', 'client-cert', 'ls']);
    expect(ls.out).toMatch(/^NAME +EXPIRES \(UTC\) +CREATED \(UTC\) +SERIAL\n/);
    expect(ls.out).toMatch(/\nlaptop +\d{4}-/);
    expect((await cli(['cluster', 'client-cert', 'rm', 'laptop'])).out).toBe('laptop\n');
    const after = await cli(['service', 'ls']);
    expect(after.code).toBe(1);
    expect(after.err).toMatch(/revoked or replaced .*TSW_ERR_PERMISSION_DENIED/);

    // The bundle is never overwritten: refused before a key is made or the manager asked.
    const again = await cli(['cluster', 'client-cert', 'laptop', '--out', out, '--host', url(), ...tlsFlags('alice')]);
    expect(again.err).toMatch(/exists: refusing to overwrite/);
  });

  it('--api-addr names the manager in the bundle', async () => {
    const out = join(tmp, 'b');
    const r = await cli(['cluster', 'client-cert', 'ops', '--out', out, '--api-addr', 'manager1.example:4243', '--host', url(), ...tlsFlags('alice')]);
    expect(r.err).toBe('');
    expect(JSON.parse(readFileSync(join(out, 'context.json'), 'utf8')).host).toBe('https://manager1.example:4243');
  });
});
