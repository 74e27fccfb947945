/**
 * `@easbase/sdk`: the client of an EasBase host, built on `@supabase/supabase-js`.
 *
 * Two forms, one connection:
 *
 * - {@link createClient} returns a plain supabase-js client, so everything supabase-js
 *   does works as documented (`.from('products').select('*')`, `.auth.signUp(…)`).
 * - {@link EasBaseClient} adds the friendly typed form: `backend.products.findAll()`,
 *   `findById`, `create`, `createMany`, `update`, `delete`, with typed filters. Errors are
 *   thrown as {@link EasBaseError} with PostgREST's `code`, `message`, `details`, `hint`.
 *
 * Both are typed by the `Database` type that `easbase gen types` writes (the shape of
 * `supabase gen types typescript`): `new EasBaseClient<Database>(…)`. A table's key type
 * comes from its `id` column by default; `easbase gen sdk` writes a module whose
 * `createEasBase(options)` also knows every table's primary key (composite ones too).
 *
 * @module
 */
import {
  createClient as createSupabaseClient,
  type SupabaseClient,
  type SupabaseClientOptions,
} from '@supabase/supabase-js';

/** Where and how to connect: the host's URL and a project key (`eb_pk_…` or `eb_sk_…`). */
export interface ClientOptions {
  /** The host's base URL, e.g. `http://127.0.0.1:8080` (REST is served under `/rest/v1`). */
  url: string;
  /** The project's publishable key (browsers) or secret key (servers only). */
  apiKey: string;
  /**
   * A user's access token (JWT) to act as that user: sent as `Authorization: Bearer …`
   * instead of the session that `auth` keeps. Leave it out to use `auth.signIn…`.
   */
  accessToken?: string;
  /** Anything else supabase-js accepts (auth storage, fetch, headers, …). */
  supabase?: SupabaseClientOptions<'public'>;
}

/**
 * A supabase-js client for an EasBase host: `createClient({ url, apiKey })` is
 * `createClient(url, apiKey)` from supabase-js, with the access token (if any) sent on
 * every request and sessions kept in memory unless `supabase.auth` says otherwise.
 *
 * ```ts
 * const supabase = createClient<Database>({ url, apiKey });
 * const { data, error } = await supabase.from('products').select('*');
 * ```
 */
export function createClient<Database = any>(options: ClientOptions): SupabaseClient<Database> {
  checkOptions(options);
  const given = options.supabase ?? {};
  const headers: Record<string, string> = { ...given.global?.headers };
  if (options.accessToken !== undefined) {
    headers['Authorization'] = `Bearer ${options.accessToken}`;
  }
  const auth = {
    persistSession: typeof globalThis.localStorage !== 'undefined',
    autoRefreshToken: options.accessToken === undefined,
    detectSessionInUrl: false,
    ...given.auth,
  };
  // Built untyped, then given the type `createClient<Database>(…)` from supabase-js has:
  // its generic parameters cannot be resolved for a `Database` still unknown here.
  const client: SupabaseClient<any> = createSupabaseClient<any>(options.url, options.apiKey, {
    ...given,
    auth,
    global: { ...given.global, headers },
  });
  return client as SupabaseClient<Database>;
}

function checkOptions(options: ClientOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('@easbase/sdk: options must be an object with `url` and `apiKey`');
  }
  if (typeof options.url !== 'string' || !/^https?:\/\//.test(options.url)) {
    throw new TypeError(`@easbase/sdk: \`url\` must be an http(s) URL, got ${JSON.stringify(options.url)}`);
  }
  if (typeof options.apiKey !== 'string' || options.apiKey === '') {
    throw new TypeError('@easbase/sdk: `apiKey` must be a non-empty string (the project key)');
  }
  if (options.accessToken !== undefined && (typeof options.accessToken !== 'string' || options.accessToken === '')) {
    throw new TypeError('@easbase/sdk: `accessToken`, when given, must be a non-empty string');
  }
}

// ---------------------------------------------------------------------------------------
// Types read from a generated `Database`.

type PublicTables<DB> = DB extends { public: { Tables: infer T } } ? T : never;

/** Whether `T` is `any` (an untyped client: every name is a table, every row a record). */
type IsAny<T> = 0 extends 1 & T ? true : false;

/** `Row`, `Insert` or `Update` of table `T` in `DB`; `Untyped` for an untyped client. */
type PartOf<DB, T, P extends 'Row' | 'Insert' | 'Update', Untyped> =
  IsAny<DB> extends true
    ? Untyped
    : T extends keyof PublicTables<DB>
      ? PublicTables<DB>[T] extends { [K in P]: infer X }
        ? X
        : never
      : never;

