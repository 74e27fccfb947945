// The real @supabase/supabase-js against examples/axum-server: TOTP MFA (enroll,
// challenge, verify with a code computed here per RFC 6238, assurance levels, unenroll)
// and OAuth sign-in (implicit and PKCE flows, linkIdentity) with a fake OpenID Connect
// provider this test starts on 127.0.0.1.
//
// Runs on every backend of `backends()` (SQLite and PostgreSQL).
//
//   EASBASE_EXAMPLE_BIN=target/debug/example-axum-server node --experimental-websocket --test tests/js/mfa-oauth.test.mjs
//   (EASBASE_JS_BACKENDS=sqlite or postgres for one of them)
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { backends, startServer } from './server.mjs';

const PASSWORD = 'correct horse battery';
const run = `${Date.now()}-${process.pid}`;

function ok({ data, error }) {
  if (error) assert.fail(`unexpected error: ${JSON.stringify(error)}`);
  return data;
}

// ---- RFC 6238 (SHA-1, 6 digits, 30 s) -------------------------------------------------

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/=+$/, '')) {
    const i = alphabet.indexOf(c);
    assert.ok(i >= 0, `not base32: ${c}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totp(secret, offsetSteps = 0) {
  const counter = Math.floor(Date.now() / 1000 / 30) + offsetSteps;
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', base32Decode(secret)).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

// ---- a fake OpenID Connect provider ----------------------------------------------------

function startProvider() {
  const codes = new Map();
  const tokens = new Map();
  const state = { profile: null };
  const http = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://provider');
    const json = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && url.pathname === '/authorize') {
      const p = url.searchParams;
      assert.equal(p.get('client_id'), 'example-client');
      assert.equal(p.get('code_challenge_method'), 'S256');
      const code = `code-${codes.size + 1}`;
      codes.set(code, { challenge: p.get('code_challenge'), redirect: p.get('redirect_uri'), profile: state.profile });
      const back = new URL(p.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', p.get('state'));
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const f = new URLSearchParams(body);
      const issued = codes.get(f.get('code'));
      codes.delete(f.get('code'));
      const challenge = createHash('sha256').update(f.get('code_verifier') ?? '').digest('base64url');
      if (f.get('client_secret') !== 'example-secret' || !issued || issued.challenge !== challenge) {
        return json(400, { error: 'invalid_grant' });
      }
      const token = `at-${tokens.size + 1}`;
      tokens.set(token, issued.profile);
      return json(200, { access_token: token, token_type: 'bearer' });
    }
    if (req.method === 'GET' && url.pathname === '/userinfo') {
      const profile = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      return profile ? json(200, profile) : json(401, { error: 'invalid_token' });
    }
    json(404, {});
  });
  return new Promise((resolve) => {
    http.listen(0, '127.0.0.1', () => {
      resolve({ base: `http://127.0.0.1:${http.address().port}`, state, close: () => http.close() });
    });
  });
}

/** Follows redirects by hand (the last hop is the app, which does not exist). */
async function follow(url, appPrefix) {
  for (let hops = 0; hops < 5; hops++) {
    if (url.startsWith(appPrefix)) return url;
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302, `${url} answered ${res.status}: ${await res.text()}`);
    url = new URL(res.headers.get('location'), url).toString();
  }
  assert.fail('too many redirects');
}

for (const backend of backends()) {
  describe(`supabase-js MFA and OAuth against example-axum-server (${backend})`, () => mfaAndOAuth(backend));
  describe(`supabase-js with ES256 access tokens, JWKS (${backend})`, () => es256(backend));
}

