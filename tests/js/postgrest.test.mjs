// postgrest-js (through supabase-js's `.from()` / `.rpc()`) against examples/axum-server:
// embeds (nested, spread, filtered, ordered), every filter operator easbase-rest supports,
// ordering, ranges and counts, inserts, bulk inserts, upserts, updates, deletes, single
// objects and error cases, with row-level security on and signed-in users' JWTs.
//
//   EASBASE_EXAMPLE_BIN=target/debug/example-axum-server node --experimental-websocket --test tests/js/postgrest.test.mjs
//   (EASBASE_JS_BACKENDS=sqlite or postgres for one of them)
//
// Each suite runs on every backend of `backends()`: SQLite and PostgreSQL (real RLS), with
// the same expectations (and MariaDB/MySQL when asked for). What only PostgreSQL answers
// (jsonb containment, full-text search) must be answered there and refused elsewhere with
// EB203 naming the engine, never answered differently.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { backends, startServer } from './server.mjs';

const PASSWORD = 'correct horse battery';
const run = `${Date.now()}-${process.pid}`;

/** Fails with the server's error, if any, and returns `data`. */
function ok(res) {
  if (res.error) assert.fail(`unexpected error: ${JSON.stringify(res.error)}`);
  return res.data;
}

/** Asserts the request failed with `status` and `code`, and returns the error. */
function fails(res, status, code) {
  assert.ok(res.error, `expected ${status} ${code}, got data ${JSON.stringify(res.data)}`);
  assert.equal(res.status, status, JSON.stringify(res.error));
  assert.equal(res.error.code, code, JSON.stringify(res.error));
  return res.error;
}

for (const backend of backends()) {
  describe(`postgrest-js against example-axum-server (${backend})`, () => suite(backend));
}