/** The names of the tables of `DB` (any string for an untyped client). */
export type TableName<DB> = IsAny<DB> extends true ? string : keyof PublicTables<DB> & string;
/** A row of table `T` as the host answers it. */
export type RowOf<DB, T extends TableName<DB>> = PartOf<DB, T, 'Row', Record<string, any>>;
/** What `create` accepts for table `T` (columns with defaults optional). */
export type InsertOf<DB, T extends TableName<DB>> = PartOf<DB, T, 'Insert', Record<string, unknown>>;
/** What `update` accepts for table `T` (every column optional). */
export type UpdateOf<DB, T extends TableName<DB>> = PartOf<DB, T, 'Update', Record<string, unknown>>;

/**
 * The value that identifies one row of `T`: `Keys[T]` when the generated module gives it
 * (a value for a one-column key, an object for a composite key), else the type of the
 * row's `id` column.
 */
export type IdOf<DB, T extends TableName<DB>, Keys> = T extends keyof Keys
  ? Keys[T]
  : IsAny<DB> extends true
    ? unknown
    : RowOf<DB, T> extends { id: infer I }
      ? I
      : never;

type Scalar = string | number | boolean | null;

/** Comparison operators for one column; several in one object are all required (AND). */
export type Operators<V> = {
  /** `=` */
  eq?: V;
  /** `<>` */
  neq?: V;
  /** `>` */
  gt?: V;
  /** `>=` */
  gte?: V;
  /** `<` */
  lt?: V;
  /** `<=` */
  lte?: V;
  /** One of the values. */
  in?: readonly V[];
  /** `IS NULL`, `IS TRUE`, `IS FALSE`. */
  is?: null | boolean;
  /** SQL `LIKE` (`%` and `_` wildcards; `*` works too). Text columns only. */
  like?: V extends string ? string : never;
  /** Case-insensitive `LIKE`. Text columns only. */
  ilike?: V extends string ? string : never;
};

/**
 * Filters on the columns of a row: a plain value means equality (`null` means `IS NULL`),
 * an object holds {@link Operators}. All must hold (AND).
 *
 * ```ts
 * { published: true, price: { gte: 10, lt: 100 }, name: { ilike: '%chair%' } }
 * ```
 */
export type Where<Row> = {
  [C in keyof Row]?: Extract<Row[C], Scalar> | Operators<Exclude<Row[C], null>>;
};

/** Sort order: columns in the order given, each ascending or descending. */
export type OrderBy<Row> = { [C in keyof Row]?: 'asc' | 'desc' };

/** What `findAll` accepts: filters, order, and a page (an offset needs a limit). */
export type FindAllQuery<Row> = {
  where?: Where<Row>;
  order?: OrderBy<Row>;
} & ({ limit?: number; offset?: undefined } | { limit: number; offset?: number });

/** The typed operations on one table. */
export interface TableApi<Row, Insert, Update, Id> {
  /** Rows matching `query.where` (every row the caller may see when absent). */
  findAll(query?: FindAllQuery<Row>): Promise<Row[]>;
  /** The row with this primary key, or `null` when there is none (or it is not visible). */
  findById(id: Id): Promise<Row | null>;
  /** Inserts one row and returns it as stored (defaults filled in). */
  create(values: Insert): Promise<Row>;
  /** Inserts several rows in one statement and returns them. */
  createMany(values: readonly Insert[]): Promise<Row[]>;
  /** Changes the row with this primary key; the updated row, or `null` when there is none. */
  update(id: Id, patch: Update): Promise<Row | null>;
  /** Deletes the row with this primary key; the deleted row, or `null` when there is none. */
  delete(id: Id): Promise<Row | null>;
}

/** {@link TableApi} for table `T` of `DB`. */
export type TableApiOf<DB, T extends TableName<DB>, Keys = {}> = TableApi<
  RowOf<DB, T>,
  InsertOf<DB, T>,
  UpdateOf<DB, T>,
  IdOf<DB, T, Keys>
>;

/**
 * The client's own members (and what every object has); a table with one of these names
 * is reached with `table(name)` instead.
 */
type Reserved = 'supabase' | 'auth' | 'from' | 'table' | 'then' | '__proto__' | keyof Object;

/** One accessor per table: `backend.products`. */
export type TableAccessors<DB, Keys = {}> =
  IsAny<DB> extends true
    ? { readonly [name: string]: any }
    : { readonly [T in Exclude<TableName<DB>, Reserved>]: TableApiOf<DB, T, Keys> };