function mfaAndOAuth(backend) {
  let server;
  let provider;
  const client = (flowType = 'implicit') =>
    createClient(server.url, server.publishable_key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, flowType },
    });

  before(async () => {
    provider = await startProvider();
    server = await startServer({ backend, args: ['--oauth-oidc', `keycloak=${provider.base}`] });
  });

  after(async () => {
    await server?.stop();
    provider?.close();
  });

  const user = { email: `mfa-${run}@example.com` };

  it('enrolls a TOTP factor, verifies a code, and reaches aal2', async () => {
    user.client = client();
    ok(await user.client.auth.signUp({ email: user.email, password: PASSWORD }));
    let aal = ok(await user.client.auth.mfa.getAuthenticatorAssuranceLevel());
    assert.deepEqual([aal.currentLevel, aal.nextLevel], ['aal1', 'aal1']);

    const factor = ok(await user.client.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'phone' }));
    assert.equal(factor.type, 'totp');
    assert.equal(factor.friendly_name, 'phone');
    assert.ok(factor.totp.qr_code.startsWith('data:image/svg+xml;utf-8,<svg'), factor.totp.qr_code.slice(0, 40));
    assert.match(factor.totp.uri, /^otpauth:\/\/totp\/localhost%3A3000:/);
    assert.match(factor.totp.secret, /^[A-Z2-7]{32}$/);
    user.factor = factor;

    const factors = ok(await user.client.auth.mfa.listFactors());
    assert.equal(factors.all.length, 1);
    assert.equal(factors.totp.length, 0, 'unverified factors are not listed as usable');

    const challenge = ok(await user.client.auth.mfa.challenge({ factorId: factor.id }));
    assert.ok(challenge.expires_at > Date.now() / 1000);
    const wrong = await user.client.auth.mfa.verify({
      factorId: factor.id,
      challengeId: challenge.id,
      code: totp(factor.totp.secret) === '000000' ? '111111' : '000000',
    });
    assert.equal(wrong.error?.code, 'mfa_verification_failed');

    user.code = totp(factor.totp.secret);
    const verified = ok(
      await user.client.auth.mfa.verify({ factorId: factor.id, challengeId: challenge.id, code: user.code }),
    );
    assert.ok(verified.access_token);
    aal = ok(await user.client.auth.mfa.getAuthenticatorAssuranceLevel());
    assert.deepEqual([aal.currentLevel, aal.nextLevel], ['aal2', 'aal2']);
    assert.deepEqual(
      aal.currentAuthenticationMethods.map((m) => m.method),
      ['password', 'totp'],
    );
    const listed = ok(await user.client.auth.mfa.listFactors());
    assert.equal(listed.totp.length, 1);
    assert.equal(listed.totp[0].status, 'verified');
  });

  it('refuses a replayed code and unenrolling at aal1', async () => {
    const other = client();
    ok(await other.auth.signInWithPassword({ email: user.email, password: PASSWORD }));
    const aal = ok(await other.auth.mfa.getAuthenticatorAssuranceLevel());
    assert.deepEqual([aal.currentLevel, aal.nextLevel], ['aal1', 'aal2']);
    const challenge = ok(await other.auth.mfa.challenge({ factorId: user.factor.id }));
    const replay = await other.auth.mfa.verify({ factorId: user.factor.id, challengeId: challenge.id, code: user.code });
    assert.equal(replay.error?.code, 'mfa_verification_failed');
    const unenroll = await other.auth.mfa.unenroll({ factorId: user.factor.id });
    assert.equal(unenroll.error?.code, 'insufficient_aal');
    // From the aal2 session it works.
    assert.equal(ok(await user.client.auth.mfa.unenroll({ factorId: user.factor.id })).id, user.factor.id);
  });

  it('signs in with the OAuth provider (implicit flow)', async () => {
    provider.state.profile = { sub: 'kc-1', email: `oauth-${run}@example.com`, email_verified: true, name: 'Ola' };
    const c = client();
    const data = ok(
      await c.auth.signInWithOAuth({
        provider: 'keycloak',
        options: { redirectTo: 'http://localhost:3000/welcome', skipBrowserRedirect: true },
      }),
    );
    assert.ok(data.url.startsWith(`${server.url}/auth/v1/authorize?provider=keycloak`), data.url);
    const landed = await follow(data.url, 'http://localhost:3000/welcome');
    const fragment = new URLSearchParams(new URL(landed).hash.slice(1));
    assert.equal(fragment.get('token_type'), 'bearer');
    assert.equal(fragment.get('provider_token'), 'at-1');
    ok(
      await c.auth.setSession({
        access_token: fragment.get('access_token'),
        refresh_token: fragment.get('refresh_token'),
      }),
    );
    const { user: me } = ok(await c.auth.getUser());
    assert.equal(me.email, `oauth-${run}@example.com`);
    assert.equal(me.app_metadata.provider, 'keycloak');
    assert.equal(me.identities[0].provider, 'keycloak');
    assert.equal(me.user_metadata.name, 'Ola');
  });

  it('signs in with the OAuth provider (PKCE flow)', async () => {
    provider.state.profile = { sub: 'kc-2', email: `pkce-${run}@example.com`, email_verified: true };
    const c = client('pkce');
    const data = ok(
      await c.auth.signInWithOAuth({
        provider: 'keycloak',
        options: { redirectTo: 'http://localhost:3000/done', skipBrowserRedirect: true },
      }),
    );
    assert.match(data.url, /code_challenge=/);
    const landed = await follow(data.url, 'http://localhost:3000/done');
    const code = new URL(landed).searchParams.get('code');
    assert.ok(code, landed);
    const session = ok(await c.auth.exchangeCodeForSession(code));
    assert.equal(session.user.email, `pkce-${run}@example.com`);
    const again = await c.auth.exchangeCodeForSession(code);
    assert.ok(again.error, 'an auth code works once');
  });

  it('links the provider account to an anonymous user (linkIdentity)', async () => {
    provider.state.profile = { sub: 'kc-3', email: `linked-${run}@example.com`, email_verified: true };
    const c = client();
    const anon = ok(await c.auth.signInAnonymously());
    assert.equal(anon.user.is_anonymous, true);
    const data = ok(
      await c.auth.linkIdentity({
        provider: 'keycloak',
        options: { redirectTo: 'http://localhost:3000/linked', skipBrowserRedirect: true },
      }),
    );
    const landed = await follow(data.url, 'http://localhost:3000/linked');
    const fragment = new URLSearchParams(new URL(landed).hash.slice(1));
    ok(
      await c.auth.setSession({
        access_token: fragment.get('access_token'),
        refresh_token: fragment.get('refresh_token'),
      }),
    );
    const { user: me } = ok(await c.auth.getUser());
    assert.equal(me.id, anon.user.id, 'the same user');
    assert.equal(me.is_anonymous, false);
    assert.equal(me.email, `linked-${run}@example.com`);
    const identities = ok(await c.auth.getUserIdentities());
    assert.deepEqual(identities.identities.map((i) => i.provider), ['keycloak']);
  });

  it('refuses a replayed OAuth state and an unknown provider', async () => {
    const c = client();
    const data = ok(
      await c.auth.signInWithOAuth({ provider: 'keycloak', options: { skipBrowserRedirect: true } }),
    );
    const toProvider = (await fetch(data.url, { redirect: 'manual' })).headers.get('location');
    const callback = (await fetch(toProvider, { redirect: 'manual' })).headers.get('location');
    assert.equal((await fetch(callback, { redirect: 'manual' })).status, 302);
    const replay = await fetch(callback, { redirect: 'manual' });
    assert.equal(replay.status, 400);
    assert.equal((await replay.json()).error_code, 'bad_oauth_state');
    const unknown = await fetch(`${server.url}/auth/v1/authorize?provider=nope`, { redirect: 'manual' });
    assert.equal(unknown.status, 400);
    assert.equal((await unknown.json()).error_code, 'provider_disabled');
  });
}

