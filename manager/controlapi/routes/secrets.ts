// Secrets (and, through the same plugin, configs): create, list, inspect, update, remove.
// A secret's value is sealed (ctx.sealer) before it reaches the store and is in no answer,
// sealed or not; a config's content is shown by inspect only. A new value is the next revision,
// and every service using it rolls to it through the spec writer (rotation in place). Removing
// one that a service uses is refused, naming the services.

import { Type } from 'typebox';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import { newId } from '../../../common/ids.js';
import { validateObjectRequest } from '../../../common/api/validate.js';
import type { ConfigView, ObjectRemoveResponse, ObjectWriteResponse, SecretView } from '../../../common/api/types.js';
import type { ReadTx } from '../../store/store.js';
import type { ConfigObj, ObjKind, SecretObj, StoreObj } from '../../store/types.js';
import type { RoutePlugin } from '../context.js';
import { changeObject, newObject, rollUsers } from '../deploy.js';
import { RefParams } from '../schemas.js';
import { usersOf } from '../write-spec.js';

type Kind = 'secret' | 'config';
type Stored = SecretObj | ConfigObj;

/** Bodies: their shape here, every value (name, base64, bounds, labels) by validateObjectRequest, which never quotes one. */
const CreateBody = Type.Object({ name: Type.Unknown(), data: Type.Unknown(), labels: Type.Optional(Type.Unknown()) }, { additionalProperties: false });
const UpdateBody = Type.Object({ data: Type.Unknown(), labels: Type.Optional(Type.Unknown()) }, { additionalProperties: false });

const NOT_FOUND = { secret: ErrorCodes.SECRET_NOT_FOUND, config: ErrorCodes.CONFIG_NOT_FOUND } as const;

const list = (tx: ReadTx, kind: Kind): Stored[] => tx.list(kind as ObjKind) as StoreObj[] as Stored[];

/** A secret or config by id, name, or unique id prefix. */
export function findObject(tx: ReadTx, kind: Kind, ref: string): Stored {
  const all = list(tx, kind);
  const exact = all.filter((o) => o.id === ref || o.name === ref);
  const hits = exact.length ? exact : all.filter((o) => o.id.startsWith(ref));
  if (hits.length === 1) return hits[0];
  if (hits.length > 1) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `${kind} ${ref} is ambiguous (${hits.length} matches)`, [{ field: 'params.ref', message: 'ambiguous' }]);
  throw new TsswarmError(NOT_FOUND[kind], `${kind} ${ref} not found`);
}

/** What ls and inspect show: named fields only, so a secret's sealed value can never slip in. */
export function objectView(o: Stored, withContent = false): SecretView | ConfigView {
  const v: ConfigView = { id: o.id, name: o.name, stack: o.stack, labels: o.labels, revision: o.revision, size: o.size, createdAt: o.meta.createdAt, updatedAt: o.meta.updatedAt };
  if (withContent && o.kind === 'config') v.data = o.data;
  return v;
}

function checked(kind: Kind, body: { name?: unknown; data?: unknown; labels?: unknown }, withName: boolean): { plain: Buffer; labels?: Record<string, string> } {
  const errors = validateObjectRequest(kind, body, withName);
  if (errors.length) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, `invalid ${kind}; nothing was changed`, errors);
  return { plain: Buffer.from(body.data as string, 'base64'), labels: body.labels as Record<string, string> | undefined };
}

/** The routes of one kind: /v1/secrets or /v1/configs. */
export function objectRoutes(kind: Kind): RoutePlugin {
  const base = `/v1/${kind}s`;
  return async (app, { ctx }) => {
    const { store, log, sealer } = ctx;

    app.post(base, { schema: { body: CreateBody } }, async (req): Promise<ObjectWriteResponse> => {
      const { plain, labels } = checked(kind, req.body, true);
      const name = req.body.name as string;
      const r = await store.update((tx) => {
        if (list(tx, kind).some((o) => o.name === name)) {
          throw new TsswarmError(ErrorCodes.CONFLICT, `${kind} ${name} already exists (tsswarm ${kind} update changes its value)`, [{ field: 'name', message: 'already exists' }]);
        }
        const obj = newObject(kind, newId(), name, '', labels ?? {}, plain, sealer);
        tx.create(obj);
        return { id: obj.id, name, revision: obj.revision, changed: true, services: [] };
      });
      log.info({ [kind]: name, id: r.id }, `${kind} created`);
      return r;
    });

    app.get(base, async (): Promise<(SecretView | ConfigView)[]> =>
      store.view((tx) => list(tx, kind).sort((a, b) => a.name.localeCompare(b.name)).map((o) => objectView(o))));

    app.get(`${base}/:ref`, { schema: { params: RefParams } }, async (req): Promise<SecretView | ConfigView> =>
      store.view((tx) => objectView(findObject(tx, kind, req.params.ref), true)));

    app.post(`${base}/:ref/update`, { schema: { params: RefParams, body: UpdateBody } }, async (req): Promise<ObjectWriteResponse> => {
      const { plain, labels } = checked(kind, req.body, false);
      const r = await store.update((tx) => {
        const cur = findObject(tx, kind, req.params.ref);
        const c = changeObject(cur, plain, labels, sealer);
        if (!c.changed) return { id: cur.id, name: cur.name, revision: cur.revision, changed: false, services: [] };
        tx.update(c.obj);
        // In the same batch: the new revision and every service rolling to it, or nothing.
        const services = c.valueChanged ? rollUsers(tx, c.obj) : [];
        return { id: cur.id, name: cur.name, revision: c.obj.revision, changed: true, services };
      });
      log.info({ [kind]: r.name, revision: r.revision, changed: r.changed, services: r.services }, `${kind} updated`);
      return r;
    });

    app.delete(`${base}/:ref`, { schema: { params: RefParams } }, async (req): Promise<ObjectRemoveResponse> => {
      const r = await store.update((tx) => {
        const cur = findObject(tx, kind, req.params.ref);
        const users = usersOf(tx.list('service'), cur).map((s) => s.name).sort();
        if (users.length) {
          throw new TsswarmError(ErrorCodes.IN_USE, `${kind} ${cur.name} is in use by service${users.length === 1 ? '' : 's'} ${users.join(', ')}; remove ${users.length === 1 ? 'it' : 'them'} or their use of it first`,
            users.map((s) => ({ field: 'params.ref', message: `used by service ${s}` })));
        }
        tx.delete(kind, cur.id);
        return { id: cur.id, name: cur.name };
      });
      log.info({ [kind]: r.name, id: r.id }, `${kind} removed`);
      return r;
    });
  };
}

export const secretRoutes: RoutePlugin = objectRoutes('secret');
