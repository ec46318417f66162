// Compose file features that bring in other files or services: extends (same file and file:),
// top-level include (its relative paths resolved against its own folder, its env_file), and
// --env-file instead of .env. Errors name file:line:col and the field.
import { describe, expect, it } from 'vitest';
import { parseStack } from '../../../common/stack/index.js';
import { CWD, memReadFile, parse, parseErrors } from './helpers.js';

const load = (text: string, files: Record<string, string> = {}, o: { envFiles?: string[]; env?: Record<string, string> } = {}) =>
  parseStack([{ path: 'stack.yml', text }], { env: o.env ?? {}, readFile: memReadFile(files), cwd: CWD, envFiles: o.envFiles });

describe('extends', () => {
  it('same file: the base merged under the service by the override rules', () => {
    const { stack, warnings } = parse(`services:
  base:
    image: busybox
    environment: {A: "1", B: "1"}
    cap_add: [NET_ADMIN]
    labels: [x=1]
    command: sleep 1
  web:
    extends: base
    environment: {B: "2"}
    cap_add: [NET_RAW]
    command: sleep 2
  worker:
    extends: {service: web}
    image: alpine
`);
    expect(warnings).toEqual([]);
    expect(stack.services.web).toMatchObject({ image: 'busybox', environment: { A: '1', B: '2' }, cap_add: ['NET_ADMIN', 'NET_RAW'], labels: { x: '1' }, command: ['sleep', '2'] });
    expect(stack.services.worker).toMatchObject({ image: 'alpine', environment: { A: '1', B: '2' }, command: ['sleep', '2'] });
  });

  it('file: a service of another file, its relative paths resolved against that file\'s folder', () => {
    const files = {
      '/proj/common/base.yml': 'services:\n  app:\n    image: busybox\n    env_file: app.env\n    volumes: ["./data:/data"]\n    label_file: [app.labels]\n',
      '/proj/common/app.env': 'FROM_BASE=1\n',
      '/proj/common/app.labels': 'team=core\n',
    };
    const s = load('services:\n  web:\n    extends: {file: ../common/base.yml, service: app}\n    environment: {OWN: "1"}\n', files).stack.services.web;
    expect(s.environment).toEqual({ FROM_BASE: '1', OWN: '1' });
    expect(s.labels).toEqual({ team: 'core' });
    expect(s.volumes).toEqual([{ type: 'bind', source: '/proj/common/data', target: '/data', read_only: false }]);
  });

  it('the base\'s depends_on is not inherited (a warning says so)', () => {
    const { stack, warnings } = parse('services:\n  db: {image: postgres}\n  base:\n    image: busybox\n    depends_on: [db]\n  web:\n    extends: base\n');
    expect(stack.services.web.depends_on).toEqual({});
    expect(warnings).toEqual([{ file: 'stack.yml', line: 7, col: 5, field: 'services.web.extends', message: 'the depends_on of base is not inherited by web: give web its own' }]);
  });

  it.each([
    ['an undefined service', 'services:\n  web:\n    extends: nope\n', 3, 14, 'services.web.extends', 'service web extends undefined service "nope"'],
    ['a cycle', 'services:\n  a:\n    image: x\n    extends: b\n  b:\n    extends: a\n', 4, 14, 'services.a.extends', 'extends cycle: a -> b -> a'],
    ['a missing file', 'services:\n  web:\n    extends: {file: other.yml, service: x}\n', 3, 21, 'services.web.extends.file', 'other.yml not found'],
    ['a service the file lacks', 'services:\n  web:\n    extends: {file: /proj/app/o.yml, service: x}\n', 3, 14, 'services.web.extends', 'extends "x", which /proj/app/o.yml does not define'],
    ['no service', 'services:\n  web:\n    image: x\n    extends: {file: o.yml}\n', 4, 14, 'services.web.extends.service', 'needs the service to extend'],
    ['a list', 'services:\n  web:\n    image: x\n    extends: [a]\n', 4, 14, 'services.web.extends', 'must be a service name or {service, file}'],
  ])('%s is an error naming the entry', (_what, text, line, col, field, message) => {
    expect(parseErrors(text, { files: { '/proj/app/o.yml': 'services:\n  y: {image: y}\n' } })).toContainEqual({ file: 'stack.yml', line, col, field, message: expect.stringContaining(message) });
  });
});