function es256(backend) {
  let es;
  before(async () => {
    es = await startServer({ backend, args: ['--signing-key', 'es256'] });
  });
  after(async () => {
    await es?.stop();
  });

  it('verifies the access token with the JWKS (getClaims) and refuses a forged one', async () => {
    const c = createClient(es.url, es.publishable_key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
    const session = ok(await c.auth.signUp({ email: `es-${run}@example.com`, password: PASSWORD })).session;
    const [rawHeader, rawPayload, signature] = session.access_token.split('.');
    const header = JSON.parse(Buffer.from(rawHeader, 'base64url').toString());
    assert.equal(header.alg, 'ES256');
    const jwks = await (await fetch(`${es.url}/auth/v1/.well-known/jwks.json?apikey=${es.publishable_key}`)).json();
    assert.deepEqual(jwks.keys.map((k) => k.kid), [header.kid]);
    assert.equal(jwks.keys[0].d, undefined, 'public parts only');

    const { claims } = ok(await c.auth.getClaims(session.access_token));
    assert.equal(claims.email, `es-${run}@example.com`);
    assert.equal(claims.aal, 'aal1');

    const payload = JSON.parse(Buffer.from(rawPayload, 'base64url').toString());
    payload.role = 'service_role';
    const forged = `${rawHeader}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
    const { error } = await c.auth.getClaims(forged);
    assert.ok(error, 'a changed payload fails the signature check');
    // The REST engine (easbase-core's verifier) accepts the real token and refuses the forged one.
    const rest = (token) =>
      fetch(`${es.url}/rest/v1/todos?select=*`, { headers: { apikey: es.publishable_key, authorization: `Bearer ${token}` } });
    assert.equal((await rest(session.access_token)).status, 200);
    assert.equal((await rest(forged)).status, 401);
  });
}
