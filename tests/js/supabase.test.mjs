// The real @supabase/supabase-js against examples/axum-server: auth (sign-up, sign-in,
// refresh, user, sign-out, anonymous) and PostgREST CRUD with owner policies, on each
// backend of `backends()` (SQLite and PostgreSQL with real row-level security).
//
//   EASBASE_EXAMPLE_BIN=target/debug/example-axum-server node --experimental-websocket --test tests/js/
//   (EASBASE_JS_BACKENDS=sqlite or postgres for one of them)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { backends, startServer } from './server.mjs';

const PASSWORD = 'correct horse battery';
const run = `${Date.now()}-${process.pid}`;

/** Fails with the server's error, if any, and returns `data`. */
function ok({ data, error }) {
  if (error) assert.fail(`unexpected error: ${JSON.stringify(error)}`);
  return data;
}

for (const backend of backends()) {
  describe(`supabase-js against example-axum-server (${backend})`, () => suite(backend));
}

function suite(backend) {
  let server;
  const client = () =>
    createClient(server.url, server.publishable_key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
  const a = { email: `alice-${run}@example.com` };
  const b = { email: `bob-${run}@example.com` };

  before(async () => {
    server = await startServer({ backend });
    a.client = client();
    b.client = client();
  });

  after(async () => {
    await server?.stop();
  });

  it('signs two users up (auto-confirmed: a session at once)', async () => {
    for (const u of [a, b]) {
      const data = ok(await u.client.auth.signUp({ email: u.email, password: PASSWORD }));
      assert.equal(data.user.email, u.email);
      assert.ok(data.session?.access_token, 'a session on sign-up');
      u.id = data.user.id;
    }
    assert.notEqual(a.id, b.id);
  });

  it('signs them in with their passwords', async () => {
    for (const u of [a, b]) {
      const data = ok(await u.client.auth.signInWithPassword({ email: u.email, password: PASSWORD }));
      assert.equal(data.user.id, u.id);
      assert.equal(data.session.token_type, 'bearer');
      assert.ok(data.session.refresh_token);
    }
    const { error } = await client().auth.signInWithPassword({ email: a.email, password: 'wrong password' });
    assert.ok(error, 'a wrong password is refused');
    assert.equal(error.status, 400);
  });

  it('inserts rows owned by the signed-in user (owner_id defaults to auth.uid)', async () => {
    const rowsA = ok(
      await a.client
        .from('todos')
        .insert([
          { title: 'a1', priority: 1, done: false },
          { title: 'a2', priority: 2, done: true },
          { title: 'a3', priority: 3, done: false },
          { title: 'a4', priority: 4, done: false },
        ])
        .select(),
    );
    assert.equal(rowsA.length, 4);
    assert.ok(rowsA.every((r) => r.owner_id === a.id));
    a.rows = rowsA;
    const rowsB = ok(await b.client.from('todos').insert([
          { title: 'b1', priority: 0 },
          { title: 'b2', priority: 9 },
        ]).select());
    assert.ok(rowsB.every((r) => r.owner_id === b.id));
    b.rows = rowsB;
  });

  it('bulk insert with { defaultToNull: false } (Prefer: missing=default)', async () => {
    const res = await b.client
      .from('todos')
      .insert([{ title: 'b-default' }, { title: 'b-explicit', priority: 5 }], { defaultToNull: false })
      .select();
    // Left-out keys take the column's default, on every engine.
    assert.deepEqual(
      ok(res).map((r) => [r.priority, r.done]),
      [
        [0, false],
        [5, false],
      ],
    );
    ok(
      await b.client
        .from('todos')
        .delete()
        .in(
          'id',
          res.data.map((r) => r.id),
        ),
    );
  });

  it("selects only the user's own rows", async () => {
    const mine = ok(await a.client.from('todos').select('*').order('id'));
    assert.deepEqual(
      mine.map((r) => r.title),
      ['a1', 'a2', 'a3', 'a4'],
    );
    const theirs = ok(await b.client.from('todos').select('*').order('id'));
    assert.deepEqual(
      theirs.map((r) => r.title),
      ['b1', 'b2'],
    );
    const anon = ok(await client().from('todos').select('*'));
    assert.deepEqual(anon, [], 'the anonymous role sees no todos');
  });

  it('updates with .update().eq(), and not the rows of another user', async () => {
    const [row] = a.rows;
    const updated = ok(await a.client.from('todos').update({ title: 'a1 (edited)' }).eq('id', row.id).select());
    assert.equal(updated.length, 1);
    assert.equal(updated[0].title, 'a1 (edited)');

    const foreign = ok(await b.client.from('todos').update({ title: 'hijacked' }).eq('id', row.id).select());
    assert.deepEqual(foreign, [], "B's update matches none of A's rows");
    const still = ok(await a.client.from('todos').select('title').eq('id', row.id).single());
    assert.equal(still.title, 'a1 (edited)');
  });

  it('deletes with .delete().eq(), and not the rows of another user', async () => {
    const victim = a.rows[3];
    const foreign = ok(await b.client.from('todos').delete().eq('id', victim.id).select());
    assert.deepEqual(foreign, []);
    const deleted = ok(await a.client.from('todos').delete().eq('id', victim.id).select());
    assert.deepEqual(
      deleted.map((r) => r.id),
      [victim.id],
    );
  });

  it("counts with select('*', { count: 'exact' })", async () => {
    const res = await a.client.from('todos').select('*', { count: 'exact' });
    const rows = ok(res);
    assert.equal(res.count, 3);
    assert.equal(rows.length, 3);
    const head = await b.client.from('todos').select('*', { count: 'exact', head: true });
    ok(head);
    assert.equal(head.count, 2);
  });

  it('.single() on no row is PGRST116', async () => {
    const { data, error } = await a.client.from('todos').select('*').eq('id', -1).single();
    assert.equal(data, null);
    assert.equal(error?.code, 'PGRST116');
    // B's row does not exist for A either.
    const other = await a.client.from('todos').select('*').eq('id', b.rows[0].id).single();
    assert.equal(other.error?.code, 'PGRST116');
    const maybe = ok(await a.client.from('todos').select('*').eq('id', -1).maybeSingle());
    assert.equal(maybe, null);
  });

  it('filters: eq, gt, in, or, order, range', async () => {
    const titles = (rows) => rows.map((r) => r.title);
    assert.deepEqual(titles(ok(await a.client.from('todos').select('title').eq('done', true))), ['a2']);
    assert.deepEqual(titles(ok(await a.client.from('todos').select('title').gt('priority', 1).order('priority'))), [
      'a2',
      'a3',
    ]);
    const ids = a.rows.slice(0, 2).map((r) => r.id);
    assert.deepEqual(titles(ok(await a.client.from('todos').select('title').in('id', ids).order('id'))), [
      'a1 (edited)',
      'a2',
    ]);
    assert.deepEqual(
      titles(ok(await a.client.from('todos').select('title').or('priority.gte.3,done.is.true').order('priority'))),
      ['a2', 'a3'],
    );
    assert.deepEqual(
      titles(ok(await a.client.from('todos').select('title').order('priority', { ascending: false }))),
      ['a3', 'a2', 'a1 (edited)'],
    );
    assert.deepEqual(titles(ok(await a.client.from('todos').select('title').order('priority').range(1, 2))), [
      'a2',
      'a3',
    ]);
    assert.deepEqual(
      titles(ok(await a.client.from('todos').select('title').ilike('title', 'A1%'))),
      ['a1 (edited)'],
    );
  });

  it('refuses an insert that violates the policy', async () => {
    const { data, error } = await a.client.from('todos').insert({ title: 'for bob', owner_id: b.id }).select();
    assert.ok(error, `the insert was accepted: ${JSON.stringify(data)}`);
    assert.equal(error.code, '42501');
    const anon = await client().from('todos').insert({ title: 'anonymous' });
    assert.ok(anon.error, 'the anonymous role cannot insert');
    const theirs = ok(await b.client.from('todos').select('title').order('id'));
    assert.deepEqual(
      theirs.map((r) => r.title),
      ['b1', 'b2'],
    );
  });

  it('names an unknown column in the error', async () => {
    const sel = await a.client.from('todos').select('nope');
    assert.ok(sel.error, 'selecting an unknown column fails');
    assert.match(JSON.stringify(sel.error), /nope/);
    const ins = await a.client.from('todos').insert({ title: 'x', no_such_column: 1 });
    assert.ok(ins.error, 'inserting an unknown column fails');
    assert.match(JSON.stringify(ins.error), /no_such_column/);
    const flt = await a.client.from('todos').select('*').eq('missing_col', 1);
    assert.ok(flt.error, 'filtering on an unknown column fails');
    assert.match(JSON.stringify(flt.error), /missing_col/);
  });

  it('public profiles: everyone reads, each user writes their own', async () => {
    ok(await a.client.from('profiles').insert({ username: `alice-${run}` }));
    const bad = await b.client.from('profiles').insert({ id: a.id, username: `mallory-${run}` });
    assert.ok(bad.error, "B cannot write A's profile");
    const all = ok(await client().from('profiles').select('id, username').eq('id', a.id));
    assert.deepEqual(all, [{ id: a.id, username: `alice-${run}` }]);
  });

  it('refreshes the session, reads the user and signs out', async () => {
    const before = ok(await a.client.auth.getSession()).session;
    const refreshed = ok(await a.client.auth.refreshSession());
    assert.notEqual(refreshed.session.refresh_token, before.refresh_token, 'the refresh token rotates');
    assert.equal(refreshed.user.id, a.id);

    const user = ok(await a.client.auth.getUser()).user;
    assert.equal(user.email, a.email);
    assert.equal(user.id, a.id);

    // The refreshed token still works for REST.
    assert.equal(ok(await a.client.from('todos').select('id')).length, 3);

    ok(await a.client.auth.signOut());
    assert.equal(ok(await a.client.auth.getSession()).session, null);
    const reuse = await client().auth.refreshSession({ refresh_token: refreshed.session.refresh_token });
    assert.ok(reuse.error, 'the refresh token of a signed-out session is refused');
    // Signed out, the client is anonymous again: no todos.
    assert.deepEqual(ok(await a.client.from('todos').select('*')), []);
  });

  it('answers CORS preflights (a browser front end on another origin)', async () => {
    const res = await fetch(`${server.url}/rest/v1/todos?select=*`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:3000',
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'apikey, authorization, content-type, prefer',
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /\*|PATCH/);
  });

  it('signs in anonymously', async () => {
    const anon = client();
    const data = ok(await anon.auth.signInAnonymously());
    assert.ok(data.session?.access_token);
    assert.equal(data.user.is_anonymous, true);
    const rows = ok(await anon.from('todos').insert({ title: 'guest todo' }).select());
    assert.equal(rows[0].owner_id, data.user.id);
    assert.deepEqual(
      ok(await anon.from('todos').select('title')).map((r) => r.title),
      ['guest todo'],
    );
  });
}
