import { expect } from 'vitest';
import { ErrorCodes, TsswarmError, type ErrorDetail } from '../../../common/errors.js';
import { parseStack, type LoadResult, type StackSource } from '../../../common/stack/index.js';

export const CWD = '/proj/app';

export interface Opts {
  env?: Record<string, string | undefined>;
  /** extra files by absolute path (.env, env_file targets) */
  files?: Record<string, string>;
  projectName?: string;
}

export function memReadFile(files: Record<string, string>): (p: string) => string {
  return (p: string) => {
    if (Object.prototype.hasOwnProperty.call(files, p)) return files[p];
    const e = new Error(`ENOENT: no such file or directory, open '${p}'`) as NodeJS.ErrnoException;
    e.code = 'ENOENT';
    throw e;
  };
}

/** Parse one or more in-memory files named stack.yml, override.yml, ... in /proj/app. */
export function parse(texts: string | StackSource[], o: Opts = {}): LoadResult {
  const sources = typeof texts === 'string' ? [{ path: 'stack.yml', text: texts }] : texts;
  return parseStack(sources, { env: o.env ?? {}, readFile: memReadFile(o.files ?? {}), projectName: o.projectName, cwd: CWD });
}

/** The details of the STACK_INVALID error a parse throws. */
export function parseErrors(texts: string | StackSource[], o: Opts = {}): ErrorDetail[] {
  try {
    parse(texts, o);
  } catch (e) {
    expect(e).toBeInstanceOf(TsswarmError);
    expect((e as TsswarmError).code).toBe(ErrorCodes.STACK_INVALID);
    return (e as TsswarmError).details;
  }
  throw new Error('expected the stack to be invalid');
}

/** Wrap service keys into a minimal stack: `svc('ports: ["80"]')` -> services.web with image nginx. */
export function svc(body: string, extra = ''): string {
  const indented = body
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return `services:\n  web:\n    image: nginx\n${indented}\n${extra}`;
}
