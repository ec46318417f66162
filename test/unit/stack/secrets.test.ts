// Secrets and configs in stack files: the top-level declarations (file, environment, content,
// external, name, labels), the services' short and long syntax, and every refusal with its
// file:line:col — none of which quotes a value.
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../common/api/limits.js';
import { parseStack, stackToYaml } from '../../../common/stack/index.js';
import { CWD, memReadFile, parse, parseErrors } from './helpers.js';

const PW = 's3cr3t-pw';
const files = { '/proj/app/pw.txt': PW, '/proj/app/nginx.conf': 'server {}\n' };
const b64 = (s: string) => Buffer.from(s).toString('base64');

const STACK = `services:
  web:
    image: nginx
    secrets:
      - db_pw
      - source: api_key
        target: /etc/api.key
        uid: "103"
        gid: 104
        mode: 0440
      - source: shared
        target: shared.txt
        mode: 288
    configs:
      - nginx_conf
      - source: motd
        target: /etc/motd
        mode: 0o600
secrets:
  db_pw:
    file: ./pw.txt
    labels: [team=db]
  api_key:
    environment: API_KEY
  shared:
    external: true
  renamed:
    name: global_pw
    environment: API_KEY
configs:
  nginx_conf:
    file: nginx.conf
  motd:
    content: hello
`;

