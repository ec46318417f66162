// The API's HTTP plumbing, where a request is refused before any handler sees it: the JSON
// body parser (bounded nesting, scanned before JSON.parse recurses), the schema validator
// (TypeBox's Compile), and the one mapping of every error to { code, message, details }.

import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { ErrorCodes, TsswarmError, statusOf, type ErrorCode, type ErrorDetail } from '../../common/errors.js';
import type { ErrorBody } from '../../common/api/types.js';

// ---- body ----------------------------------------------------------------------------------

/**
 * Whether JSON text nests objects/arrays deeper than `max`. One pass, no recursion, strings
 * skipped (with their escapes): what makes a 5,000-deep body harmless to JSON.parse after it.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) { if (++depth > max) return true; }
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** A key that would set an object's prototype if the value were ever merged with Object.assign. */
const noProto = (key: string, value: unknown): unknown => {
  if (key === '__proto__') throw new TsswarmError(ErrorCodes.INVALID_JSON, 'request body holds a "__proto__" key', [{ field: '__proto__', message: 'not allowed' }]);
  return value;
};

/** A JSON body: nesting bounded by `maxDepth`, then parsed; an empty body is refused. */
export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.trim() === '') throw new TsswarmError(ErrorCodes.INVALID_JSON, 'request body is empty; send a JSON document (or no content-type and no body)');
  if (jsonDepthExceeds(text, maxDepth)) {
    throw new TsswarmError(ErrorCodes.INVALID_JSON, `request body nests objects/arrays deeper than ${maxDepth} levels`, [{ message: `nesting limit ${maxDepth}` }]);
  }
  try {
    return JSON.parse(text, noProto);
  } catch (e) {
    if (e instanceof TsswarmError) throw e;
    throw new TsswarmError(ErrorCodes.INVALID_JSON, `request body is not valid JSON: ${(e as Error).message}`);
  }
}

// ---- schemas --------------------------------------------------------------------------------

type Part = 'body' | 'querystring' | 'params' | 'headers' | string;

/**
 * Query strings and path params arrive as strings: a property declared boolean takes
 * "1"/"true"/"0"/"false", one declared integer takes plain decimal digits; anything else stays a
 * string and fails its schema (so "3.5" or "1e3" is refused, not rounded).
 */
function coerceStrings(schema: TSchema): (value: unknown) => unknown {
  const props = ((schema as { properties?: Record<string, { type?: string }> }).properties) ?? {};
  return (value) => {
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const type = Object.hasOwn(props, k) ? props[k].type : undefined;
      if (typeof v === 'string' && type === 'boolean' && /^(1|true|0|false)$/.test(v)) out[k] = v === '1' || v === 'true';
      else if (typeof v === 'string' && type === 'integer' && /^-?\d{1,15}$/.test(v)) out[k] = Number(v);
      else out[k] = v;
    }
    return out;
  };
}

const PART_PREFIX: Record<string, string> = { body: '', querystring: 'query.', params: 'params.', headers: 'headers.' };

/** TypeBox's errors as details naming the field (dotted, with [i] for array items). */
function schemaDetails(errors: { keyword: string; schemaPath: string; instancePath: string; params: unknown; message: string }[], part: Part): ErrorDetail[] {
  const prefix = PART_PREFIX[part] ?? `${part}.`;
  const path = (p: string) => {
    const dotted = p.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
    return `${prefix}${dotted}`.replace(/\.$/, '') || part;
  };
  const out: ErrorDetail[] = [];
  const seen = new Set<string>();
  const add = (field: string, message: string) => {
    const key = `${field}\0${message}`;
    if (!seen.has(key)) { seen.add(key); out.push({ field, message }); }
  };
  for (const e of errors) {
    if (e.keyword === 'boolean' && e.schemaPath.endsWith('/additionalProperties')) continue; // reported below, once
    const child = (n: string) => path(`${e.instancePath}/${n.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    if (e.keyword === 'additionalProperties') {
      for (const n of (e.params as { additionalProperties?: string[] }).additionalProperties ?? []) add(child(n), 'unknown field');
      continue;
    }
    if (e.keyword === 'required') {
      for (const n of (e.params as { requiredProperties?: string[] }).requiredProperties ?? []) add(child(n), 'is required');
      continue;
    }
    add(path(e.instancePath), e.message);
    if (out.length >= 20) break;
  }
  return out;
}

const PART_NAME: Record<string, string> = { body: 'request body', querystring: 'query string', params: 'path', headers: 'headers' };

/** Fastify's validator compiler: TypeBox's Compile for every part; errors as TsswarmErrors. */
export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = Compile(schema);
  const part: Part = httpPart ?? 'body';
  const coerce = part === 'querystring' || part === 'params' ? coerceStrings(schema) : (v: unknown) => v;
  return (input: unknown) => {
    const value = coerce(input);
    if (check.Check(value)) return { value };
    const details = schemaDetails(check.Errors(value) as never, part);
    const first = details[0];
    const message = `invalid ${PART_NAME[part] ?? part}${first ? `: ${first.field ? `${first.field}: ` : ''}${first.message}` : ''}`;
    return { error: new TsswarmError(ErrorCodes.INVALID_ARGUMENT, message, details) };
  };
};

// ---- errors ---------------------------------------------------------------------------------

/** Fastify's own refusals, as tsswarm codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCodes.REQUEST_TOO_LARGE,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCodes.INVALID_ARGUMENT,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCodes.INVALID_JSON,
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCodes.INVALID_JSON,
  FST_ERR_BAD_URL: ErrorCodes.INVALID_ARGUMENT,
  FST_ERR_VALIDATION: ErrorCodes.INVALID_ARGUMENT,
  FST_ERR_NOT_FOUND: ErrorCodes.NOT_FOUND,
};

const BY_STATUS: Record<number, ErrorCode> = {
  404: ErrorCodes.NOT_FOUND,
  409: ErrorCodes.CONFLICT,
  413: ErrorCodes.REQUEST_TOO_LARGE,
  415: ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
};

/** Fastify's own messages quote what the client sent (a 10 kB path, say): answer a bounded prefix. */
const clip = (m: string): string => (m.length > 300 ? `${m.slice(0, 300)}…` : m);

/** Any error as the status and body the API answers with. */
export function errorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof TsswarmError) return { status: err.httpStatus, body: err.toJSON() };
  const raw = err as Partial<FastifyError> | undefined;
  const e = raw && { ...raw, code: raw.code, statusCode: raw.statusCode, message: typeof raw.message === 'string' ? clip(raw.message) : undefined };
  const mapped = e?.code ? FASTIFY_CODES[e.code] : undefined;
  const given = typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : undefined;
  if (mapped) return { status: mapped === ErrorCodes.INVALID_ARGUMENT ? given ?? 400 : statusOf(mapped), body: { code: mapped, message: e?.message ?? mapped, details: [] } };
  if (given !== undefined && given < 500) {
    return { status: given, body: { code: BY_STATUS[given] ?? ErrorCodes.INVALID_ARGUMENT, message: e?.message ?? `HTTP ${given}`, details: [] } };
  }
  return { status: 500, body: { code: ErrorCodes.INTERNAL, message: e?.message ?? String(err), details: [] } };
}

export function notFound(req: FastifyRequest, reply: FastifyReply): void {
  const url = req.url.length > 200 ? `${req.url.slice(0, 200)}…` : req.url;
  void reply.status(404).send({ code: ErrorCodes.NOT_FOUND, message: `no API route ${req.method} ${url}`, details: [] } satisfies ErrorBody);
}
