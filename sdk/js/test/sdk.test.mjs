// @easbase/sdk under node against examples/axum-server (started like tests/js does):
// `easbase gen sdk` on the server's schema, compiled with tsc --strict, then
// findAll / findById / create / update / delete with filters, row policies between two
// users, the accessToken option, typed errors, and the plain supabase-js form.
//
//   EASBASE_EXAMPLE_BIN=…/example-axum-server npm test
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { startServer } from '../../../tests/js/server.mjs';
import { PKG, SERVER_SCHEMA, STRICT, gen, schemaValidator, scratch, tsc } from './helpers.mjs';

const PASSWORD = 'correct horse battery';
const run = `${Date.now()}-${process.pid}`;

describe('@easbase/sdk against example-axum-server', () => {
  let server;
  let usage;
  let dir;
  let cleanup;
  const a = {};
  const b = {};

  before(async () => {
    ({ dir, cleanup } = scratch('sdk'));
    await gen('sdk', SERVER_SCHEMA, join(dir, 'easbase.ts'));
    copyFileSync(join(PKG, 'test/fixtures/server-usage.ts'), join(dir, 'usage.ts'));
    const out = join(dir, 'out');
    const { code, output } = await tsc([...STRICT, '--rootDir', dir, '--outDir', out, join(dir, 'usage.ts')]);
    assert.equal(code, 0, `tsc failed:\n${output}`);
    usage = await import(pathToFileURL(join(out, 'usage.js')).href);
    server = await startServer();
  });

  after(async () => {
    await server?.stop();
    cleanup?.();
  });

  it('signs two users up through backend.auth', async () => {
    for (const [u, name] of [[a, 'ann'], [b, 'bob']]) {
      u.backend = usage.connect({ url: server.url, apiKey: server.publishable_key });
      Object.assign(u, await usage.signUp(u.backend, `${name}-${run}@example.com`, PASSWORD));
    }
    assert.notEqual(a.id, b.id);
  });

  it('creates, finds, filters, orders, pages, updates and deletes', async () => {
    const r = await usage.crud(a.backend);
    assert.equal(r.first.title, 'write the SDK');
    assert.equal(r.first.owner_id, a.id, 'owner_id defaults to the user');
    assert.equal(r.first.done, false, 'done defaults to false');
    assert.equal(typeof r.first.id, 'number');
    assert.deepEqual(r.more.map((t) => t.title), ['test it', 'ship it', 'celebrate']);
    // done = false and priority >= 2, by priority descending.
    assert.deepEqual(r.open.map((t) => t.priority), [4, 2]);
    // Ordered by priority, one skipped, two taken.
    assert.deepEqual(r.page.map((t) => t.priority), [2, 3]);
    // priority in (1, 3) and title like '% it'.
    assert.deepEqual(r.some.map((t) => t.title), ['ship it']);
    assert.deepEqual(r.byId, r.first);
    assert.deepEqual(r.byKeyObject, r.first, 'a key given as an object');
    assert.equal(r.missing, null);
    assert.equal(r.updated.id, r.first.id);
    assert.equal(r.updated.done, true);
    assert.equal(r.updated.title, 'wrote the SDK');
    assert.equal(r.updatedMissing, null);
    assert.equal(r.deleted.id, r.more[0].id);
    assert.equal(r.afterDelete, null);
    assert.equal(r.deletedAgain, null);
    assert.deepEqual(r.all.map((t) => t.title), ['wrote the SDK', 'ship it', 'celebrate']);
    a.todos = r.all;
  });

  it("keeps one user's rows from another (row policies through the SDK)", async () => {
    const theirs = a.todos[0].id;
    const { backend } = b;
    assert.deepEqual(await backend.todos.findAll(), []);
    assert.equal(await backend.todos.findById(theirs), null);
    assert.equal(await backend.todos.update(theirs, { title: 'mine now' }), null);
    assert.equal(await backend.todos.delete(theirs), null);
    const still = await a.backend.todos.findById(theirs);
    assert.equal(still.title, 'wrote the SDK');
  });

  it('acts as the user whose accessToken it is given', async () => {
    const asA = usage.connect({ url: server.url, apiKey: server.publishable_key, accessToken: a.token });
    const rows = await asA.todos.findAll({ order: { id: 'asc' } });
    assert.deepEqual(rows.map((t) => t.id), a.todos.map((t) => t.id));
    const anon = usage.connect({ url: server.url, apiKey: server.publishable_key });
    assert.deepEqual(await anon.todos.findAll(), []);
  });

  it("throws EasBaseError with PostgREST's code, message, details and hint", async () => {
    const e = await usage.errors(a.backend);
    assert.equal(e.emptyTitle?.name, 'EasBaseError');
    assert.equal(e.emptyTitle.code, '23514', JSON.stringify(e.emptyTitle));
    assert.equal(e.emptyTitle.status, 400);
    assert.equal(e.unknownColumn?.code, '42703', JSON.stringify(e.unknownColumn));
    assert.equal(e.unknownColumn.status, 400);
    assert.match(e.unknownColumn.message, /nope/);
    assert.equal(e.badValue?.code, '22P02', JSON.stringify(e.badValue));
    assert.equal(e.badValue.status, 400);
    assert.match(e.badValue.message, /not-a-number/);
    for (const err of Object.values(e)) {
      assert.ok(err.details === null || typeof err.details === 'string');
      assert.ok(err.hint === null || typeof err.hint === 'string');
    }
  });

  it('answers a unique violation with 409 23505', async () => {
    const username = `taken-${run}`;
    const mine = await usage.createProfile(a.backend, username);
    assert.equal(mine.id, a.id, 'the profile id defaults to the user');
    const clash = await usage.failure(() => usage.createProfile(b.backend, username));
    assert.equal(clash?.code, '23505', JSON.stringify(clash));
    assert.equal(clash.status, 409);
  });

  it('gives the plain supabase-js client from createClient({ url, apiKey })', async () => {
    const seen = await usage.plain({ url: server.url, apiKey: server.publishable_key });
    assert.ok(seen.profiles >= 1, 'profiles are readable by anyone');
    assert.equal(seen.todos, 0, "anon sees nobody's todos");
  });

  it('refuses bad options before any request', async () => {
    const { createClient, EasBaseClient } = await import('@easbase/sdk');
    assert.throws(() => createClient({ url: 'localhost:8080', apiKey: 'k' }), /`url` must be an http\(s\) URL/);
    assert.throws(() => createClient({ url: server.url, apiKey: '' }), /`apiKey` must be a non-empty string/);
    assert.throws(() => new EasBaseClient({ url: server.url }), /`apiKey`/);
    const backend = new EasBaseClient({ url: server.url, apiKey: server.publishable_key });
    await assert.rejects(backend.todos.findAll({ offset: 1 }), /`offset` needs `limit`/);
    await assert.rejects(backend.todos.findAll({ where: { id: { near: 1 } } }), /unknown operator `near`/);
    await assert.rejects(backend.todos.findById(undefined), /no key given/);
    await assert.rejects(backend.todos.create([{ title: 'x' }]), /use `createMany`/);
    // Accessors are made once; the client is not a thenable; members win over table names.
    assert.equal(backend.todos, backend.table('todos'));
    assert.equal(backend.then, undefined);
    assert.equal(await Promise.resolve(backend), backend);
    assert.equal(backend.auth, backend.supabase.auth);
    // A host that does not answer: an EasBaseError with status 0.
    const nowhere = new EasBaseClient({ url: 'http://127.0.0.1:1', apiKey: 'k' });
    await assert.rejects(nowhere.todos.findAll(), (e) => e.name === 'EasBaseError' && e.status === 0 && e.message !== '');
  });

  it('answers in the shape the OpenAPI document describes', async () => {
    const out = await gen('openapi', SERVER_SCHEMA, join(dir, 'openapi.json'), ['--server-url', `${server.url}/rest/v1`]);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    const check = schemaValidator(doc);
    const base = doc.servers[0].url;
    const headers = { apikey: server.publishable_key, authorization: `Bearer ${a.token}` };
    const get = async (path) => {
      const res = await fetch(`${base}${path}`, { headers });
      return { status: res.status, body: await res.json() };
    };
    // Every table's collection route, and its row route with a real key.
    for (const path of ['/todos', '/profiles']) {
      assert.ok(doc.paths[path]?.get, `${path} is documented`);
      const { status, body } = await get(path);
      assert.equal(status, 200, JSON.stringify(body));
      assert.ok(body.length > 0, `${path}: rows to check`);
      for (const row of body) assert.equal(check(path.slice(1), row), null, `${path}: ${JSON.stringify(row)}`);
    }
    const id = a.todos[0].id;
    assert.ok(doc.paths['/todos/{id}'].get);
    const one = await get(`/todos/${id}`);
    // The row route answers one object (404 when there is no such row).
    assert.equal(one.status, 200);
    assert.equal(check('todos', one.body), null);
    // The write schemas: what the SDK sends passes, a typo or a missing column does not.
    assert.equal(check('todos.insert', { title: 'x', priority: 2 }), null);
    assert.notEqual(check('todos.insert', { title: 'x', nmae: 1 }), null);
    assert.notEqual(check('todos.insert', { priority: 1 }), null);
    assert.equal(check('todos.update', { done: true }), null);
    assert.notEqual(check('todos.update', { done: 'yes' }), null);
    // An error body.
    const bad = await get('/todos?nope=eq.1');
    assert.equal(bad.status, 400);
    assert.equal(check('easbase.error', bad.body), null, JSON.stringify(bad.body));
    // A row that breaks the schema is caught (the check is real).
    assert.notEqual(check('todos', { ...one.body[0], id: 'one' }), null);
  });

  it('the generated module names the key of each table', () => {
    const text = readFileSync(join(dir, 'easbase.ts'), 'utf8');
    assert.match(text, /export const primaryKeys = \{\n[^}]*todos: \["id"\],/);
  });
});
