// The generated TypeScript under `tsc --strict`: `easbase gen types` and `easbase gen sdk`
// on the e-commerce fixture compile with a usage file (supabase-js and @easbase/sdk forms,
// with @ts-expect-error lines that must be errors), and typos of a column name fail.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PKG, ROOT, SERVER_SCHEMA, SHOP, STRICT, gen, scratch, tsc } from './helpers.mjs';

describe('generated types under tsc --strict', () => {
  let dir;
  let cleanup;

  before(async () => {
    ({ dir, cleanup } = scratch('types'));
    await gen('types', SHOP, join(dir, 'shop.types.ts'));
    await gen('sdk', SHOP, join(dir, 'shop.sdk.ts'));
    copyFileSync(join(PKG, 'test/fixtures/shop-usage.ts'), join(dir, 'usage.ts'));
    copyFileSync(join(PKG, 'test/fixtures/shop-typos.ts'), join(dir, 'typos.ts'));
  });

  after(() => cleanup?.());

  it('writes what the library snapshots hold (the CLI adds nothing)', () => {
    const snapshots = join(ROOT, 'easbase-codegen/tests/snapshots');
    assert.equal(readFileSync(join(dir, 'shop.types.ts'), 'utf8'), readFileSync(join(snapshots, 'shop.database.types.ts'), 'utf8'));
    assert.equal(readFileSync(join(dir, 'shop.sdk.ts'), 'utf8'), readFileSync(join(snapshots, 'shop.sdk.ts'), 'utf8'));
  });

  it('compiles the types, the SDK module and a usage file', async () => {
    const { code, output } = await tsc([...STRICT, '--noEmit', join(dir, 'usage.ts')]);
    assert.equal(code, 0, `tsc failed:\n${output}`);
  });

  it('compiles the types of the example server schema on their own', async () => {
    const types = await gen('types', SERVER_SCHEMA, join(dir, 'server.types.ts'));
    const sdk = await gen('sdk', SERVER_SCHEMA, join(dir, 'server.sdk.ts'));
    const { code, output } = await tsc([...STRICT, '--noEmit', types, sdk]);
    assert.equal(code, 0, `tsc failed:\n${output}`);
  });

  it('compiles and runs for names that are keywords or Object.prototype keys', async () => {
    await gen('sdk', join(PKG, 'test/fixtures/edge-names.json'), join(dir, 'edge.sdk.ts'));
    copyFileSync(join(PKG, 'test/fixtures/edge-usage.ts'), join(dir, 'edge-usage.ts'));
    const out = join(dir, 'edge-out');
    const { code, output } = await tsc([...STRICT, '--rootDir', dir, '--outDir', out, join(dir, 'edge-usage.ts')]);
    assert.equal(code, 0, `tsc failed:\n${output}`);
    const { keys } = await import(pathToFileURL(join(out, 'edge-usage.js')).href);
    assert.ok(Object.hasOwn(keys, '__proto__'), 'a table named __proto__ is a key, not the prototype');
    assert.deepEqual(keys['__proto__'], ['id']);
    assert.equal(Object.getPrototypeOf(keys), Object.prototype);
    assert.deepEqual(Object.keys(keys), ['__proto__', 'a_b', 'aB', 'auth', 'constructor', 'supabase']);
    const text = readFileSync(join(dir, 'edge.sdk.ts'), 'utf8');
    assert.match(text, /\/\/ `a_b`: no short type names/);
  });

  it('refuses every typo of a column name, naming it', async () => {
    const { code, output } = await tsc([...STRICT, '--noEmit', join(dir, 'typos.ts')]);
    assert.notEqual(code, 0, 'the typos compiled');
    const errors = output.split('\n').filter((l) => l.includes('typos.ts('));
    // One error per typo: a select result read, a supabase-js insert, an SDK create,
    // an SDK filter, an SDK result read.
    const lines = errors.map((l) => Number(/typos\.ts\((\d+),/.exec(l)?.[1]));
    assert.deepEqual(lines, [8, 11, 15, 16, 18], output);
    for (const e of errors) assert.match(e, /'nmae'/, e);
    assert.match(output, /Property 'nmae' does not exist/);
    assert.match(output, /Object literal may only specify known properties, and 'nmae' does not exist/);
  });
});
