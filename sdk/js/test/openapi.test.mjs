// `easbase gen openapi` output checked by a real OpenAPI 3.1 validator
// (@seriousme/openapi-schema-validator), every $ref resolved, and broken documents refused.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { SERVER_SCHEMA, SHOP, gen, scratch } from './helpers.mjs';

/** Every `$ref` in `doc`, resolved as a JSON pointer into `doc`; the ones that do not resolve. */
function danglingRefs(doc) {
  const dangling = [];
  const walk = (v) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v)) {
      if (k === '$ref' && typeof child === 'string') {
        const parts = child.replace(/^#\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
        let target = doc;
        for (const p of parts) target = target?.[p];
        if (target === undefined) dangling.push(child);
      } else {
        walk(child);
      }
    }
  };
  walk(doc);
  return dangling;
}

async function validate(doc) {
  const validator = new Validator();
  const res = await validator.validate(structuredClone(doc));
  return { ...res, version: validator.version };
}

describe('OpenAPI 3.1 document', () => {
  let dir;
  let cleanup;
  const docs = {};

  before(async () => {
    ({ dir, cleanup } = scratch('openapi'));
    for (const [name, schema] of [['shop', SHOP], ['server', SERVER_SCHEMA]]) {
      const out = await gen('openapi', schema, join(dir, `${name}.json`), [
        '--title', `${name} API`, '--api-version', '2.0.0', '--server-url', 'http://127.0.0.1:8080/rest/v1',
      ]);
      docs[name] = JSON.parse(readFileSync(out, 'utf8'));
    }
  });

  after(() => cleanup?.());

  for (const name of ['shop', 'server']) {
    it(`is a valid OpenAPI 3.1 document (${name})`, async () => {
      const res = await validate(docs[name]);
      assert.equal(res.valid, true, JSON.stringify(res.errors, null, 2));
      assert.equal(res.version, '3.1');
      assert.deepEqual(danglingRefs(docs[name]), []);
      assert.equal(docs[name].info.title, `${name} API`);
      assert.equal(docs[name].servers[0].url, 'http://127.0.0.1:8080/rest/v1');
    });
  }

  it('describes the tables of the fixture', () => {
    const doc = docs.shop;
    assert.deepEqual(Object.keys(doc.paths).sort(), [
      '/customers', '/customers/{id}', '/invoices', '/invoices/{order_id}', '/order_items',
      '/orders', '/orders/{id}', '/products', '/products/{id}',
    ]);
    assert.deepEqual(doc.components.schemas['products.insert'].required, ['sku', 'name']);
    assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
  });

  it('refuses documents that are broken (the validator is real)', async () => {
    const noTitle = structuredClone(docs.shop);
    delete noTitle.info.title;
    assert.equal((await validate(noTitle)).valid, false);
    const optionalPathParam = structuredClone(docs.shop);
    optionalPathParam.paths['/products/{id}'].parameters[0].required = false;
    assert.equal((await validate(optionalPathParam)).valid, false);
    const badResponse = structuredClone(docs.shop);
    badResponse.paths['/products'].get.responses['200'] = { content: {} };
    assert.equal((await validate(badResponse)).valid, false);
    const dangling = structuredClone(docs.shop);
    dangling.paths['/products'].get.parameters.push({ $ref: '#/components/parameters/nope' });
    assert.deepEqual(danglingRefs(dangling), ['#/components/parameters/nope']);
  });
});