/** Options of {@link EasBaseClient}: {@link ClientOptions} and the tables' primary keys. */
export interface EasBaseClientOptions extends ClientOptions {
  /**
   * The primary key columns of each table (`easbase gen sdk` writes them). A table not
   * listed is identified by its `id` column.
   */
  primaryKeys?: Readonly<Record<string, readonly string[]>>;
}

// ---------------------------------------------------------------------------------------
// Errors.

/** What the host answered when a request failed: PostgREST's error body and the status. */
export class EasBaseError extends Error {
  /** PostgREST's code (`PGRST116`, …) or PostgreSQL's SQLSTATE (`23505`, `42501`, …). */
  readonly code: string;
  /** More about what went wrong, when the host says. */
  readonly details: string | null;
  /** How to fix it, when the host says. */
  readonly hint: string | null;
  /** The HTTP status (0 when the request did not reach the host). */
  readonly status: number;

  constructor(body: { code?: string; message?: string; details?: string | null; hint?: string | null }, status: number) {
    super(body.message || `request failed with status ${status}`);
    this.name = 'EasBaseError';
    this.code = body.code ?? '';
    this.details = body.details || null;
    this.hint = body.hint || null;
    this.status = status;
  }
}

type Response = { data: unknown; error: { code?: string; message?: string; details?: string | null; hint?: string | null } | null; status: number };

function unwrap<T>(res: Response): T {
  if (res.error) throw new EasBaseError(res.error, res.status);
  return res.data as T;
}

// ---------------------------------------------------------------------------------------
// The friendly client.

// The query builder, untyped: the public surface is typed by TableApi instead.
type Builder = any;

function applyWhere(query: Builder, where: Record<string, unknown> | undefined): Builder {
  for (const [column, cond] of Object.entries(where ?? {})) {
    if (cond === undefined) continue;
    if (cond === null) {
      query = query.is(column, null);
    } else if (typeof cond !== 'object') {
      query = query.eq(column, cond);
    } else {
      for (const [op, value] of Object.entries(cond as Record<string, unknown>)) {
        if (value === undefined) continue;
        switch (op) {
          case 'eq':
          case 'neq':
          case 'gt':
          case 'gte':
          case 'lt':
          case 'lte':
          case 'like':
          case 'ilike':
            query = value === null && op === 'eq' ? query.is(column, null) : query[op](column, value);
            break;
          case 'in':
            if (!Array.isArray(value)) throw new TypeError(`@easbase/sdk: \`${column}.in\` must be an array`);
            query = query.in(column, value);
            break;
          case 'is':
            query = query.is(column, value);
            break;
          default:
            throw new TypeError(`@easbase/sdk: unknown operator \`${op}\` on \`${column}\``);
        }
      }
    }
  }
  return query;
}

/** Whether every row has the same keys (then no column is missing from any row). */
function sameKeys(rows: readonly unknown[]): boolean {
  const key = (row: unknown) => Object.keys(row as object).sort().join(',');
  const first = key(rows[0]);
  return rows.every((row) => key(row) === first);
}

class Table {
  constructor(
    private readonly client: SupabaseClient<any>,
    private readonly name: string,
    private readonly key: readonly string[],
  ) {}

  private byId(query: Builder, id: unknown): Builder {
    if (id !== null && typeof id === 'object') {
      const given = id as Record<string, unknown>;
      for (const column of this.key) {
        if (given[column] === undefined) {
          throw new TypeError(`@easbase/sdk: the key of \`${this.name}\` needs \`${column}\``);
        }
        query = query.eq(column, given[column]);
      }
      return query;
    }
    if (this.key.length !== 1) {
      throw new TypeError(
        `@easbase/sdk: \`${this.name}\` has a composite key (${this.key.join(', ')}): pass an object`,
      );
    }
    if (id === undefined || id === null) {
      throw new TypeError(`@easbase/sdk: no key given for \`${this.name}\``);
    }
    return query.eq(this.key[0], id);
  }

  async findAll(query: FindAllQuery<Record<string, unknown>> = {}): Promise<unknown[]> {
    let q: Builder = this.client.from(this.name).select('*');
    q = applyWhere(q, query.where as Record<string, unknown> | undefined);
    for (const [column, dir] of Object.entries(query.order ?? {})) {
      if (dir === undefined) continue;
      if (dir !== 'asc' && dir !== 'desc') {
        throw new TypeError(`@easbase/sdk: order of \`${column}\` must be 'asc' or 'desc'`);
      }
      q = q.order(column, { ascending: dir === 'asc' });
    }
    if (query.offset !== undefined) {
      if (query.limit === undefined) throw new TypeError('@easbase/sdk: `offset` needs `limit`');
      q = q.range(query.offset, query.offset + query.limit - 1);
    } else if (query.limit !== undefined) {
      q = q.limit(query.limit);
    }
    return unwrap<unknown[]>(await q);
  }

