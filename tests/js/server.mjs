// Starts examples/axum-server (the binary named by EASBASE_EXAMPLE_BIN) and reads the JSON
// line it prints when ready: { url, publishable_key, secret_key, jwt_secret, project_id }.
//
// Backends: `sqlite` (the server's in-memory SQLite database) or `postgres` (the database at
// EASBASE_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres, with `--throwaway`:
// the platform tables in a new schema `easbase_js_<random>`, which the server drops with the
// project's schema and roles when `stop()` sends it SIGTERM). The suites run once per backend
// of `backends()`: EASBASE_JS_BACKENDS (comma-separated), default `sqlite,postgres`.
// `mysql` (MariaDB/MySQL at EASBASE_MYSQL_URL, default mysql://root@127.0.0.1:3306; a
// throw-away database per server) is there on request only: it needs a server built with
// `--features mysql`, and easbase-auth's one-time tokens fail on it today (a known bug).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** The PostgreSQL server the `postgres` backend uses. */
export const PG_URL = process.env.EASBASE_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
/** The MariaDB / MySQL server the `mysql` backend uses. */
export const MYSQL_URL = process.env.EASBASE_MYSQL_URL || 'mysql://root@127.0.0.1:3306';

const BACKENDS = ['sqlite', 'postgres', 'mysql'];
// The backends on a database server: [engine, URL, the variable naming it].
const SERVERS = {
  postgres: ['PostgreSQL', PG_URL, 'EASBASE_PG_URL'],
  mysql: ['MariaDB/MySQL', MYSQL_URL, 'EASBASE_MYSQL_URL'],
};
const DEFAULT_BACKENDS = ['sqlite', 'postgres'];

/** A URL with its password hidden, for messages. */
function redacted(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/** The backends to run the suites on: EASBASE_JS_BACKENDS (`sqlite,postgres` by default). */
export function backends() {
  const raw = process.env.EASBASE_JS_BACKENDS;
  const list = (raw ?? DEFAULT_BACKENDS.join(','))
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  const unknown = list.filter((b) => !BACKENDS.includes(b));
  if (unknown.length > 0 || list.length === 0) {
    throw new Error(`EASBASE_JS_BACKENDS=${raw}: name one or more of ${BACKENDS.join(', ')}`);
  }
  return list;
}

// `binEnv` names the variable holding the binary (EASBASE_ACTIX_BIN for examples/actix-server,
// which serves SQLite only).
export async function startServer({
  timeoutMs = 60_000,
  args = [],
  binEnv = 'EASBASE_EXAMPLE_BIN',
  backend = 'sqlite',
} = {}) {
  const bin = process.env[binEnv];
  if (!bin) {
    throw new Error(
      `${binEnv} is not set: build the server (\`cargo build -p example-axum-server\`, ` +
        '`-p example-actix-server` for EASBASE_ACTIX_BIN) and point it at the binary (scripts/test does both)',
    );
  }
  if (!BACKENDS.includes(backend)) throw new Error(`unknown backend \`${backend}\`: ${BACKENDS.join(' or ')}`);
  // The server reads its database from DATABASE_URL: never one left in the environment.
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const serverArgs = ['--listen', '127.0.0.1:0', ...args];
  if (SERVERS[backend]) {
    env.DATABASE_URL = SERVERS[backend][1];
    serverArgs.push('--throwaway');
  }
  const child = spawn(bin, serverArgs, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  // Never leave the server behind, whatever happens to the tests.
  const killer = () => child.kill('SIGKILL');
  process.once('exit', killer);

  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${bin} printed no JSON line within ${timeoutMs} ms`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line));
      } catch (e) {
        reject(new Error(`the server's first line is not JSON: ${line} (${e.message})`));
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin}: ${e.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const [engine, url, variable] = SERVERS[backend] ?? [];
      const hint = engine
        ? `: is ${engine} running at ${redacted(url)}? (${variable} names another; the server's error is above)`
        : " (the server's error is above)";
      reject(new Error(`${bin} exited (code ${code}, signal ${signal}) before it was ready${hint}`));
    });
  }).catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
  for (const key of ['url', 'publishable_key', 'secret_key', 'jwt_secret']) {
    if (typeof info[key] !== 'string' || info[key] === '') {
      child.kill('SIGKILL');
      throw new Error(`the server's JSON line lacks \`${key}\`: ${JSON.stringify(info)}`);
    }
  }

  /** Stops the server with SIGTERM; fails unless it exits 0 (on PostgreSQL: cleaned up). */
  async function stop() {
    process.removeListener('exit', killer);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const { code, signal } = await exited;
    clearTimeout(timer);
    if (code !== 0) {
      throw new Error(`${bin} (${backend}) did not stop cleanly after SIGTERM: code ${code}, signal ${signal}`);
    }
  }
  return { ...info, backend, child, stop };
}
