// supabase-js's auth client against examples/axum-server with emails captured
// (`--mail-dir`) and confirmation required (`--confirm-email`): sign-up confirmed by the
// emailed code and link, sign-in, refresh, get/update user, sign-out, magic link and
// email OTP, the PKCE flow, recovery, reauthentication (`reauthenticate()` + `nonce`), and
// the admin API with the secret key.
//
// Runs on every backend of `backends()` (SQLite and PostgreSQL).
//
//   EASBASE_EXAMPLE_BIN=$CARGO_TARGET_DIR/debug/example-axum-server \
//     node --experimental-websocket --test tests/js/auth.test.mjs
//   (EASBASE_JS_BACKENDS=sqlite or postgres for one of them)
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  describe(`supabase-js auth against example-axum-server, emails captured (${backend})`, () => suite(backend));
}

function suite(backend) {
  // Each backend's server writes its messages (numbered from 1) in a folder of its own.
  const mailDir = mkdtempSync(join(tmpdir(), `easbase-mail-${backend}-`));
  let server;

  /** A client with the publishable key; `flowType` implicit (default) or pkce. */
  function client({ flowType = 'implicit' } = {}) {
    const memory = new Map();
    const storage = {
      getItem: (k) => memory.get(k) ?? null,
      setItem: (k, v) => void memory.set(k, v),
      removeItem: (k) => void memory.delete(k),
    };
    return createClient(server.url, server.publishable_key, {
      auth: { persistSession: true, storage, autoRefreshToken: false, detectSessionInUrl: false, flowType },
    });
  }

  /** Waits for the next message file of `kind` (`email` or `sms`) to `to`, newer than those seen. */
  const seen = new Set();
  async function nextMessage(kind, to, { timeoutMs = 5_000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const name of readdirSync(mailDir).sort()) {
        if (seen.has(name) || !name.endsWith(`-${kind}.json`)) continue;
        const message = JSON.parse(readFileSync(join(mailDir, name), 'utf8'));
        if (message.to === to) {
          seen.add(name);
          return message;
        }
      }
      if (Date.now() > deadline) assert.fail(`no ${kind} to ${to} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const nextMail = (to) => nextMessage('email', to);
  const nextSms = (to) => nextMessage('sms', to);

  const codeOf = (mail) => /code: (\d{6})/.exec(mail.text)[1];
  const linkOf = (mail) => /(http:\/\/\S+\/auth\/v1\/verify\?\S+)/.exec(mail.text)[1];

  /** Opens an emailed link as a browser does: the page (which must not spend the token), then its form. */
  async function openLink(link) {
    const page = await fetch(link);
    assert.equal(page.status, 200);
    const html = await page.text();
    const form = new URLSearchParams();
    for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      form.set(name, value.replaceAll('&amp;', '&'));
    }
    const res = await fetch(`${server.url}/auth/v1/verify`, { method: 'POST', body: form, redirect: 'manual' });
    assert.equal(res.status, 303);
    return res.headers.get('location');
  }

  const ada = { email: `ada-${run}@example.com` };

  before(async () => {
    server = await startServer({ backend, args: ['--mail-dir', mailDir, '--confirm-email'] });
  });

  after(async () => {
    await server?.stop();
    rmSync(mailDir, { recursive: true, force: true });
  });

  it('signs up, then confirms with the emailed code', async () => {
    ada.client = client();
    const data = ok(await ada.client.auth.signUp({ email: ada.email, password: PASSWORD, options: { data: { name: 'Ada' } } }));
    assert.equal(data.session, null, 'no session before confirmation');
    assert.equal(data.user.email, ada.email);
    const mail = await nextMail(ada.email);
    assert.equal(mail.kind, 'signup');
    assert.equal(mail.subject, 'Confirm Your Email');
    // A scanner that fetches the link does not spend the token: the code still works after.
    const page = await fetch(linkOf(mail));
    assert.equal(page.status, 200);
    const { error: refused } = await ada.client.auth.signInWithPassword({ email: ada.email, password: PASSWORD });
    assert.equal(refused?.code, 'email_not_confirmed');
    const verified = ok(await ada.client.auth.verifyOtp({ email: ada.email, token: codeOf(mail), type: 'signup' }));
    assert.ok(verified.session.access_token);
    assert.ok(verified.user.email_confirmed_at);
    // The code works once.
    const { error } = await client().auth.verifyOtp({ email: ada.email, token: codeOf(mail), type: 'signup' });
    assert.equal(error?.code, 'otp_expired');
  });

  it('signs in, refreshes, reads and updates the user, signs out', async () => {
    const c = client();
    const { session } = ok(await c.auth.signInWithPassword({ email: ada.email, password: PASSWORD }));
    const refreshed = ok(await c.auth.refreshSession());
    assert.notEqual(refreshed.session.refresh_token, session.refresh_token);
    const { user } = ok(await c.auth.getUser());
    assert.equal(user.user_metadata.name, 'Ada');
    const updated = ok(await c.auth.updateUser({ data: { plan: 'pro' } }));
    assert.deepEqual(updated.user.user_metadata, { name: 'Ada', plan: 'pro' });
    ok(await c.auth.signOut());
    const { error } = await client().auth.refreshSession({ refresh_token: refreshed.session.refresh_token });
    assert.ok(error, 'the signed-out session cannot be refreshed');
  });

  it('signs in with a magic link code (email OTP)', async () => {
    const c = client();
    ok(await c.auth.signInWithOtp({ email: ada.email, options: { shouldCreateUser: false } }));
    const mail = await nextMail(ada.email);
    assert.equal(mail.kind, 'magiclink');
    const { session } = ok(await c.auth.verifyOtp({ email: ada.email, token: codeOf(mail), type: 'email' }));
    assert.equal(session.user.email, ada.email);
    // An unknown address gets the same answer, and no email.
    ok(await c.auth.signInWithOtp({ email: `nobody-${run}@example.com`, options: { shouldCreateUser: false } }));
  });

  it('creates a user by magic link and signs in through the PKCE flow', async () => {
    const email = `pkce-${run}@example.com`;
    const c = client({ flowType: 'pkce' });
    ok(await c.auth.signInWithOtp({ email, options: { emailRedirectTo: 'http://localhost:3000/cb' } }));
    const location = await openLink(linkOf(await nextMail(email)));
    const code = new URL(location).searchParams.get('code');
    assert.ok(location.startsWith('http://localhost:3000/cb?code='), location);
    const { session } = ok(await c.auth.exchangeCodeForSession(code));
    assert.equal(session.user.email, email);
    assert.ok(session.user.email_confirmed_at);
    const { error } = await c.auth.exchangeCodeForSession(code);
    assert.ok(error, 'an auth code works once');
  });

  it('recovers a password by the emailed link (implicit flow)', async () => {
    const c = client();
    ok(await c.auth.resetPasswordForEmail(ada.email));
    const location = await openLink(linkOf(await nextMail(ada.email)));
    const fragment = new URLSearchParams(new URL(location).hash.slice(1));
    assert.equal(fragment.get('type'), 'recovery');
    ok(await c.auth.setSession({ access_token: fragment.get('access_token'), refresh_token: fragment.get('refresh_token') }));
    ok(await c.auth.updateUser({ password: 'a brand new password' }));
    ok(await client().auth.signInWithPassword({ email: ada.email, password: 'a brand new password' }));
  });

  it('signs in by phone with an SMS code', async () => {
    const phone = `+1555${String(process.pid % 10_000_000).padStart(7, '0')}`;
    const c = client();
    ok(await c.auth.signInWithOtp({ phone }));
    const sms = await nextSms(phone);
    const code = /(\d{6})/.exec(sms.body)[1];
    const { error } = await c.auth.verifyOtp({ phone, token: code === '000000' ? '111111' : '000000', type: 'sms' });
    assert.equal(error?.code, 'otp_expired', 'a wrong code is refused');
    const { session } = ok(await c.auth.verifyOtp({ phone, token: code, type: 'sms' }));
    assert.equal(session.user.phone, phone.slice(1));
    assert.ok(session.user.phone_confirmed_at);
  });

  it('reauthenticates with an emailed code and sends it as the nonce of a password change', async () => {
    const email = `reauth-${run}@example.com`;
    const c = client();
    ok(await c.auth.signUp({ email, password: PASSWORD }));
    ok(await c.auth.verifyOtp({ email, token: codeOf(await nextMail(email)), type: 'signup' }));
    ok(await c.auth.reauthenticate());
    const mail = await nextMail(email);
    assert.equal(mail.kind, 'reauthentication');
    assert.equal(mail.subject, 'Confirm reauthentication');
    const nonce = codeOf(mail);
    // The code is not a sign-in code.
    const { error: notSignIn } = await client().auth.verifyOtp({ email, token: nonce, type: 'email' });
    assert.equal(notSignIn?.code, 'otp_expired');
    ok(await c.auth.updateUser({ password: 'changed after reauthentication', nonce }));
    ok(await client().auth.signInWithPassword({ email, password: 'changed after reauthentication' }));
    // Without a session, reauthenticate is refused.
    const { error } = await client().auth.reauthenticate();
    assert.ok(error, 'needs a signed-in user');
  });

  it('administers users with the secret key, and only with it', async () => {
    const admin = createClient(server.url, server.secret_key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    }).auth.admin;
    const email = `admin-made-${run}@example.com`;
    const { user } = ok(await admin.createUser({ email, password: PASSWORD, email_confirm: true, user_metadata: { by: 'admin' } }));
    assert.ok(user.email_confirmed_at);
    ok(await client().auth.signInWithPassword({ email, password: PASSWORD }));

    const page = ok(await admin.listUsers({ page: 1, perPage: 2 }));
    assert.equal(page.users.length, 2);
    assert.ok(page.total >= 3, JSON.stringify(page));
    assert.equal(page.nextPage, 2);
    assert.equal(ok(await admin.getUserById(user.id)).user.email, email);
    const updated = ok(await admin.updateUserById(user.id, { user_metadata: { by: 'admin', again: true } }));
    assert.equal(updated.user.user_metadata.again, true);
    const link = ok(await admin.generateLink({ type: 'magiclink', email }));
    assert.equal(link.properties.verification_type, 'magiclink');
    ok(await client().auth.verifyOtp({ token_hash: link.properties.hashed_token, type: 'magiclink' }));
    const invited = `invited-${run}@example.com`;
    ok(await admin.inviteUserByEmail(invited, { data: { team: 'blue' } }));
    const invitation = await nextMail(invited);
    assert.equal(invitation.kind, 'invite');
    const accepted = ok(await client().auth.verifyOtp({ email: invited, token: codeOf(invitation), type: 'invite' }));
    assert.equal(accepted.user.user_metadata.team, 'blue');
    ok(await admin.deleteUser(user.id));
    const { error: gone } = await admin.getUserById(user.id);
    assert.equal(gone?.status, 404);

    const anon = client().auth.admin;
    const { error } = await anon.listUsers();
    assert.ok(error && [401, 403].includes(error.status), JSON.stringify(error));
  });
}
