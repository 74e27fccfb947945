// Shared by the SDK tests: the `easbase` CLI, tsc, and paths.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const run = promisify(execFile);

/** sdk/js */
export const PKG = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The repository's root. */
export const ROOT = resolve(PKG, '../..');
/** The e-commerce fixture of easbase-codegen's snapshot tests. */
export const SHOP = join(ROOT, 'easbase-codegen/tests/fixtures/shop.json');
/** The schema examples/axum-server serves by default. */
export const SERVER_SCHEMA = join(ROOT, 'examples/axum-server/schema.json');

/** The `easbase` binary: EASBASE_CLI_BIN, else the cargo target directory's debug build. */
export function easbaseBin() {
  const candidates = [
    process.env.EASBASE_CLI_BIN,
    process.env.CARGO_TARGET_DIR && join(resolve(ROOT, process.env.CARGO_TARGET_DIR), 'debug/easbase'),
    join(ROOT, 'target/debug/easbase'),
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `no easbase binary (looked at ${candidates.join(', ')}): run \`cargo build -p easbase-cli\` ` +
        'or set EASBASE_CLI_BIN (scripts/test does both)',
    );
  }
  return found;
}

/** Runs `easbase ...args`; resolves to { code, stdout, stderr } whatever the exit code. */
export async function easbase(args) {
  try {
    const { stdout, stderr } = await run(easbaseBin(), args, { maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    if (typeof e.code !== 'number') throw e;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** `easbase gen <kind> --out <out> <schema>`, failing the test on a non-zero exit. */
export async function gen(kind, schema, out, extra = []) {
  const res = await easbase(['gen', kind, ...extra, '--out', out, schema]);
  if (res.code !== 0) throw new Error(`easbase gen ${kind} ${schema} exited ${res.code}: ${res.stderr}`);
  return out;
}

/** Runs this package's pinned tsc; resolves to { code, output }. */
export async function tsc(args) {
  const bin = join(PKG, 'node_modules/typescript/bin/tsc');
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: PKG, maxBuffer: 16 << 20 });
    return { code: 0, output: stdout + stderr };
  } catch (e) {
    if (typeof e.code !== 'number') throw e;
    return { code: e.code, output: `${e.stdout}${e.stderr}` };
  }
}

/**
 * A fresh directory under test/.generated (inside the package, so `@easbase/sdk` resolves
 * to this package by its own name), removed by the returned cleanup.
 */
export function scratch(name) {
  const dir = join(PKG, 'test/.generated', `${name}-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The compiler options every test compile uses: as strict as it gets. */
export const STRICT = [
  '--strict',
  '--noUncheckedIndexedAccess',
  '--exactOptionalPropertyTypes',
  '--noImplicitOverride',
  '--target', 'ES2022',
  '--module', 'NodeNext',
  '--moduleResolution', 'NodeNext',
  '--lib', 'ES2022,DOM',
  '--skipLibCheck',
];

/** A JSON Schema 2020-12 validator for the document's schemas, with OpenAPI's number formats. */
export function schemaValidator(doc) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  const int = (bits) => (n) => Number.isInteger(n) && Math.abs(n) <= 2 ** (bits - 1);
  ajv.addFormat('int32', { type: 'number', validate: int(32) });
  ajv.addFormat('int64', { type: 'number', validate: int(64) });
  ajv.addFormat('float', { type: 'number', validate: () => true });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  // The table schemas hold no $ref, so each is compiled on its own, under its name.
  for (const [name, schema] of Object.entries(doc.components.schemas)) ajv.addSchema(schema, name);
  return (name, value) => {
    const validate = ajv.getSchema(name);
    if (!validate) throw new Error(`no schema ${name} in the document`);
    return validate(value) ? null : validate.errors;
  };
}

