// `cluster backup FILE` against a stand-in manager on a unix socket: the bytes land in FILE
// atomically (no temporary file left, mode 0600), an existing FILE is kept unless --force, `-`
// writes to stdout, and a refused or broken transfer leaves nothing behind.

import { createServer, type Server, type ServerResponse } from 'node:http';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import { writeFileAtomic } from '../../../cli/backup.js';
import type { Io } from '../../../cli/io.js';
import { run } from '../../../cli/main.js';

let dir: string;
let sock: string;
let server: Server;
let requests: string[] = [];
let answer: (res: ServerResponse) => void;

/** What a backup holds: some bytes, not all of them text. */
const BYTES = Buffer.concat([Buffer.from('TSWSNAP1'), Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 256))]);

const backup = (bytes: Buffer, index = '42') => (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length, 'x-tsswarm-index': index });
  // In two parts, the second after the first was flushed: the client must stream, not expect one chunk.
  res.write(bytes.subarray(0, 1000), () => res.end(bytes.subarray(1000)));
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsswarm-backup-'));
  sock = join(dir, 'api.sock');
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume().on('end', () => answer(res));
  });
  await new Promise<void>((r) => server.listen(sock, r));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

let out: string;
beforeEach(() => {
  requests = [];
  answer = backup(BYTES);
  out = mkdtempSync(join(dir, 'out-'));
});

const H = () => ['--host', `unix://${sock}`];

function capture(o: { tty?: boolean } = {}): Io & { stdout: string; stderr: string; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const binary = new PassThrough();
  binary.on('data', (c: Buffer) => chunks.push(c));
  const io = {
    stdout: '', stderr: '', tty: !!o.tty, binary,
    out: (s: string) => { io.stdout += s; }, err: (s: string) => { io.stderr += s; },
    bytes: () => Buffer.concat(chunks),
  };
  return io;
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(() => undefined, (err: Error) => err);
  if (!e) throw new Error('expected a refusal');
  return e;
}

describe('cluster backup FILE', () => {
  it('streams the bytes into FILE, 0600, with nothing else left in the folder', async () => {
    const file = join(out, 'c.bin');
    const io = capture();
    expect(await run(['cluster', 'backup', file, ...H()], io)).toBe(0);
    expect(requests).toEqual(['GET /v1/cluster/backup']);
    expect(readFileSync(file).equals(BYTES)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(out)).toEqual(['c.bin']);
    expect(io.stdout).toBe(`Backup of the cluster state at index 42 written to ${file} (${BYTES.length} bytes)\n`);
    expect(io.stderr).toBe('');
  });

  it('refuses an existing FILE before asking the manager, and keeps it', async () => {
    const file = join(out, 'c.bin');
    writeFileSync(file, 'precious');
    const e = await refusal(run(['cluster', 'backup', file, ...H()], capture()));
    expect(e).toBeInstanceOf(TsswarmError);
    expect(e).toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT, message: `${file} exists: use --force to replace it` });
    expect(requests).toEqual([]);
    expect(readFileSync(file, 'utf8')).toBe('precious');
  });

  it('--force replaces it, and the new file is 0600 whatever the old one was', async () => {
    const file = join(out, 'c.bin');
    writeFileSync(file, 'old');
    chmodSync(file, 0o644);
    expect(await run(['cluster', 'backup', '--force', file, ...H()], capture())).toBe(0);
    expect(readFileSync(file).equals(BYTES)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(out)).toEqual(['c.bin']);
  });

  it('refuses a folder', async () => {
    const e = await refusal(run(['cluster', 'backup', out, '--force', ...H()], capture()));
    expect(e.message).toMatch(/is a folder: name the backup file/);
    expect(requests).toEqual([]);
  });

  it('a refusal by the manager (no quorum) writes nothing', async () => {
    answer = (res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: ErrorCodes.NO_QUORUM, message: 'no quorum: 1 of 3 voting managers reachable, 2 needed; nothing was changed', details: [] }));
    };
    const e = await refusal(run(['cluster', 'backup', join(out, 'c.bin'), ...H()], capture()));
    expect(e).toMatchObject({ code: ErrorCodes.NO_QUORUM });
    expect(readdirSync(out)).toEqual([]);
  });

  it('a transfer cut short leaves neither FILE nor a temporary file', async () => {
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BYTES.length, 'x-tsswarm-index': '42' });
      res.write(BYTES.subarray(0, 5000), () => res.destroy());
    };
    const e = await refusal(run(['cluster', 'backup', join(out, 'c.bin'), ...H()], capture()));
    expect(e).toMatchObject({ code: ErrorCodes.UNAVAILABLE });
    expect(e.message).toMatch(/nothing was written to .*c\.bin; try again/);
    expect(readdirSync(out)).toEqual([]);
  });

  it('fewer bytes than announced, the connection closed cleanly, is refused too', async () => {
    async function* short() { yield BYTES.subarray(0, 10); }
    const file = join(out, 'c.bin');
    const e = await refusal(writeFileAtomic(file, short(), { force: false, expectedBytes: 11 }));
    expect(e.message).toBe(`the backup arrived incomplete (10 of 11 bytes): nothing was written to ${file}; try again`);
    expect(readdirSync(out)).toEqual([]);
  });

  it('a FILE created meanwhile by someone else is not replaced without --force', async () => {
    const file = join(out, 'c.bin');
    async function* racing() {
      yield BYTES.subarray(0, 10);
      writeFileSync(file, 'theirs');
      yield BYTES.subarray(10, 20);
    }
    const e = await refusal(writeFileAtomic(file, racing(), { force: false }));
    expect(e.message).toBe(`${file} exists: use --force to replace it`);
    expect(readFileSync(file, 'utf8')).toBe('theirs');
    expect(readdirSync(out)).toEqual(['c.bin']);
  });

  it('a folder that does not exist names FILE', async () => {
    const file = join(out, 'missing', 'c.bin');
    const e = await refusal(run(['cluster', 'backup', file, ...H()], capture()));
    expect(e.message).toMatch(new RegExp(`^cannot write the backup to ${file}: ENOENT`));
    expect(requests).toEqual([]);
  });

  // root writes anyway
  it.skipIf(process.getuid?.() === 0)('a folder that cannot be written names FILE', async () => {
    const ro = join(out, 'ro');
    mkdirSync(ro, { mode: 0o500 });
    const e = await refusal(run(['cluster', 'backup', join(ro, 'c.bin'), ...H()], capture()));
    expect(e.message).toMatch(new RegExp(`^cannot write the backup to ${join(ro, 'c.bin')}: EACCES`));
    expect(requests).toEqual([]);
    expect(existsSync(join(ro, 'c.bin'))).toBe(false);
  });
});

describe('cluster backup -', () => {
  it('writes the bytes to stdout, and says so on stderr', async () => {
    const io = capture();
    expect(await run(['cluster', 'backup', '-', ...H()], io)).toBe(0);
    expect(io.bytes().equals(BYTES)).toBe(true);
    expect(io.stdout).toBe('');
    expect(io.stderr).toBe(`Backup of the cluster state at index 42 written to stdout (${BYTES.length} bytes)\n`);
  });

  it('refuses a terminal', async () => {
    const e = await refusal(run(['cluster', 'backup', '-', ...H()], capture({ tty: true })));
    expect(e.message).toMatch(/refusing to write the backup to a terminal/);
    expect(requests).toEqual([]);
  });
});