describe('include', () => {
  const files = {
    '/proj/db/compose.yaml': 'services:\n  db:\n    image: postgres:${PG_TAG:-16}\n    env_file: db.env\n    volumes: ["./init:/docker-entrypoint-initdb.d:ro"]\nvolumes:\n  pgdata: {}\nsecrets:\n  pw: {file: ./pw.txt}\n',
    '/proj/db/db.env': 'POSTGRES_DB=app\n',
    '/proj/db/pw.txt': 's3cret',
    '/proj/db/tags.env': 'PG_TAG=15\n',
  };

  it('adds the included services, volumes and secrets; relative paths resolve against the included file\'s folder', () => {
    const r = load('include:\n  - ../db/compose.yaml\nservices:\n  web:\n    image: nginx\n    depends_on: [db]\n', files);
    expect(Object.keys(r.stack.services)).toEqual(['web', 'db']);
    expect(r.stack.services.db).toMatchObject({ image: 'postgres:16', environment: { POSTGRES_DB: 'app' } });
    expect(r.stack.services.db.volumes).toEqual([{ type: 'bind', source: '/proj/db/init', target: '/docker-entrypoint-initdb.d', read_only: true }]);
    expect(Object.keys(r.stack.volumes)).toEqual(['pgdata']);
    expect(Object.keys(r.secrets)).toEqual(['app_pw']);
  });

  it('long form: env_file gives the included file its variables; project_directory its base', () => {
    const r = load('include:\n  - path: ../db/compose.yaml\n    env_file: ../db/tags.env\n    project_directory: /srv/db\nservices:\n  web: {image: nginx}\n', { ...files, '/srv/db/db.env': 'POSTGRES_DB=other\n', '/srv/db/pw.txt': 'x' });
    expect(r.stack.services.db.image).toBe('postgres:15');
    expect(r.stack.services.db.environment).toEqual({ POSTGRES_DB: 'other' });
    expect(r.stack.services.db.volumes[0].source).toBe('/srv/db/init');
  });

  it('a service defined in both is an error naming both places', () => {
    expect(parseErrors('include: [../db/compose.yaml]\nservices:\n  db: {image: mysql}\n', { files })).toEqual([
      { file: 'stack.yml', line: 3, col: 3, field: 'services.db', message: 'services.db is also defined by the included file at ../db/compose.yaml:2:3 (include[0]): define it once' },
    ]);
  });

  it.each([
    ['a missing file', 'include: [nope.yml]\nservices:\n  web: {image: x}\n', 1, 11, 'include[0]', 'nope.yml not found'],
    ['not a list', 'include: nope.yml\nservices:\n  web: {image: x}\n', 1, 10, 'include', 'must be a list'],
    ['no path', 'include:\n  - {env_file: a.env}\nservices:\n  web: {image: x}\n', 2, 5, 'include[0].path', 'needs a path'],
    ['itself', 'include: [stack.yml]\nservices:\n  web: {image: x}\n', 1, 11, 'include[0]', 'include cycle through stack.yml'],
  ])('%s is an error', (_what, text, line, col, field, message) => {
    expect(parseErrors(text, { files: { '/proj/app/stack.yml': 'services: {}\n' } })).toContainEqual({ file: 'stack.yml', line, col, field, message: expect.stringContaining(message) });
  });
});

describe('--env-file', () => {
  const files = { '/proj/app/.env': 'TAG=from-dotenv\n', '/proj/app/prod.env': 'TAG=prod\nPORT=80\n', '/proj/app/override.env': 'PORT=8080\n' };
  const text = 'services:\n  web:\n    image: nginx:${TAG:-none}\n    environment: {PORT: "${PORT:-1}"}\n';

  it('read instead of .env; later files win; the shell environment wins over them', () => {
    expect(load(text, files).stack.services.web.image).toBe('nginx:from-dotenv');
    const s = load(text, files, { envFiles: ['prod.env', 'override.env'] }).stack.services.web;
    expect([s.image, s.environment.PORT]).toEqual(['nginx:prod', '8080']);
    expect(load(text, files, { envFiles: ['prod.env'], env: { TAG: 'shell' } }).stack.services.web.image).toBe('nginx:shell');
  });

  it('a missing env file is an error', () => {
    expect(() => load(text, files, { envFiles: ['missing.env'] })).toThrow(/invalid stack file/);
    try {
      load(text, files, { envFiles: ['missing.env'] });
    } catch (e) {
      expect((e as { details: unknown[] }).details).toContainEqual({ file: 'missing.env', message: 'env file missing.env not found' });
    }
  });
});

describe('profiles: [] after extends', () => {
  it('an empty profiles list is no profile: the service is always deployed', () => {
    const s = parse('services:\n  base:\n    image: busybox\n    profiles: [tools]\n  web:\n    extends: base\n    profiles: []\n').stack;
    expect(Object.keys(s.services)).toEqual(['web']);
  });
});
