// The real @supabase/supabase-js against examples/actix-server (the REST and auth handlers
// mounted in actix-web without tower): sign-up, sign-in, CRUD under owner policies, and a
// second user who sees none of the first one's rows.
//
//   EASBASE_ACTIX_BIN=target/debug/example-actix-server node --experimental-websocket --test tests/js/actix.test.mjs
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { startServer } from './server.mjs';

const PASSWORD = 'correct horse battery';
const run = `${Date.now()}-${process.pid}`;

let server;
const client = () =>
  createClient(server.url, server.publishable_key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });

function ok({ data, error }) {
  if (error) assert.fail(`unexpected error: ${JSON.stringify(error)}`);
  return data;
}

describe('supabase-js against example-actix-server', () => {
  const a = { email: `alice-${run}@example.com` };
  const b = { email: `bob-${run}@example.com` };

  before(async () => {
    server = await startServer({ binEnv: 'EASBASE_ACTIX_BIN' });
    a.client = client();
    b.client = client();
  });

  after(async () => {
    await server?.stop();
  });

  it('prints the JSON line with the project id', () => {
    assert.match(server.publishable_key, /^eb_pk_/);
    assert.match(server.secret_key, /^eb_sk_/);
    assert.ok(server.project_id);
  });

  it('signs users up and in', async () => {
    for (const u of [a, b]) {
      const up = ok(await u.client.auth.signUp({ email: u.email, password: PASSWORD }));
      assert.equal(up.user.email, u.email);
      const signedIn = ok(await u.client.auth.signInWithPassword({ email: u.email, password: PASSWORD }));
      assert.equal(signedIn.user.id, up.user.id);
      u.id = up.user.id;
    }
    const { error } = await client().auth.signInWithPassword({ email: a.email, password: 'wrong password' });
    assert.equal(error?.status, 400);
    const user = ok(await a.client.auth.getUser());
    assert.equal(user.user.email, a.email);
  });

  it('creates, reads, updates and deletes rows under the owner policies', async () => {
    const created = ok(
      await a.client.from('todos').insert([{ title: 'first', priority: 1 }, { title: 'second', priority: 2 }]).select(),
    );
    assert.equal(created.length, 2);
    assert.ok(created.every((t) => t.owner_id === a.id));
    const [first, second] = created;

    const { data, count } = await a.client
      .from('todos')
      .select('id, title, priority', { count: 'exact' })
      .order('priority', { ascending: false });
    assert.equal(count, 2, 'Content-Range crosses the actix conversion');
    assert.deepEqual(
      data.map((t) => t.title),
      ['second', 'first'],
    );

    const updated = ok(await a.client.from('todos').update({ done: true }).eq('id', first.id).select().single());
    assert.equal(updated.done, true);
    ok(await a.client.from('todos').delete().eq('id', second.id));
    const left = ok(await a.client.from('todos').select('title'));
    assert.deepEqual(left, [{ title: 'first' }]);
  });

  it("keeps one user's rows from another", async () => {
    assert.deepEqual(ok(await b.client.from('todos').select('*')), []);
    const changed = ok(await b.client.from('todos').update({ title: 'mine now' }).neq('id', 0).select());
    assert.deepEqual(changed, []);
    const { error } = await b.client.from('todos').insert({ title: 'forged', owner_id: a.id });
    assert.equal(error?.code, '42501');
    const mine = ok(await a.client.from('todos').select('title'));
    assert.deepEqual(mine, [{ title: 'first' }]);
  });

  it('answers errors in PostgREST shape', async () => {
    const { error, status } = await a.client.from('todos').select('nope');
    assert.equal(status, 400);
    assert.equal(error.code, '42703');
    const missing = await a.client.from('no_such_table').select('*');
    assert.equal(missing.status, 404);
  });
});
