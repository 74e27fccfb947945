// The generated types against real answers: examples/axum-server serving a table with a
// column of every type; its rows must satisfy the OpenAPI row schema (ajv, JSON Schema
// 2020-12) and, pasted as a literal, the generated `Tables<'kinds'>` under tsc --strict;
// its embeds (one-to-many, one-to-one) must satisfy supabase-js's result type, which it
// derives from the generated `Relationships`.
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer } from '../../../tests/js/server.mjs';
import { PKG, STRICT, gen, schemaValidator, scratch, tsc } from './helpers.mjs';

const KINDS = join(PKG, 'test/fixtures/kinds.json');
// notes: many per kind; details: its key is the foreign key, so at most one (isOneToOne).
const EMBED = 'id, notes(body), details(summary)';

/** Starts the example server on `schema`, through a wrapper that adds `--schema`. */
async function serve(dir, schema) {
  const real = process.env.EASBASE_EXAMPLE_BIN;
  if (!real) throw new Error('EASBASE_EXAMPLE_BIN is not set (scripts/test sets it)');
  const wrapper = join(dir, 'server.sh');
  const sh = (text) => `'${text.replace(/'/g, `'\\''`)}'`;
  writeFileSync(wrapper, `#!/bin/sh\nexec ${sh(real)} --schema ${sh(schema)} "$@"\n`);
  chmodSync(wrapper, 0o755);
  process.env.EASBASE_EXAMPLE_BIN = wrapper;
  try {
    return await startServer();
  } finally {
    process.env.EASBASE_EXAMPLE_BIN = real;
  }
}

describe('generated types match what the server answers', () => {
  let dir;
  let cleanup;
  let server;
  let rows;
  let embeds;
  let doc;

  before(async () => {
    ({ dir, cleanup } = scratch('shapes'));
    await gen('types', KINDS, join(dir, 'kinds.types.ts'));
    doc = JSON.parse(readFileSync(await gen('openapi', KINDS, join(dir, 'openapi.json')), 'utf8'));
    server = await serve(dir, KINDS);
    const headers = {
      apikey: server.secret_key,
      authorization: `Bearer ${server.secret_key}`,
      'content-type': 'application/json',
      prefer: 'return=representation',
    };
    const full = {
      a_text: 'text', a_varchar: 'abcde', a_smallint: -32768, an_integer: 2147483647,
      a_bigint: 9007199254740991, a_decimal: 12.34, a_real: 1.5, a_double: -2.25, a_boolean: true,
      a_date: '2026-11-26', a_time: '13:14:15', a_timestamp: '2026-11-26T13:14:15',
      a_timestamptz: '2026-11-26T13:14:15+00:00', a_json: { a: [1, 'x', null] }, a_jsonb: [true, { b: 2 }],
      a_mood: 'sad', // some_bytes stays NULL: EasBase does not write bytes columns yet (EB200)
    };
    const res = await fetch(`${server.url}/rest/v1/kinds`, { method: 'POST', headers, body: JSON.stringify([full]) });
    assert.equal(res.status, 201, await res.clone().text());
    const empty = await fetch(`${server.url}/rest/v1/kinds`, { method: 'POST', headers, body: '{}' });
    assert.equal(empty.status, 201, await empty.clone().text());
    const all = await fetch(`${server.url}/rest/v1/kinds?order=id`, { headers });
    rows = await all.json();
    assert.equal(rows.length, 2, JSON.stringify(rows));
    const post = async (table, body) => {
      const r = await fetch(`${server.url}/rest/v1/${table}`, { method: 'POST', headers, body: JSON.stringify(body) });
      assert.equal(r.status, 201, await r.text());
    };
    await post('notes', [{ kind_id: 1, body: 'one' }, { kind_id: 1, body: 'two' }]);
    await post('details', { kind_id: 1, summary: 'the first' });
    const embedded = await fetch(`${server.url}/rest/v1/kinds?select=${encodeURIComponent(EMBED)}&order=id`, { headers });
    embeds = await embedded.json();
    assert.equal(embedded.status, 200, JSON.stringify(embeds));
  });

  after(async () => {
    await server?.stop();
    cleanup?.();
  });

  it('satisfies the OpenAPI row schema', () => {
    const check = schemaValidator(doc);
    for (const row of rows) {
      const errors = check('kinds', row);
      assert.equal(errors, null, `${JSON.stringify(row)}\n${JSON.stringify(errors, null, 2)}`);
    }
    // Every column is there, and nothing else.
    assert.deepEqual(Object.keys(rows[0]).sort(), Object.keys(doc.components.schemas.kinds.properties).sort());
  });

  it('embeds as the relationships say: an array for many, one object for one-to-one', async () => {
    assert.deepEqual(embeds, [
      { id: 1, notes: [{ body: 'one' }, { body: 'two' }], details: { summary: 'the first' } },
      { id: 2, notes: [], details: null },
    ]);
    // supabase-js's own result type for that select, from the generated relationships,
    // accepts what the server answered.
    const file = join(dir, 'embeds.ts');
    writeFileSync(
      file,
      `import { createClient, type QueryData } from '@supabase/supabase-js';
import type { Database } from './kinds.types.js';
const query = createClient<Database>('http://127.0.0.1:1', 'k').from('kinds').select(${JSON.stringify(EMBED)});
export const rows = ${JSON.stringify(embeds, null, 2)} satisfies QueryData<typeof query>;
`,
    );
    const res = await tsc([...STRICT, '--noEmit', file]);
    assert.equal(res.code, 0, `the embedded rows do not fit supabase-js's type:\n${res.output}`);
  });

  it("satisfies the generated Tables<'kinds'> under tsc --strict", async () => {
    const literal = JSON.stringify(rows, null, 2);
    const check = (name, value) => {
      const file = join(dir, name);
      writeFileSync(
        file,
        `import type { Tables } from './kinds.types.js';\nexport const rows = ${value} satisfies Tables<'kinds'>[];\n`,
      );
      return file;
    };
    const ok = await tsc([...STRICT, '--noEmit', check('rows.ts', literal)]);
    assert.equal(ok.code, 0, `the server's rows do not fit the generated type:\n${ok.output}\n${literal}`);
    // The same check refuses a value of another type (it is real).
    const broken = JSON.stringify([{ ...rows[0], a_decimal: String(rows[0].a_decimal) }], null, 2);
    const file = check('broken.ts', broken);
    const bad = await tsc([...STRICT, '--noEmit', file]);
    assert.notEqual(bad.code, 0, 'a decimal given as a string was accepted');
    const line = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('"a_decimal"')) + 1;
    assert.match(bad.output, new RegExp(`broken\\.ts\\(${line},\\d+\\): error TS2322: Type 'string' is not assignable to type 'number'`));
  });
});