function suite(backend) {
  let server;
  const client = () =>
    createClient(server.url, server.publishable_key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
  /** PostgreSQL answers (checked by `check`); the other engines refuse with EB203 naming themselves. */
  const pgOrRefused = (res, check) => {
    if (backend === 'postgres') return check(ok(res));
    fails(res, 400, 'EB203');
    const engine = { sqlite: 'SQLite', mysql: 'MySQL/MariaDB' }[backend];
    assert.ok(res.error.message.endsWith(`not supported on ${engine}`), res.error.message);
  };
  const a = { email: `pa-${run}@example.com` };
  const b = { email: `pb-${run}@example.com` };
  const ids = (rows) => rows.map((r) => r.id);
  const titles = (rows) => rows.map((r) => r.title);

  before(async () => {
    server = await startServer({ backend });
    for (const u of [a, b]) {
      u.client = client();
      const data = ok(await u.client.auth.signUp({ email: u.email, password: PASSWORD }));
      assert.ok(data.session?.access_token, 'a session (and a JWT) on sign-up');
      u.id = data.user.id;
    }
  });

  after(async () => {
    await server?.stop();
  });

  it('inserts, bulk inserts and reads back under RLS', async () => {
    const [p1] = ok(
      await a.client
        .from('projects')
        .insert({ name: 'apollo', meta: { color: 'red', tags: ['x'] }, budget: 10 })
        .select(),
    );
    assert.equal(p1.owner_id, a.id, 'owner_id defaults to auth.uid');
    const more = ok(
      await a.client
        .from('projects')
        .insert([
          { name: 'gemini', meta: { color: 'blue' }, budget: 5 },
          { name: 'mercury', meta: null, budget: null },
        ])
        .select('id, name'),
    );
    assert.deepEqual(
      more.map((p) => p.name),
      ['gemini', 'mercury'],
    );
    a.projects = [p1, ...more];
    const [apollo, gemini] = a.projects;
    const tasks = ok(
      await a.client
        .from('tasks')
        .insert([
          { project_id: apollo.id, title: 'launch', points: 5, tag: 'ops' },
          { project_id: apollo.id, title: 'land', points: 3, tag: 'ops' },
          { project_id: apollo.id, title: 'return', points: 8, tag: null },
          { project_id: gemini.id, title: 'dock', points: 2, tag: 'eng' },
        ])
        .select(),
    );
    assert.equal(tasks.length, 4);
    a.tasks = tasks;
    const [bp] = ok(await b.client.from('projects').insert({ name: 'vostok', budget: 1 }).select());
    ok(await b.client.from('tasks').insert({ project_id: bp.id, title: 'orbit' }));
    b.project = bp;
    // Each user sees only their own rows, in embeds too.
    assert.deepEqual(
      ok(await b.client.from('projects').select('name, tasks(title)')),
      [{ name: 'vostok', tasks: [{ title: 'orbit' }] }],
    );
    assert.deepEqual(ok(await client().from('projects').select('*')), [], 'anon sees nothing');
    // Writing a row owned by someone else breaks the insert policy.
    fails(await b.client.from('projects').insert({ name: 'x', owner_id: a.id }), 403, '42501');
    // B's task cannot point at A's project through B's eyes: the embed is null.
    const [t] = ok(await b.client.from('tasks').insert({ project_id: apollo.id, title: 'spy' }).select('title, projects(name)'));
    assert.deepEqual(t, { title: 'spy', projects: null });
  });

  it('embeds: nested, filtered, ordered, limited, !inner, spread, related order', async () => {
    const [apollo, gemini, mercury] = a.projects;
    const nested = ok(
      await a.client
        .from('tasks')
        .select('title, project:projects(name, tasks(title))')
        .eq('id', a.tasks[3].id)
        .order('title', { referencedTable: 'project.tasks' }),
    );
    assert.deepEqual(nested, [{ title: 'dock', project: { name: 'gemini', tasks: [{ title: 'dock' }] } }]);
    const projects = ok(
      await a.client
        .from('projects')
        .select('name, tasks(title, points)')
        .order('id')
        .order('points', { referencedTable: 'tasks', ascending: false })
        .limit(2, { referencedTable: 'tasks' }),
    );
    assert.deepEqual(projects, [
      { name: 'apollo', tasks: [{ title: 'return', points: 8 }, { title: 'launch', points: 5 }] },
      { name: 'gemini', tasks: [{ title: 'dock', points: 2 }] },
      { name: 'mercury', tasks: [] },
    ]);
    const inner = ok(
      await a.client.from('projects').select('name, tasks!inner(title)').eq('tasks.tag', 'ops').order('id'),
    );
    assert.deepEqual(inner, [{ name: 'apollo', tasks: [{ title: 'launch' }, { title: 'land' }] }]);
    const spread = ok(
      await a.client.from('tasks').select('title, ...projects(project:name, budget)').eq('project_id', gemini.id),
    );
    assert.deepEqual(spread, [{ title: 'dock', project: 'gemini', budget: 5 }]);
    const byProject = ok(
      await a.client.from('tasks').select('title, projects(name)').order('projects(name)', { ascending: false }).order('id'),
    );
    assert.deepEqual(titles(byProject), ['dock', 'launch', 'land', 'return']);
    const embedFilter = ok(
      await a.client
        .from('projects')
        .select('name, tasks(title)')
        .or('tag.eq.eng,points.gt.6', { referencedTable: 'tasks' })
        .in('id', [apollo.id, gemini.id, mercury.id])
        .order('id'),
    );
    assert.deepEqual(
      embedFilter.map((p) => p.tasks.map((t) => t.title)),
      [['return'], ['dock'], []],
    );
    fails(await a.client.from('projects').select('name, ...tasks(title)'), 400, 'PGRST119');
    fails(await a.client.from('projects').select('name, tasks(title)').order('tasks(title)'), 400, 'PGRST118');
    fails(await a.client.from('projects').select('name, profiles(*)'), 400, 'PGRST200');
  });

  it('every filter operator', async () => {
    const q = () => a.client.from('tasks').select('title').order('id');
    const cases = [
      [q().eq('title', 'land'), ['land']],
      [q().neq('title', 'land'), ['launch', 'return', 'dock']],
      [q().gt('points', 3), ['launch', 'return']],
      [q().gte('points', 3), ['launch', 'land', 'return']],
      [q().lt('points', 3), ['dock']],
      [q().lte('points', 3), ['land', 'dock']],
      [q().like('title', 'la%'), ['launch', 'land']],
      [q().ilike('title', 'LA%'), ['launch', 'land']],
      [q().likeAnyOf('title', ['%ck', 'r%']), ['return', 'dock']],
      [q().likeAllOf('title', ['l%', '%d']), ['land']],
      [q().regexMatch('title', '^l.n'), ['land']],
      [q().regexIMatch('title', '^L'), ['launch', 'land']],
      [q().in('points', [2, 8]), ['return', 'dock']],
      [q().is('tag', null), ['return']],
      [q().not('tag', 'is', null), ['launch', 'land', 'dock']],
      [q().isDistinct('tag', 'ops'), ['return', 'dock']],
      [q().not('title', 'in', '(land,dock)'), ['launch', 'return']],
      [q().or('points.gt.6,and(tag.eq.eng,points.lt.3)'), ['return', 'dock']],
      [q().match({ tag: 'ops', points: 3 }), ['land']],
      [q().filter('points', 'gte', 5), ['launch', 'return']],
      [q().eq('tag', 'ops').not('points', 'eq', 5), ['land']],
    ];
    for (const [query, want] of cases) {
      assert.deepEqual(titles(ok(await query)), want, query.url.search);
    }
    // JSON paths and casts.
    const [apollo] = a.projects;
    const json = ok(
      await a.client.from('projects').select('color:meta->>color, first:meta->tags->0, id::text').eq('id', apollo.id),
    );
    assert.deepEqual(json, [{ color: 'red', first: 'x', id: String(apollo.id) }]);
    assert.deepEqual(
      ok(await a.client.from('projects').select('name').eq('meta->>color', 'blue')),
      [{ name: 'gemini' }],
    );
    // PostgreSQL-only operators: an answer there, a clear refusal on SQLite.
    pgOrRefused(await a.client.from('projects').select('name').contains('meta', { color: 'red' }), (rows) =>
      assert.deepEqual(rows, [{ name: 'apollo' }]),
    );
    pgOrRefused(await a.client.from('projects').select('name').containedBy('meta', { color: 'blue', x: 1 }), (rows) =>
      assert.deepEqual(rows, [{ name: 'gemini' }]),
    );
    pgOrRefused(
      await a.client.from('tasks').select('title').textSearch('title', 'launch', { config: 'english', type: 'plain' }),
      (rows) => assert.deepEqual(rows, [{ title: 'launch' }]),
    );
    // Range operators exist for range columns only.
    fails(await a.client.from('tasks').select('title').rangeGt('points', '[1,2]'), 404, '42883');
    fails(await a.client.from('tasks').select('title').like('points', '1%'), 404, '42883');
  });

  it('orders, ranges and counts', async () => {
    const rows = ok(await a.client.from('tasks').select('title').order('tag', { ascending: true, nullsFirst: true }).order('points'));
    assert.deepEqual(titles(rows), ['return', 'dock', 'land', 'launch']);
    const page = await a.client.from('tasks').select('title', { count: 'exact' }).order('id').range(1, 2);
    assert.deepEqual(titles(ok(page)), ['land', 'return']);
    assert.equal(page.count, 4);
    assert.equal(page.status, 206);
    const head = await a.client.from('tasks').select('*', { count: 'exact', head: true });
    assert.equal(head.count, 4);
    assert.equal(head.data, null);
    const planned = await a.client.from('tasks').select('id', { count: 'planned' });
    ok(planned);
    assert.equal(typeof planned.count, 'number');
    const past = await a.client.from('tasks').select('id', { count: 'exact' }).range(10, 12);
    fails(past, 416, 'PGRST103');
  });

  it('aggregates, grouped by the other selected columns', async () => {
    const groups = ok(await a.client.from('tasks').select('tag, n:count(), total:points.sum()').order('tag'));
    assert.deepEqual(groups, [
      { tag: 'eng', n: 1, total: 2 },
      { tag: 'ops', n: 2, total: 8 },
      { tag: null, n: 1, total: 8 },
    ]);
    assert.deepEqual(ok(await a.client.from('tasks').select('count()')), [{ count: 4 }]);
    fails(await a.client.from('tasks').select('tag, count()').order('id'), 400, '42803');
  });

  it('bulk insert with missing=default (defaultToNull: false)', async () => {
    const [, gemini] = a.projects;
    const res = await a.client
      .from('tasks')
      .insert([{ project_id: gemini.id, title: 'tmp1' }, { project_id: gemini.id, title: 'tmp2', points: 7 }], {
        defaultToNull: false,
      })
      .select('title, points');
    // Left-out keys take the column's default on every engine.
    assert.deepEqual(ok(res), [
      { title: 'tmp1', points: 1 },
      { title: 'tmp2', points: 7 },
    ]);
    ok(await a.client.from('tasks').delete().like('title', 'tmp%'));
  });

  it('single objects: .single() and .maybeSingle()', async () => {
    const one = ok(await a.client.from('projects').select('name').eq('name', 'apollo').single());
    assert.deepEqual(one, { name: 'apollo' });
    const none = await a.client.from('projects').select('name').eq('name', 'vostok').single();
    const err = fails(none, 406, 'PGRST116');
    assert.equal(err.details, 'The result contains 0 rows');
    fails(await a.client.from('projects').select('name').single(), 406, 'PGRST116');
    assert.equal(ok(await a.client.from('projects').select('name').eq('name', 'vostok').maybeSingle()), null);
    const inserted = ok(await a.client.from('projects').insert({ name: 'skylab' }).select('name').single());
    assert.deepEqual(inserted, { name: 'skylab' });
  });

  it('upserts, updates and deletes (with their answers and limits)', async () => {
    const [apollo] = a.projects;
    const merged = ok(
      await a.client.from('projects').upsert({ id: apollo.id, name: 'apollo 11', budget: 11 }).select('name, budget'),
    );
    assert.deepEqual(merged, [{ name: 'apollo 11', budget: 11 }]);
    const ignored = ok(
      await a.client
        .from('projects')
        .upsert([{ id: apollo.id, name: 'ignored' }], { ignoreDuplicates: true })
        .select('name'),
    );
    assert.deepEqual(ignored, []);
    const updated = ok(
      await a.client.from('tasks').update({ tag: 'done' }).eq('tag', 'ops').select('title, project:projects(name)').order('id'),
    );
    assert.deepEqual(updated, [
      { title: 'launch', project: { name: 'apollo 11' } },
      { title: 'land', project: { name: 'apollo 11' } },
    ]);
    // B's update reaches none of A's rows.
    assert.deepEqual(ok(await b.client.from('tasks').update({ tag: 'x' }).eq('tag', 'done').select()), []);
    fails(await a.client.from('tasks').update({ tag: 'y' }).gt('points', 0).maxAffected(1), 400, 'PGRST124');
    const limited = ok(await a.client.from('tasks').delete().eq('tag', 'done').order('points').limit(1).select('title'));
    assert.deepEqual(limited, [{ title: 'land' }]);
    const deleted = ok(await a.client.from('tasks').delete().eq('tag', 'done').select('title'));
    assert.deepEqual(deleted, [{ title: 'launch' }]);
    assert.deepEqual(titles(ok(await a.client.from('tasks').select('title').order('id'))), ['return', 'dock']);
  });

  it('refuses bad requests with PostgREST bodies', async () => {
    const unknownColumn = fails(await a.client.from('tasks').select('nope'), 400, '42703');
    assert.equal(unknownColumn.message, 'column tasks.nope does not exist');
    fails(await a.client.from('nope').select('*'), 404, 'PGRST205');
    fails(await a.client.from('tasks').select('*').eq('points', 'many'), 400, '22P02');
    fails(await a.client.from('tasks').insert({ title: 'no project' }), 400, '23502');
    fails(await a.client.from('tasks').insert({ project_id: 999999, title: 'dangling' }), 409, '23503');
    fails(await a.client.from('projects').select('id::money'), 400, 'EB202');
    fails(await a.client.from('tasks').delete(), 400, '21000');
    const rpc = fails(await a.client.rpc('nope', { x: 1 }), 404, 'PGRST202');
    assert.match(rpc.message, /Could not find the function public\.nope\(x\)/);
  });
}
