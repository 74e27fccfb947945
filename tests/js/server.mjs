// Starts examples/axum-server (the binary named by EASBASE_EXAMPLE_BIN) and reads the JSON
// line it prints when ready: { url, publishable_key, secret_key, jwt_secret }.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

// `binEnv` names the variable holding the binary (EASBASE_ACTIX_BIN for examples/actix-server).
export async function startServer({ timeoutMs = 60_000, args = [], binEnv = 'EASBASE_EXAMPLE_BIN' } = {}) {
  const bin = process.env[binEnv];
  if (!bin) {
    throw new Error(
      `${binEnv} is not set: build the server (\`cargo build -p example-axum-server\`, ` +
        '`-p example-actix-server` for EASBASE_ACTIX_BIN) and point it at the binary (scripts/test does both)',
    );
  }
  const child = spawn(bin, ['--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
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
      reject(new Error(`${bin} exited (code ${code}, signal ${signal}) before it was ready`));
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

  async function stop() {
    process.removeListener('exit', killer);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  return { ...info, child, stop };
}