  async findById(id: unknown): Promise<unknown> {
    return unwrap(await this.byId(this.client.from(this.name).select('*'), id).maybeSingle());
  }

  async create(values: unknown): Promise<unknown> {
    if (Array.isArray(values)) throw new TypeError('@easbase/sdk: `create` takes one row; use `createMany`');
    return unwrap(await this.client.from(this.name).insert(values as any).select('*').single());
  }

  async createMany(values: readonly unknown[]): Promise<unknown[]> {
    if (!Array.isArray(values)) throw new TypeError('@easbase/sdk: `createMany` takes an array of rows');
    if (values.length === 0) return [];
    // supabase-js sends the union of the rows' keys as `columns=`: a row without one of
    // them gets that column's default (`Prefer: missing=default`), not NULL.
    const options = sameKeys(values) ? undefined : { defaultToNull: false };
    return unwrap<unknown[]>(await this.client.from(this.name).insert(values as any, options).select('*'));
  }

  async update(id: unknown, patch: unknown): Promise<unknown> {
    const q = this.byId(this.client.from(this.name).update(patch as any), id);
    return unwrap(await q.select('*').maybeSingle());
  }

  async delete(id: unknown): Promise<unknown> {
    const q = this.byId(this.client.from(this.name).delete(), id);
    return unwrap(await q.select('*').maybeSingle());
  }
}

/** Where a client keeps its state: a symbol, so no table name can shadow it. */
const STATE = Symbol('easbase.state');

type State = { primaryKeys: Readonly<Record<string, readonly string[]>>; tables: Map<string, Table> };

class Client<DB, Keys> {
  /** The supabase-js client underneath (auth, storage, realtime, raw queries). */
  readonly supabase: SupabaseClient<DB>;
  private readonly [STATE]: State;

  constructor(options: EasBaseClientOptions) {
    this.supabase = createClient<DB>(options);
    this[STATE] = { primaryKeys: options.primaryKeys ?? {}, tables: new Map() };
    // Any other property name is a table: `backend.products`.
    return new Proxy(this, {
      get(target, prop, receiver) {
        if (typeof prop !== 'string' || prop in target || prop === 'then') {
          return Reflect.get(target, prop, receiver);
        }
        return target.table(prop as TableName<DB>);
      },
    });
  }

  /** supabase-js's auth client: sign-up, sign-in, sessions; requests then run as that user. */
  get auth(): SupabaseClient<DB>['auth'] {
    return this.supabase.auth;
  }

  /** A query on one table in supabase-js's builder form, typed by `DB`. */
  get from(): SupabaseClient<DB>['from'] {
    return this.supabase.from.bind(this.supabase);
  }

  /** The accessor of one table by name (also for tables named like the client's members). */
  table<T extends TableName<DB>>(name: T): TableApiOf<DB, T, Keys> {
    const state = this[STATE];
    let table = state.tables.get(name);
    if (!table) {
      const key = Object.hasOwn(state.primaryKeys, name) ? state.primaryKeys[name] : undefined;
      table = new Table(this.supabase as SupabaseClient<any>, name, key ?? ['id']);
      state.tables.set(name, table);
    }
    return table as unknown as TableApiOf<DB, T, Keys>;
  }
}

/** The friendly client: supabase-js underneath, one typed accessor per table on top. */
export type EasBaseClient<DB = any, Keys = {}> = Client<DB, Keys> & TableAccessors<DB, Keys>;

/**
 * Creates the friendly client.
 *
 * ```ts
 * import type { Database } from './database.types';
 * const backend = new EasBaseClient<Database>({ url, apiKey });
 * await backend.auth.signInWithPassword({ email, password });
 * const cheap = await backend.products.findAll({ where: { price: { lt: 10 } }, order: { price: 'asc' } });
 * const created = await backend.products.create({ name: 'Chair', price: 49 });
 * await backend.products.update(created.id, { price: 45 });
 * await backend.products.delete(created.id);
 * ```
 */
export const EasBaseClient = Client as unknown as new <DB = any, Keys = {}>(
  options: EasBaseClientOptions,
) => EasBaseClient<DB, Keys>;