describe('secrets and configs in a stack file', () => {
  it('reads declarations and references, short and long syntax, with Compose defaults', () => {
    const r = parse(STACK, { env: { API_KEY: 'k-123' }, files });
    expect(r.warnings).toEqual([]);
    expect(r.stack.services.web.secrets).toEqual([
      { source: 'app_db_pw', target: 'db_pw', uid: '0', gid: '0', mode: 0o444 },
      { source: 'app_api_key', target: '/etc/api.key', uid: '103', gid: '104', mode: 0o440 },
      { source: 'shared', target: 'shared.txt', uid: '0', gid: '0', mode: 288 },
    ]);
    expect(r.stack.services.web.configs).toEqual([
      { source: 'app_nginx_conf', target: '/nginx_conf', uid: '0', gid: '0', mode: 0o444 },
      { source: 'app_motd', target: '/etc/motd', uid: '0', gid: '0', mode: 0o600 },
    ]);
    expect(r.secrets).toEqual({
      app_db_pw: { data: b64(PW), labels: { team: 'db' } },
      app_api_key: { data: b64('k-123'), labels: {} },
      shared: { external: true },
      global_pw: { data: b64('k-123'), labels: {} },
    });
    expect(r.configs).toEqual({
      app_nginx_conf: { data: b64('server {}\n'), labels: {} },
      app_motd: { data: b64('hello'), labels: {} },
    });
    // The stack itself never holds a value.
    expect(JSON.stringify(r.stack)).not.toContain(PW);
    expect(JSON.stringify(r.stack)).not.toContain(b64(PW));
  });

  it('reads a binary file as it is (through readBytes, bounded)', () => {
    const bytes = Buffer.from([0, 255, 1, 254, 10]);
    let asked = 0;
    const r = parseStack([{ path: 'stack.yml', text: 'services:\n  web: {image: x, secrets: [k]}\nsecrets:\n  k: {file: ./k.bin}\n' }], {
      env: {}, cwd: CWD, readFile: memReadFile({}),
      readBytes: (p, max) => { asked = max; expect(p).toBe('/proj/app/k.bin'); return bytes; },
    });
    expect(asked).toBe(LIMITS.secretBytes);
    expect(r.secrets).toEqual({ app_k: { data: bytes.toString('base64'), labels: {} } });
  });

  it('no longer warns that secrets or configs are not supported', () => {
    const { warnings } = parse('services:\n  web:\n    image: x\n    secrets: [a]\n    configs: [b]\nsecrets:\n  a: {external: true}\nconfigs:\n  b: {external: true}\n');
    expect(warnings).toEqual([]);
  });

  const errs = (yaml: string, env: Record<string, string> = {}) => parseErrors(yaml, { env, files });

  it('refuses a reference to an undeclared secret or config, at its place', () => {
    expect(errs('services:\n  web:\n    image: x\n    secrets:\n      - nope\n    configs:\n      - source: gone\n')).toEqual([
      { file: 'stack.yml', line: 5, col: 9, field: 'services.web.secrets[0]', message: 'service web uses secret "nope", which is not declared in the top-level secrets section' },
      { file: 'stack.yml', line: 7, col: 17, field: 'services.web.configs[0].source', message: 'service web uses config "gone", which is not declared in the top-level configs section' },
    ]);
  });

  it('refuses a missing file, file and environment together, an unset variable, no source at all', () => {
    const d = errs(`services:
  web: {image: x}
secrets:
  a:
    file: ./missing.txt
  b:
    file: ./pw.txt
    environment: API_KEY
  c:
    environment: NOT_SET
  d:
    labels: {x: y}
  e:
    external: true
    file: ./pw.txt
`);
    expect(d).toEqual([
      { file: 'stack.yml', line: 5, col: 11, field: 'secrets.a.file', message: 'secret file missing.txt not found' },
      { file: 'stack.yml', line: 8, col: 18, field: 'secrets.b.environment', message: 'secret b takes one of file, environment or external: true, not file and environment' },
      { file: 'stack.yml', line: 10, col: 18, field: 'secrets.c.environment', message: 'environment variable NOT_SET is not set' },
      { file: 'stack.yml', line: 11, col: 3, field: 'secrets.d', message: 'secret d needs one of file, environment or external: true' },
      { file: 'stack.yml', line: 15, col: 11, field: 'secrets.e.file', message: 'an external secret exists already: it takes no file' },
    ]);
  });

  it('refuses a value over LIMITS.secretBytes and an empty one, without quoting them', () => {
    const big = 'x'.repeat(LIMITS.secretBytes + 1);
    const d = errs('services:\n  web: {image: x}\nsecrets:\n  big: {environment: BIG}\n  empty: {environment: EMPTY}\nconfigs:\n  c: {environment: BIG}\n', { BIG: big, EMPTY: '' });
    expect(d.map((x) => `${x.line}:${x.col} ${x.field} ${x.message}`)).toEqual([
      `4:22 secrets.big.environment the secret's value is over ${LIMITS.secretBytes} bytes (500 KiB, the bound of a secret)`,
      '5:24 secrets.empty.environment the secret\'s value is empty: a secret holds 1 to 512000 bytes',
      `7:20 configs.c.environment the config's content is over ${LIMITS.configBytes} bytes (500 KiB, the bound of a config)`,
    ]);
    expect(JSON.stringify(d)).not.toContain('xxxx');
  });

  it('refuses bad targets, modes, ids and names', () => {
    const d = errs(`services:
  web:
    image: x
    secrets:
      - source: a
        target: ../../etc/passwd
      - source: a
        target: "/run/secrets/"
      - source: a
        target: m1
        mode: 0999
      - source: a
        target: m2
        mode: 01777
      - source: a
        target: u
        uid: root
    configs:
      - source: c
        target: relative/path
secrets:
  a: {external: true}
  "bad/name": {external: true}
configs:
  c: {content: x}
`);
    expect(d.map((x) => `${x.line}:${x.col} ${x.field}: ${x.message}`)).toEqual([
      '6:17 services.web.secrets[0].target: "../../etc/passwd" holds a ".." segment',
      '8:17 services.web.secrets[1].target: must name a file, got "/run/secrets/"',
      '11:15 services.web.secrets[2].mode: must be a file mode such as 0440 (octal) or 288 (decimal), got "0999"',
      '14:15 services.web.secrets[3].mode: must be a file mode between 0 and 0777 (octal), got 1777',
      '17:14 services.web.secrets[4].uid: must be a numeric id (such as "0" or "1000"), got "root"',
      '20:17 services.web.configs[0].target: must be an absolute path, got "relative/path"',
      '23:3 secrets.bad/name: invalid secret name "bad/name": use letters, digits, _, . and - (starting with a letter or digit; no "/" or "..")',
    ]);
  });

  it('refuses two secrets at one file', () => {
    const d = errs('services:\n  web:\n    image: x\n    secrets:\n      - a\n      - source: b\n        target: /run/secrets/a\nsecrets:\n  a: {external: true}\n  b: {external: true}\n');
    expect(d).toEqual([{ file: 'stack.yml', line: 7, col: 17, field: 'services.web.secrets[1].target', message: '/run/secrets/a is also the file of secrets[0]' }]);
  });
});

describe('tsswarm config output', () => {
  it('declares the secrets and configs services use as external, by stored name, and parses again to the same services', () => {
    const first = parse(STACK, { env: { API_KEY: 'k-123' }, files });
    const yaml = stackToYaml(first.stack);
    expect(yaml).not.toContain(PW);
    expect(yaml).not.toContain('k-123');
    const again = parse(yaml, {});
    expect(again.stack.services).toEqual(first.stack.services);
    expect(again.secrets).toEqual({ app_db_pw: { external: true }, app_api_key: { external: true }, shared: { external: true } });
  });
});
